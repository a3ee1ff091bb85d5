package wire

import (
	"net/http"
	"strings"
)

// Scope is the credential scope of a SigV4-signed request: who signed, for which region and service.
type Scope struct {
	AccessKey, Date, Region, Service string
	SignedHeaders                    []string
	Signature                        string
}

// ParseScope reads the SigV4 Authorization header (or the presigned query form). ok is false for an
// unsigned or malformed request.
func ParseScope(r *http.Request) (s Scope, ok bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		cred := r.URL.Query().Get("X-Amz-Credential")
		if cred == "" {
			return Scope{}, false
		}
		s.SignedHeaders = strings.Split(r.URL.Query().Get("X-Amz-SignedHeaders"), ";")
		s.Signature = r.URL.Query().Get("X-Amz-Signature")
		return parseCredential(s, cred)
	}
	alg, rest, found := strings.Cut(auth, " ")
	if !found || alg != "AWS4-HMAC-SHA256" {
		return Scope{}, false
	}
	var cred string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	return parseCredential(s, cred)
}

func parseCredential(s Scope, cred string) (Scope, bool) {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return Scope{}, false
	}
	s.AccessKey, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return s, true
}
