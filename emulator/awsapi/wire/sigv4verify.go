package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigV4 verification, written from AWS's description of the algorithm (IAM User Guide,
// "Create a signed AWS API request" — reference_sigv-create-signed-request — and "Authentication
// methods", reference_sigv-authentication-methods, for the presigned query form). The server rebuilds the
// canonical request from what arrived on the wire, derives the signing key from the secret it holds and
// compares signatures in constant time.

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the payload hash a client uses when it does not sign the body (presigned URLs,
// S3-style streaming). AWS: sigv4-create-canonical-request ("UNSIGNED-PAYLOAD")
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// amzDateFormat is X-Amz-Date's ISO 8601 basic format.
const amzDateFormat = "20060102T150405Z"

// maxPresignExpires is the longest X-Amz-Expires a presigned URL may carry: seven days.
const maxPresignExpires = 7 * 24 * time.Hour

// AuthFailure says why a request failed SigV4 authentication. Each protocol names the failures its own
// way (REST-JSON: InvalidSignatureException …, STS's query protocol: SignatureDoesNotMatch …).
type AuthFailure int

const (
	// AuthMissing: neither an Authorization header nor a presigned X-Amz-Credential.
	AuthMissing AuthFailure = iota + 1
	// AuthIncomplete: an Authorization header or presigned query that is not a well-formed SigV4 one.
	AuthIncomplete
	// AuthUnknownKey: the access key id is not among the configured credentials.
	AuthUnknownKey
	// AuthMismatch: the signature is not the one the server computes (wrong secret, tampered request).
	AuthMismatch
	// AuthExpired: X-Amz-Date is outside the allowed clock skew, or a presigned URL outlived X-Amz-Expires.
	AuthExpired
)

// AuthError is a failed authentication with the message AWS gives for it.
type AuthError struct {
	Failure AuthFailure
	Message string
}

func (e *AuthError) Error() string { return "wire: sigv4: " + e.Message }

func authErr(f AuthFailure, format string, args ...any) *AuthError {
	return &AuthError{Failure: f, Message: fmt.Sprintf(format, args...)}
}

// Verifier checks SigV4 signatures against known credentials.
type Verifier struct {
	// Secret returns the secret access key of an access key id.
	Secret func(accessKey string) (secret string, ok bool)
	// Now is the server's clock; default time.Now.
	Now func() time.Time
	// MaxSkew is how far X-Amz-Date may be from Now, either way; default 5 minutes.
	MaxSkew time.Duration
}

// signedRequest is what a request says about its own signature.
type signedRequest struct {
	scope     Scope
	amzDate   string // as sent, e.g. 20150830T123600Z
	date      time.Time
	presigned bool
	expires   time.Duration // presigned only
}

// Verify authenticates r, whose body the caller has already read into body (r.Body is not touched). It
// returns the verified credential scope, or an *AuthError.
func (v Verifier) Verify(r *http.Request, body []byte) (Scope, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	sr, err := parseSigned(r)
	if err != nil {
		return Scope{}, err
	}
	secret, ok := v.Secret(sr.scope.AccessKey)
	if !ok {
		return Scope{}, authErr(AuthUnknownKey, "The security token included in the request is invalid.")
	}
	// AWS: reference_aws-signing ("Protect against potential replay attacks: … a request must reach AWS
	// within five minutes of the time stamp in the request")
	t := now().UTC()
	if earliest := t.Add(-skew); sr.date.Before(earliest) && !sr.presigned {
		return Scope{}, authErr(AuthExpired, "Signature expired: %s is now earlier than %s (%s - %s.)",
			sr.amzDate, earliest.Format(amzDateFormat), t.Format(amzDateFormat), minutes(skew))
	}
	if latest := t.Add(skew); sr.date.After(latest) {
		return Scope{}, authErr(AuthExpired, "Signature not yet current: %s is still later than %s (%s + %s.)",
			sr.amzDate, latest.Format(amzDateFormat), t.Format(amzDateFormat), minutes(skew))
	}
	if sr.presigned && t.After(sr.date.Add(sr.expires)) {
		// iotlab's wording: AWS's message for an expired presigned URL of these services is unverified.
		return Scope{}, authErr(AuthExpired, "Signature expired: %s is now earlier than %s (%s - %d sec.)",
			sr.amzDate, t.Add(-sr.expires).Format(amzDateFormat), t.Format(amzDateFormat), int64(sr.expires/time.Second))
	}
	if !strings.HasPrefix(sr.amzDate, sr.scope.Date) || len(sr.scope.Date) != 8 {
		return Scope{}, authErr(AuthMismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			sr.scope.Date, sr.amzDate[:min(8, len(sr.amzDate))], sr.amzDate)
	}
	key := SigningKey(secret, sr.scope.Date, sr.scope.Region, sr.scope.Service)
	for _, payload := range payloadHashes(r, body, sr.presigned) {
		for _, uri := range canonicalURIs(r) {
			creq := CanonicalRequest(r.Method, uri, canonicalQuery(r, sr.presigned), canonicalHeaders(r, sr.scope.SignedHeaders), sr.scope.SignedHeaders, payload)
			sts := StringToSign(sr.amzDate, sr.scope, creq)
			if hmac.Equal([]byte(Signature(key, sts)), []byte(strings.ToLower(sr.scope.Signature))) {
				return sr.scope, nil
			}
		}
	}
	return Scope{}, authErr(AuthMismatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Second)) + " sec"
}

