package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/iotlab/iotlab/emulator/awserr"
)

// MaxBody bounds a request body; the largest AWS IoT inputs (policies, CSRs, rule payloads) are far below it.
const MaxBody = 1 << 20

// Decode fills in (a pointer to a generated input shape) from the URI labels, the query string, the headers
// and the body, the way the route binds them. Malformed input becomes an AWS error, never a panic.
func Decode(rt *Route, labels map[string]string, query url.Values, h http.Header, body []byte, in any) error {
	obj := map[string]json.RawMessage{}
	switch {
	case rt.InPayload != "" && rt.InPayloadBlob:
		b, _ := json.Marshal(body) // base64, undone by Unmarshal into []byte
		obj[rt.InPayload] = b
	case rt.InPayload != "":
		if len(body) > 0 {
			if !json.Valid(body) {
				return awserr.New(awserr.InvalidRequest, "Request body is not valid JSON")
			}
			obj[rt.InPayload] = body
		}
	case len(body) > 0:
		if err := json.Unmarshal(body, &obj); err != nil {
			return awserr.New(awserr.InvalidRequest, "Request body is not a valid JSON object")
		}
	}
	for _, b := range rt.Bindings {
		var (
			texts []string
			ok    bool
		)
		switch b.Location {
		case LocUri:
			var v string
			v, ok = labels[b.Name]
			texts = []string{v}
		case LocQuerystring:
			texts, ok = query[b.Name]
		case LocHeader:
			texts, ok = h[http.CanonicalHeaderKey(b.Name)]
		}
		if !ok || len(texts) == 0 {
			continue
		}
		raw, err := textToJSON(b.Kind, texts)
		if err != nil {
			return awserr.New(awserr.InvalidRequest, "Invalid value for parameter %s: %v", b.Member, err)
		}
		obj[b.Member] = raw
	}
	full, err := json.Marshal(obj)
	if err != nil {
		return awserr.New(awserr.InvalidRequest, "Invalid request: %v", err)
	}
	if err := json.Unmarshal(full, in); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeErr(err, &te); ok {
			return awserr.New(awserr.InvalidRequest, "Invalid type for parameter %s", te.Field)
		}
		return awserr.New(awserr.InvalidRequest, "Invalid request: %v", err)
	}
	return nil
}

func asTypeErr(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

func textToJSON(k Kind, texts []string) (json.RawMessage, error) {
	t := texts[0]
	switch k {
	case KindInteger, KindLong:
		if _, err := strconv.ParseInt(t, 10, 64); err != nil {
			return nil, fmt.Errorf("%q is not an integer", t)
		}
		return json.RawMessage(t), nil
	case KindDouble, KindFloat, KindTimestamp:
		if _, err := strconv.ParseFloat(t, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", t)
		}
		return json.RawMessage(t), nil
	case KindBoolean:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", t)
		}
		return json.Marshal(b)
	case KindList:
		return json.Marshal(texts)
	default:
		return json.Marshal(t)
	}
}

// Encode writes a successful response: the output shape as JSON, or its payload member as the body.
func Encode(w http.ResponseWriter, rt *Route, out any) error {
	body := []byte(nil)
	ctype := "application/json"
	if out != nil {
		b, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("wire: encode %s: %w", rt.Op, err)
		}
		body = b
		if rt.OutPayload != "" {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				return fmt.Errorf("wire: encode %s: %w", rt.Op, err)
			}
			body = fields[rt.OutPayload]
			if rt.OutPayloadBlob && body != nil {
				var raw []byte
				if err := json.Unmarshal(body, &raw); err != nil {
					return fmt.Errorf("wire: encode %s payload: %w", rt.Op, err)
				}
				body = raw
			}
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rt.Status)
	_, err := w.Write(body)
	return err
}

// WriteError writes an AWS REST-JSON error: the code in x-amzn-ErrorType (which the SDKs read first)
// and {"message": …} in the body, with the HTTP status the service's model gives the code.
func WriteError(w http.ResponseWriter, service, requestID string, err error) {
	e := awserr.From(err)
	status := awserr.Status(service, e)
	fields := map[string]string{}
	for k, v := range e.Fields {
		fields[k] = v
	}
	fields["message"] = e.Message
	body, _ := json.Marshal(fields)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", e.Code)
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// EncodeBlob is a helper for handlers building payload outputs.
func EncodeBlob(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
