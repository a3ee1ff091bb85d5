package awsapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// The Auth hook: with Config.RequireAuth every AWS API request must carry a valid SigV4 signature
// (Authorization header or presigned query) made with one of Config.Credentials, before it is routed.
// Failures are answered as each protocol's front end answers them.

// Allowed clock skew between X-Amz-Date and the server. The REST-JSON services behind AWS's front end
// answer "Signature expired: … (… - 5 min.)" (observed for Lambda, Amplify, EKS: aws/aws-cli#6833,
// boto/botocore#149; the IAM guide says "within five minutes", reference_aws-signing); STS answers
// "… - 15 min." (aws/aws-cli#6676). AWS IoT's own window is unverified: it is taken to be the front
// end's five minutes.
const (
	restMaxSkew = 5 * time.Minute
	stsMaxSkew  = 15 * time.Minute
)

// restAuthCodes are the REST-JSON front end's codes (iot, iot-data), all HTTP 403: a wrong secret is
// InvalidSignatureException for AWS IoT's control plane (aws/aws-sdk-js-v3#1569: IoTClient, 403), an
// unknown access key UnrecognizedClientException ("The security token included in the request is
// invalid", aws/amazon-freertos#841: ListThings), no signature MissingAuthenticationTokenException.
// iot-data's front end is taken to answer the same: observed there is only the 403 and the
// signature-mismatch message (aws/aws-sdk-net#964), not the code.
var restAuthCodes = map[wire.AuthFailure]string{
	wire.AuthMissing:    awserr.MissingAuthToken,
	wire.AuthIncomplete: awserr.IncompleteSignature,
	wire.AuthUnknownKey: awserr.UnrecognizedClient,
	wire.AuthMismatch:   awserr.InvalidSignature,
	wire.AuthExpired:    awserr.InvalidSignature,
}

// stsAuthErrors are STS's query-protocol codes and statuses (AWS: STS CommonErrors; a wrong secret and
// an expired signature are SignatureDoesNotMatch, aws/aws-cli#6676, aws/aws-sdk-js#1174).
var stsAuthErrors = map[wire.AuthFailure]struct {
	code   string
	status int
}{
	wire.AuthMissing:    {"MissingAuthenticationToken", http.StatusForbidden},
	wire.AuthIncomplete: {"IncompleteSignature", http.StatusBadRequest},
	wire.AuthUnknownKey: {"InvalidClientTokenId", http.StatusForbidden},
	wire.AuthMismatch:   {"SignatureDoesNotMatch", http.StatusForbidden},
	wire.AuthExpired:    {"SignatureDoesNotMatch", http.StatusForbidden},
}

// authenticate is the Auth hook. It reports whether the request may go on; when not, it has answered.
// body is the request body, already read.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte, isSTSCall bool, reqID string) bool {
	if !s.cfg.RequireAuth {
		return true
	}
	v := wire.Verifier{Secret: s.secret, Now: s.cfg.Now, MaxSkew: restMaxSkew}
	if isSTSCall {
		v.MaxSkew = stsMaxSkew
	}
	_, err := v.Verify(r, body)
	if err == nil {
		return true
	}
	var ae *wire.AuthError
	if !errors.As(err, &ae) {
		ae = &wire.AuthError{Failure: wire.AuthIncomplete, Message: err.Error()}
	}
	s.log.Debug("awsapi: request refused by SigV4 verification", "method", r.Method, "path", r.URL.Path, "err", err)
	if isSTSCall {
		e := stsAuthErrors[ae.Failure]
		msg := ae.Message
		if ae.Failure == wire.AuthMissing {
			msg = "Request is missing Authentication Token"
		}
		stsError(w, reqID, e.status, e.code, msg)
		return false
	}
	wire.WriteError(w, "iot", reqID, awserr.New(restAuthCodes[ae.Failure], "%s", ae.Message))
	return false
}

// secret looks an access key up in Config.Credentials.
func (s *Server) secret(accessKey string) (string, bool) {
	sec, ok := s.cfg.Credentials[accessKey]
	return sec, ok
}
