package wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

func testSecrets(k string) (string, bool) {
	if k == testKey {
		return testSecret, true
	}
	return "", false
}

// TestSigV4DocumentedExample checks the three steps against the worked example of AWS's signing guide
// (IAM ListUsers, 20150830T123600Z, us-east-1; AWS: reference_sigv-create-signed-request).
func TestSigV4DocumentedExample(t *testing.T) {
	creq := CanonicalRequest("GET", "/", "Action=ListUsers&Version=2010-05-08",
		"content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n",
		[]string{"content-type", "host", "x-amz-date"}, hexSHA256(nil))
	if got, want := hexSHA256([]byte(creq)), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"; got != want {
		t.Fatalf("canonical request hash: got %s, want %s\n%s", got, want, creq)
	}
	key := SigningKey(testSecret, "20150830", "us-east-1", "iam")
	if got, want := hex.EncodeToString(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"; got != want {
		t.Fatalf("signing key: got %s, want %s", got, want)
	}
	sts := StringToSign("20150830T123600Z", Scope{Date: "20150830", Region: "us-east-1", Service: "iam"}, creq)
	if got, want := Signature(key, sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"; got != want {
		t.Fatalf("signature: got %s, want %s", got, want)
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// verifyServer answers "ok", or "<failure> <message>", for each request it verifies.
func verifyServer(t *testing.T, now time.Time) *httptest.Server {
	t.Helper()
	v := Verifier{Secret: testSecrets, Now: func() time.Time { return now }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r, body); err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				fmt.Fprintf(w, "not an AuthError: %v", err)
				return
			}
			fmt.Fprintf(w, "%d %s", ae.Failure, ae.Message)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, r *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// result names what the server said: "ok" or the failure.
func result(answer string) string {
	if answer == "ok" {
		return "ok"
	}
	var f AuthFailure
	fmt.Sscan(answer, &f)
	return map[AuthFailure]string{AuthMissing: "missing", AuthIncomplete: "incomplete", AuthUnknownKey: "unknown key",
		AuthMismatch: "mismatch", AuthExpired: "expired"}[f]
}

// TestVerifyGoSDKSignatures: requests signed by aws-sdk-go-v2's own signer (header and presigned
// forms) verify; each tampering is caught with the right failure.
func TestVerifyGoSDKSignatures(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	srv := verifyServer(t, now)
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	sign := func(r *http.Request, body []byte, service string, at time.Time, c aws.Credentials) *http.Request {
		t.Helper()
		// A fresh signer each time: the SDK caches signing keys by access key, not by secret.
		if err := v4.NewSigner().SignHTTP(context.Background(), c, r, hexSHA256(body), service, "eu-west-1", at); err != nil {
			t.Fatal(err)
		}
		return r
	}
	req := func(method, path string, body []byte) *http.Request {
		r, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	jsonBody := []byte(`{"thingTypeName":"lamp","attributePayload":{"attributes":{"room":"hall"}}}`)
	tests := []struct {
		name string
		make func() *http.Request
		want string
	}{
		{"GET with a query", func() *http.Request {
			return sign(req("GET", "/things?maxResults=10&nextToken=a%2Fb&thingTypeName=lamp", nil), nil, "iot", now, creds)
		}, "ok"},
		{"POST with a JSON body", func() *http.Request {
			r := req("POST", "/things/lamp-1", jsonBody)
			r.Header.Set("Content-Type", "application/json")
			return sign(r, jsonBody, "iot", now, creds)
		}, "ok"},
		{"path with escaped characters", func() *http.Request {
			return sign(req("GET", "/retainedMessage/home%2Fhall%20way%2Ftemp", nil), nil, "iotdata", now, creds)
		}, "ok"},
		{"query with space and plus", func() *http.Request {
			return sign(req("GET", "/things?attributeValue=a%20b&attributeName=c%2Bd&x=", nil), nil, "iot", now, creds)
		}, "ok"},
		{"repeated header", func() *http.Request {
			r := req("GET", "/things", nil)
			r.Header.Add("X-Amz-Meta-A", "one")
			r.Header.Add("X-Amz-Meta-A", "  two   words ")
			return sign(r, nil, "iot", now, creds)
		}, "ok"},
		{"signed 4 minutes ago", func() *http.Request {
			return sign(req("GET", "/things", nil), nil, "iot", now.Add(-4*time.Minute), creds)
		}, "ok"},
		{"UNSIGNED-PAYLOAD", func() *http.Request {
			r := req("POST", "/things/lamp-1", jsonBody)
			r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
			if err := signer.SignHTTP(context.Background(), creds, r, UnsignedPayload, "iot", "eu-west-1", now); err != nil {
				t.Fatal(err)
			}
			return r
		}, "ok"},
		{"presigned URL", func() *http.Request {
			r := req("GET", "/things?maxResults=5", nil)
			r.Header.Set("X-Amz-Expires", "300")
			u, hdr, err := signer.PresignHTTP(context.Background(), creds, r, hexSHA256(nil), "iot", "eu-west-1", now)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := http.NewRequest("GET", u, nil)
			for k, v := range hdr {
				if k != "Host" {
					p.Header[k] = v
				}
			}
			return p
		}, "ok"},
		{"presigned URL past X-Amz-Expires", func() *http.Request {
			r := req("GET", "/things", nil)
			r.Header.Set("X-Amz-Expires", "60")
			u, _, err := signer.PresignHTTP(context.Background(), creds, r, hexSHA256(nil), "iot", "eu-west-1", now.Add(-2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := http.NewRequest("GET", u, nil)
			return p
		}, "expired"},
		{"presigned URL with a changed query", func() *http.Request {
			r := req("GET", "/things?maxResults=5", nil)
			u, _, err := signer.PresignHTTP(context.Background(), creds, r, hexSHA256(nil), "iot", "eu-west-1", now)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := http.NewRequest("GET", strings.Replace(u, "maxResults=5", "maxResults=6", 1), nil)
			return p
		}, "mismatch"},
		{"wrong secret", func() *http.Request {
			return sign(req("GET", "/things", nil), nil, "iot", now, aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "not-the-secret"})
		}, "mismatch"},
		{"unknown access key", func() *http.Request {
			return sign(req("GET", "/things", nil), nil, "iot", now, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret})
		}, "unknown key"},
		{"tampered body", func() *http.Request {
			r := sign(req("POST", "/things/lamp-1", jsonBody), jsonBody, "iot", now, creds)
			evil := bytes.Replace(jsonBody, []byte("hall"), []byte("attic"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "mismatch"},
		{"tampered body under a claimed hash", func() *http.Request {
			r := req("POST", "/things/lamp-1", jsonBody)
			r.Header.Set("X-Amz-Content-Sha256", hexSHA256(jsonBody))
			sign(r, jsonBody, "iot", now, creds)
			evil := []byte(`{}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "mismatch"},
		{"tampered signed header", func() *http.Request {
			r := req("POST", "/things/lamp-1", jsonBody)
			r.Header.Set("Content-Type", "application/json")
			sign(r, jsonBody, "iot", now, creds)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "mismatch"},
		{"tampered path", func() *http.Request {
			r := sign(req("DELETE", "/things/lamp-1", nil), nil, "iot", now, creds)
			r.URL.Path = "/things/lamp-2"
			return r
		}, "mismatch"},
		{"tampered method", func() *http.Request {
			r := sign(req("GET", "/things/lamp-1", nil), nil, "iot", now, creds)
			r.Method = "DELETE"
			return r
		}, "mismatch"},
		{"scope date not the request date", func() *http.Request {
			r := sign(req("GET", "/things", nil), nil, "iot", now, creds)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), now.Format("20060102"), now.Add(-48*time.Hour).Format("20060102"), 1))
			return r
		}, "mismatch"},
		{"signed 6 minutes ago", func() *http.Request {
			return sign(req("GET", "/things", nil), nil, "iot", now.Add(-6*time.Minute), creds)
		}, "expired"},
		{"signed 6 minutes ahead", func() *http.Request {
			return sign(req("GET", "/things", nil), nil, "iot", now.Add(6*time.Minute), creds)
		}, "expired"},
		{"unsigned", func() *http.Request { return req("GET", "/things", nil) }, "missing"},
		{"bearer token", func() *http.Request {
			r := req("GET", "/things", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, "incomplete"},
		{"credential with 3 elements", func() *http.Request {
			r := req("GET", "/things", nil)
			r.Header.Set("X-Amz-Date", now.Format(amzDateFormat))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00")
			return r
		}, "incomplete"},
		{"host not signed", func() *http.Request {
			r := req("GET", "/things", nil)
			r.Header.Set("X-Amz-Date", now.Format(amzDateFormat))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/"+now.Format("20060102")+"/eu-west-1/iot/aws4_request, SignedHeaders=x-amz-date, Signature=00")
			return r
		}, "incomplete"},
		{"garbage date", func() *http.Request {
			r := sign(req("GET", "/things", nil), nil, "iot", now, creds)
			r.Header.Set("X-Amz-Date", "yesterday")
			return r
		}, "incomplete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := send(t, tt.make())
			if got := result(answer); got != tt.want {
				t.Fatalf("got %s (%s), want %s", got, answer, tt.want)
			}
		})
	}
}

// TestVerifyBotocoreSignatures replays requests signed by botocore's SigV4Auth and SigV4QueryAuth
// (testdata/sigv4_botocore.py); each verifies, and fails once one hex digit of its signature changes.
func TestVerifyBotocoreSignatures(t *testing.T) {
	if err := exec.Command("python3", "-c", "import botocore").Run(); err != nil {
		t.Skipf("python3 with botocore is not available: %v", err)
	}
	srv := verifyServer(t, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", "testdata/sigv4_botocore.py", srv.URL, testKey, testSecret).Output()
	if err != nil {
		t.Fatalf("sigv4_botocore.py: %v", err)
	}
	var signed []struct {
		Name, Method, URL string
		Headers           map[string]string
		Body              []byte
	}
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatal(err)
	}
	if len(signed) < 7 {
		t.Fatalf("got %d signed requests, want 7", len(signed))
	}
	build := func(method, u string, h map[string]string, body []byte) *http.Request {
		r, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	flip := func(s string) string { // the signature's last hex digit, changed
		if strings.HasSuffix(s, "0") {
			return s[:len(s)-1] + "1"
		}
		return s[:len(s)-1] + "0"
	}
	for _, s := range signed {
		t.Run(s.Name, func(t *testing.T) {
			if got := send(t, build(s.Method, s.URL, s.Headers, s.Body)); got != "ok" {
				t.Fatalf("botocore's signature refused: %s", got)
			}
			h, u := map[string]string{}, s.URL
			for k, v := range s.Headers {
				h[k] = v
			}
			if a := h["Authorization"]; a != "" {
				h["Authorization"] = flip(a)
			} else {
				u = flip(u) // X-Amz-Signature is the presigned URL's last parameter
			}
			if got := result(send(t, build(s.Method, u, h, s.Body))); got != "mismatch" {
				t.Fatalf("changed signature: got %s, want mismatch", got)
			}
		})
	}
}

// FuzzVerify: any Authorization header, date and request target is answered with an *AuthError or
// accepted, never a panic; an accepted one carries a scope.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential="+testKey+"/20260101/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260101T000000Z", "/things?maxResults=1")
	f.Add("", "", "/things?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Signature=zz&X-Amz-SignedHeaders=host&X-Amz-Date=1&X-Amz-Expires=-1")
	f.Add("Bearer x", "yesterday", "/%2e%2e/%00")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := Verifier{Secret: testSecrets, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, auth, date, target string) {
		r, err := http.NewRequest("GET", "http://localhost"+target, nil)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r.RequestURI = target
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		s, err := v.Verify(r, nil)
		var ae *AuthError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *AuthError", err)
		}
		if err == nil && s.AccessKey != testKey {
			t.Fatalf("accepted with scope %+v", s)
		}
	})
}