// parseSigned reads the Authorization header, or the presigned query parameters when there is none.
func parseSigned(r *http.Request) (signedRequest, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		q := r.URL.Query()
		if !q.Has("X-Amz-Credential") && !q.Has("X-Amz-Signature") && !q.Has("X-Amz-Algorithm") {
			return signedRequest{}, authErr(AuthMissing, "Missing Authentication Token")
		}
		return parsePresigned(q)
	}
	// AWS's front end lists every missing element of the header, then echoes the header.
	var missing []string
	alg, rest, _ := strings.Cut(auth, " ")
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	if alg == Algorithm {
		for _, part := range strings.Split(rest, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				cred, haveCred = val, true
			case "SignedHeaders":
				signed, haveSigned = val, true
			case "Signature":
				sig, haveSig = val, true
			}
		}
	}
	if !haveCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" && r.Header.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return signedRequest{}, authErr(AuthIncomplete, "%s Authorization=%s", strings.Join(missing, " "), auth)
	}
	sr := signedRequest{}
	var err error
	if sr.scope, err = parseCred(cred); err != nil {
		return signedRequest{}, err
	}
	sr.scope.SignedHeaders = strings.Split(signed, ";")
	sr.scope.Signature = sig
	if amzDate != "" {
		if sr.date, err = time.Parse(amzDateFormat, amzDate); err != nil {
			return signedRequest{}, authErr(AuthIncomplete, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
		}
		sr.amzDate = amzDate
	} else {
		// The string to sign then carries the Date header's time in X-Amz-Date's format.
		if sr.date, err = http.ParseTime(r.Header.Get("Date")); err != nil {
			return signedRequest{}, authErr(AuthIncomplete, "Date must be in ISO-8601 'basic format' or RFC 1123. Got '%s'.", r.Header.Get("Date"))
		}
		sr.amzDate = sr.date.UTC().Format(amzDateFormat)
	}
	if err := checkSignedHeaders(sr.scope.SignedHeaders); err != nil {
		return signedRequest{}, err
	}
	return sr, nil
}

// parsePresigned reads the query form: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders
// and -Signature. AWS: reference_sigv-authentication-methods (query string parameters)
func parsePresigned(q url.Values) (signedRequest, error) {
	var missing []string
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(p) == "" {
			missing = append(missing, fmt.Sprintf("AWS query-string parameters must include '%s'.", p))
		}
	}
	if len(missing) > 0 {
		return signedRequest{}, authErr(AuthIncomplete, "%s Re-examine the query-string parameters.", strings.Join(missing, " "))
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != Algorithm {
		return signedRequest{}, authErr(AuthIncomplete, "Unsupported AWS 'algorithm': '%s'", alg)
	}
	sr := signedRequest{presigned: true}
	var err error
	if sr.scope, err = parseCred(q.Get("X-Amz-Credential")); err != nil {
		return signedRequest{}, err
	}
	sr.scope.SignedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	sr.scope.Signature = q.Get("X-Amz-Signature")
	sr.amzDate = q.Get("X-Amz-Date")
	if sr.date, err = time.Parse(amzDateFormat, sr.amzDate); err != nil {
		return signedRequest{}, authErr(AuthIncomplete, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", sr.amzDate)
	}
	sr.expires = maxPresignExpires
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxPresignExpires {
			return signedRequest{}, authErr(AuthIncomplete, "X-Amz-Expires must be a number of seconds from 0 to 604800 (seven days); got '%s'", e)
		}
		sr.expires = time.Duration(n) * time.Second
	}
	if err := checkSignedHeaders(sr.scope.SignedHeaders); err != nil {
		return signedRequest{}, err
	}
	return sr, nil
}

