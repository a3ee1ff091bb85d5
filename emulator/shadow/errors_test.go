package shadow

import (
	"net/http"
	"testing"
)

// TestErrorCatalogue pins each documented shadow error (AWS: device-shadow-error-messages) to its
// rejected document and its iot-data exception, the way the transports use them.
func TestErrorCatalogue(t *testing.T) {
	tests := []struct {
		code      int
		message   string
		token     string
		exception string
		want      string
	}{
		{400, MsgInvalidJSON, "", "InvalidRequestException", `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{401, MsgUnauthorized, "c", "UnauthorizedException", `{"code":401,"message":"Unauthorized","timestamp":1700000000,"clientToken":"c"}`},
		{403, MsgForbidden, "", "ForbiddenException", `{"code":403,"message":"Forbidden","timestamp":1700000000}`},
		{404, MsgThingNotFound, "", "ResourceNotFoundException", `{"code":404,"message":"Thing not found"}`},
		{405, "Method Not Allowed", "", "MethodNotAllowedException", `{"code":405,"message":"Method Not Allowed","timestamp":1700000000}`},
		{409, MsgVersionConflict, "c", "ConflictException", `{"code":409,"message":"Version conflict","clientToken":"c"}`},
		{413, MsgPayloadTooLarge, "", "RequestEntityTooLargeException", `{"code":413,"message":"The payload exceeds the maximum size allowed","timestamp":1700000000}`},
		{415, MsgUnsupportedEncoding, "", "UnsupportedDocumentEncodingException", `{"code":415,"message":"Unsupported documented encoding; supported encoding is UTF-8","timestamp":1700000000}`},
		{429, MsgThrottled, "c", "ThrottlingException", `{"code":429,"message":"Too Many Requests","timestamp":1700000000,"clientToken":"c"}`},
		{500, MsgInternal, "", "InternalFailureException", `{"code":500,"message":"Internal service failure","timestamp":1700000000}`},
		{503, "Service Unavailable", "", "ServiceUnavailableException", `{"code":503,"message":"Service Unavailable","timestamp":1700000000}`},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			e := NewError(tc.code, tc.message, tc.token, now)
			checkJSON(t, "JSON", e.JSON(), tc.want)
			if got := e.Exception(); got != tc.exception {
				t.Errorf("Exception: got %q, want %q", got, tc.exception)
			}
		})
	}
}

func TestErrorJSONEscapes(t *testing.T) {
	e := &Error{Code: 400, Message: `State contains an invalid node: 'a"b\c` + "\n\x01'", ClientToken: "<&>"}
	want := `{"code":400,"message":"State contains an invalid node: 'a\"b\\c\n\u0001'","clientToken":"<&>"}`
	if got := string(e.JSON()); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
