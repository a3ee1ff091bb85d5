package shadow

import (
	"strconv"
	"time"
)

// Messages of the Device Shadow service's error documents (AWS: device-shadow-error-messages), in
// the service's own words so that a learner can search for them.
const (
	MsgInvalidJSON         = "Invalid JSON"
	MsgMissingState        = "Missing required node: state"
	MsgStateNotObject      = "State node must be an object"
	MsgDesiredNotObject    = "Desired node must be an object"
	MsgReportedNotObject   = "Reported node must be an object"
	MsgInvalidVersion      = "Invalid version"
	MsgInvalidClientToken  = "Invalid clientToken"
	MsgTooDeep             = "JSON contains too many levels of nesting; maximum is 6"
	MsgInvalidNode         = "State contains an invalid node"
	MsgUnauthorized        = "Unauthorized"
	MsgForbidden           = "Forbidden"
	MsgThingNotFound       = "Thing not found"
	MsgVersionConflict     = "Version conflict"
	MsgPayloadTooLarge     = "The payload exceeds the maximum size allowed"
	MsgUnsupportedEncoding = "Unsupported documented encoding; supported encoding is UTF-8"
	MsgInternal            = "Internal service failure"
	// MsgThrottled is ours: AWS documents when it answers 429 (more than 10 requests in flight on
	// one connection) but not the words it uses.
	MsgThrottled = "Too Many Requests"
)

// Error is a rejected shadow request. Over MQTT it becomes the /rejected document (JSON); over HTTP
// its Code is the status and Exception the x-amzn-ErrorType.
type Error struct {
	// Code is the HTTP status the service uses for the error: 400, 401, 403, 404, 409, 413, 415,
	// 429 or 500.
	Code    int
	Message string
	// ClientToken is the request's token, echoed in the /rejected document; "" when the request
	// carried none or carried an invalid one.
	ClientToken string
	// Timestamp is when the error document was made, in epoch seconds; 0 leaves it out. AWS says
	// the member is "not present in all error response documents" (device-shadow-document.html):
	// rejections observed from the real service for 404 ("No shadow exists with name: 'x'") and 409
	// ("Version conflict") carry none, so NewError leaves it out for those two codes and sets it
	// for the others, as the documented format shows.
	Timestamp int64
}

// NewError makes the error document the service sends for code and message, at now, echoing
// clientToken (which may be ""). The transports use it for the errors they detect themselves
// (401, 403, 429, 500).
func NewError(code int, message, clientToken string, now time.Time) *Error {
	e := &Error{Code: code, Message: message, ClientToken: clientToken}
	if code != 404 && code != 409 {
		e.Timestamp = now.Unix()
	}
	return e
}

func (e *Error) Error() string { return "shadow: " + strconv.Itoa(e.Code) + " " + e.Message }

// Is matches errors by code (and by message when target has one), so
// errors.Is(err, &shadow.Error{Code: 409}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// JSON is the /rejected document: {"code","message","timestamp"?,"clientToken"?}
// (AWS: device-shadow-document.html#device-shadow-example-error-json).
func (e *Error) JSON() []byte {
	ts := any(omitted)
	if e.Timestamp != 0 {
		ts = e.Timestamp
	}
	tok := any(omitted)
	if e.ClientToken != "" {
		tok = e.ClientToken
	}
	return appendJSON(nil, members("code", e.Code, "message", e.Message, "timestamp", ts, "clientToken", tok))
}

// Exception is the iot-data error code the HTTP API returns for e (x-amzn-ErrorType), from the
// operations' error shapes in the iot-data service model; each maps back to e.Code as its status.
func (e *Error) Exception() string {
	switch e.Code {
	case 400:
		return "InvalidRequestException"
	case 401:
		return "UnauthorizedException"
	case 403:
		return "ForbiddenException"
	case 404:
		return "ResourceNotFoundException"
	case 405:
		return "MethodNotAllowedException"
	case 409:
		return "ConflictException"
	case 413:
		return "RequestEntityTooLargeException"
	case 415:
		return "UnsupportedDocumentEncodingException"
	case 429:
		return "ThrottlingException"
	case 503:
		return "ServiceUnavailableException"
	}
	return "InternalFailureException"
}

// notFound is the 404 for a shadow that doesn't exist. The name is quoted and a named shadow is
// written thing~shadow, as the real service answers (observed: "No shadow exists with name:
// 'blevk-prod-grootbot-thing~GrootShadow'"; AWS's tutorial shows only the shadow name, but that page
// is hand-written).
func notFound(id ID, clientToken string, now time.Time) *Error {
	return NewError(404, "No shadow exists with name: '"+id.String()+"'", clientToken, now)
}