// parseCred splits <access key>/<yyyymmdd>/<region>/<service>/aws4_request.
func parseCred(cred string) (Scope, error) {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return Scope{}, authErr(AuthIncomplete, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	if parts[0] == "" {
		return Scope{}, authErr(AuthIncomplete, "Credential must have a non-empty access key id, got '%s'", cred)
	}
	if parts[4] != "aws4_request" {
		return Scope{}, authErr(AuthIncomplete, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", parts[4])
	}
	return Scope{AccessKey: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

func checkSignedHeaders(h []string) error {
	if !slices.Contains(h, "host") {
		return authErr(AuthIncomplete, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

// SigningKey derives the key from the secret: HMAC chained over the scope's date, region, service and
// the terminator. AWS: reference_sigv-create-signed-request (step 4)
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// StringToSign is the algorithm, the request date, the credential scope and the hex SHA-256 of the
// canonical request, one per line. AWS: reference_sigv-create-signed-request (step 3)
func StringToSign(amzDate string, s Scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request\n" + hex.EncodeToString(h[:])
}

// Signature is the hex HMAC-SHA256 of the string to sign under the signing key.
func Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
}

// CanonicalRequest joins its parts as AWS specifies: method, URI, query, headers (each "name:value\n"),
// the signed header names and the payload hash. AWS: reference_sigv-create-signed-request (step 1)
func CanonicalRequest(method, uri, query, headers string, signedHeaders []string, payloadHash string) string {
	return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + strings.Join(signedHeaders, ";") + "\n" + payloadHash
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// payloadHashes lists the payload hashes a valid signature may have used. A client that signs
// x-amz-content-sha256: UNSIGNED-PAYLOAD leaves the body out of the signature; presigned URLs may do so
// without saying it (botocore always does). Otherwise the body's own hash is used — never a hash the
// client claims — so a tampered body fails.
func payloadHashes(r *http.Request, body []byte, presigned bool) []string {
	sum := sha256.Sum256(body)
	own := hex.EncodeToString(sum[:])
	if r.Header.Get("X-Amz-Content-Sha256") == UnsignedPayload || presigned {
		return []string{own, UnsignedPayload}
	}
	return []string{own}
}

// rawPath is the request target's path exactly as the client sent it.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") { // absolute-form: scheme://host/path
		if u, err := url.Parse(p); err == nil {
			return u.EscapedPath()
		}
	}
	return p
}

// rawQuery is the query string exactly as the client sent it.
func rawQuery(r *http.Request) string {
	if _, q, ok := strings.Cut(r.RequestURI, "?"); ok {
		return q
	}
	return r.URL.RawQuery
}

// canonicalURIs: every path segment URI-encoded twice (services other than S3; the path on the wire is
// encoded once already), "/" for an empty path. AWS asks for RFC 3986 normalization first; botocore
// normalizes, the Go SDK signs the path as it sends it, so both forms are tried when they differ.
func canonicalURIs(r *http.Request) []string {
	p := rawPath(r)
	if p == "" {
		p = "/"
	}
	out := []string{uriEncode(p, false)}
	n := path.Clean(p)
	if strings.HasSuffix(p, "/") && n != "/" {
		n += "/"
	}
	if n != p {
		out = append(out, uriEncode(n, false))
	}
	return out
}

// canonicalQuery sorts the parameters by encoded name, then value, each name and value URI-encoded
// (space as %20), without X-Amz-Signature in the presigned form.
func canonicalQuery(r *http.Request, presigned bool) string {
	raw := rawQuery(r)
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

// unescapeQuery decodes a query component as the SDKs encoded it; what does not decode stays as sent.
func unescapeQuery(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// canonicalHeaders writes each signed header as "name:value\n": values trimmed, runs of spaces folded to
// one, repeated headers joined with ",". Go's server moves Host to r.Host and may consume Content-Length.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		default:
			vals = slices.Clone(r.Header.Values(name)) // folded below: never touch the request's own slice
			if len(vals) == 0 && name == "content-length" && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// uriEncode is AWS's UriEncode: every byte but the unreserved A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex);
// "/" too unless it is a path. AWS: reference_sigv-create-signed-request (UriEncode)
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
