package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/store"
)

const (
	authKey    = "AKIAIOTLABTESTKEY001"
	authSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAx"
)

// newAuthEnv is a server with RequireAuth and one credential pair, plus an unauthenticated Extra path.
func newAuthEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(registry.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certs.LoadOrCreate(filepath.Join(dir, "ca"), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Registry: reg, CA: ca, RequireAuth: true, Credentials: map[string]string{authKey: authSecret},
		Extra: map[string]http.Handler{"/_iotlab/health": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); st.Close() })
	return hs.URL
}

func authConfig(url, key, secret string, opts ...func(*middleware.Stack) error) aws.Config {
	return aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		BaseEndpoint: aws.String(url), RetryMaxAttempts: 1, APIOptions: opts}
}

// tamperAfterSigning changes a signed header once the SDK has signed the request.
func tamperAfterSigning(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("tamper", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if r, ok := in.Request.(*smithyhttp.Request); ok {
			r.Header.Set("X-Amz-Date", time.Now().UTC().Add(time.Second).Format("20060102T150405Z"))
		}
		return next.HandleFinalize(ctx, in)
	}), middleware.After)
}

// outcome is what a client saw: HTTP status and AWS error code ("" on success).
type outcome struct {
	status int
	code   string
}

// sdkOutcome reads the status and code the SDK parsed (smithy.APIError, awshttp.ResponseError).
func sdkOutcome(t *testing.T, err error) outcome {
	t.Helper()
	if err == nil {
		return outcome{200, ""}
	}
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("got %v (%T), want an API error with an HTTP response", err, err)
	}
	return outcome{re.HTTPStatusCode(), ae.ErrorCode()}
}

// rawOutcome reads the status and the code from x-amzn-ErrorType (REST-JSON) or <Code> (STS XML).
func rawOutcome(t *testing.T, r *http.Request) outcome {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		return outcome{200, ""}
	}
	if c := resp.Header.Get("x-amzn-ErrorType"); c != "" {
		return outcome{resp.StatusCode, c}
	}
	var x struct {
		Error struct{ Code string }
	}
	if err := xml.Unmarshal(body, &x); err != nil {
		t.Fatalf("status %d with neither x-amzn-ErrorType nor an XML error: %s", resp.StatusCode, body)
	}
	return outcome{resp.StatusCode, x.Error.Code}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestRequireAuth: with RequireAuth the API answers only requests signed with a configured pair, and
// refuses the others with what AWS's front end answers (see auth.go for the sources), through the
// SDK's error parsing and on the wire.
func TestRequireAuth(t *testing.T) {
	url := newAuthEnv(t)
	good := aws.Credentials{AccessKeyID: authKey, SecretAccessKey: authSecret}
	signed := func(method, path string, body []byte, at time.Time, c aws.Credentials, mutate func(*http.Request)) *http.Request {
		r, _ := http.NewRequest(method, url+path, bytes.NewReader(body))
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		if err := v4.NewSigner().SignHTTP(ctx, c, r, hexSum(body), "iot", "eu-west-1", at); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	presigned := func(c aws.Credentials) *http.Request {
		r, _ := http.NewRequest("GET", url+"/things?maxResults=5", nil)
		u, _, err := v4.NewSigner().PresignHTTP(ctx, c, r, hexSum(nil), "iot", "eu-west-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p, _ := http.NewRequest("GET", u, nil)
		return p
	}
	body := []byte(`{"attributePayload":{"attributes":{"room":"hall"}}}`)
	tests := []struct {
		name string
		run  func(t *testing.T) outcome
		want outcome
	}{
		{"good signature (iot client)", func(t *testing.T) outcome {
			_, err := iot.NewFromConfig(authConfig(url, authKey, authSecret)).ListThings(ctx, &iot.ListThingsInput{})
			return sdkOutcome(t, err)
		}, outcome{200, ""}},
		{"wrong secret (iot client)", func(t *testing.T) outcome {
			_, err := iot.NewFromConfig(authConfig(url, authKey, "not-"+authSecret)).ListThings(ctx, &iot.ListThingsInput{})
			return sdkOutcome(t, err)
		}, outcome{403, "InvalidSignatureException"}},
		{"unknown key (iot client)", func(t *testing.T) outcome {
			_, err := iot.NewFromConfig(authConfig(url, "AKIANOBODYKNOWSTHIS", authSecret)).ListThings(ctx, &iot.ListThingsInput{})
			return sdkOutcome(t, err)
		}, outcome{403, "UnrecognizedClientException"}},
		{"wrong secret (iot-data client)", func(t *testing.T) outcome {
			_, err := iotdataplane.NewFromConfig(authConfig(url, authKey, "not-"+authSecret)).Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("a/b")})
			return sdkOutcome(t, err)
		}, outcome{403, "InvalidSignatureException"}},
		{"tampered header (iot client, after signing)", func(t *testing.T) outcome {
			_, err := iot.NewFromConfig(authConfig(url, authKey, authSecret, tamperAfterSigning)).ListThings(ctx, &iot.ListThingsInput{})
			return sdkOutcome(t, err)
		}, outcome{403, "InvalidSignatureException"}},
		{"good signature (raw POST)", func(t *testing.T) outcome {
			return rawOutcome(t, signed("POST", "/things/lamp-1", body, time.Now(), good, nil))
		}, outcome{200, ""}},
		{"tampered body (raw)", func(t *testing.T) outcome {
			return rawOutcome(t, signed("POST", "/things/lamp-2", body, time.Now(), good, func(r *http.Request) {
				evil := bytes.Replace(body, []byte("hall"), []byte("roof"), 1)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			}))
		}, outcome{403, "InvalidSignatureException"}},
		{"tampered header (raw)", func(t *testing.T) outcome {
			return rawOutcome(t, signed("POST", "/things/lamp-3", body, time.Now(), good, func(r *http.Request) {
				r.Header.Set("Content-Type", "text/plain")
			}))
		}, outcome{403, "InvalidSignatureException"}},
		{"expired date (raw, signed 10 minutes ago)", func(t *testing.T) outcome {
			return rawOutcome(t, signed("GET", "/things", nil, time.Now().Add(-10*time.Minute), good, nil))
		}, outcome{403, "InvalidSignatureException"}},
		{"presigned URL", func(t *testing.T) outcome { return rawOutcome(t, presigned(good)) }, outcome{200, ""}},
		{"presigned URL, wrong secret", func(t *testing.T) outcome {
			return rawOutcome(t, presigned(aws.Credentials{AccessKeyID: authKey, SecretAccessKey: "x"}))
		}, outcome{403, "InvalidSignatureException"}},
		{"unsigned", func(t *testing.T) outcome {
			r, _ := http.NewRequest("GET", url+"/things", nil)
			return rawOutcome(t, r)
		}, outcome{403, "MissingAuthenticationTokenException"}},
		{"unsigned, unknown route", func(t *testing.T) outcome {
			r, _ := http.NewRequest("GET", url+"/no/such/route", nil)
			return rawOutcome(t, r)
		}, outcome{403, "MissingAuthenticationTokenException"}},
		{"garbage Authorization", func(t *testing.T) outcome {
			r, _ := http.NewRequest("GET", url+"/things", nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage")
			return rawOutcome(t, r)
		}, outcome{403, "IncompleteSignatureException"}},
		{"good signature (sts client)", func(t *testing.T) outcome {
			_, err := sts.NewFromConfig(authConfig(url, authKey, authSecret)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return sdkOutcome(t, err)
		}, outcome{200, ""}},
		{"wrong secret (sts client)", func(t *testing.T) outcome {
			_, err := sts.NewFromConfig(authConfig(url, authKey, "x")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return sdkOutcome(t, err)
		}, outcome{403, "SignatureDoesNotMatch"}},
		{"unknown key (sts client)", func(t *testing.T) outcome {
			_, err := sts.NewFromConfig(authConfig(url, "AKIANOBODY", authSecret)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return sdkOutcome(t, err)
		}, outcome{403, "InvalidClientTokenId"}},
		{"unsigned (sts form)", func(t *testing.T) outcome {
			r, _ := http.NewRequest("POST", url+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return rawOutcome(t, r)
		}, outcome{403, "MissingAuthenticationToken"}},
		{"iotlab's own health path needs no signature", func(t *testing.T) outcome {
			r, _ := http.NewRequest("GET", url+"/_iotlab/health", nil)
			return rawOutcome(t, r)
		}, outcome{200, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run(t); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRequireAuthExpiredMessage: the clock-skew refusal carries AWS's "Signature expired" message.
func TestRequireAuthExpiredMessage(t *testing.T) {
	url := newAuthEnv(t)
	c := iot.NewFromConfig(authConfig(url, authKey, authSecret, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("resign-late", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r := in.Request.(*smithyhttp.Request)
			r.Header.Del("Authorization")
			r.Header.Del("X-Amz-Date")
			_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: authKey, SecretAccessKey: authSecret}, r.Request, hexSum(nil), "iot", "eu-west-1", time.Now().Add(-20*time.Minute))
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	}))
	_, err := c.ListThings(ctx, &iot.ListThingsInput{})
	wantAPIError(t, err, "InvalidSignatureException", 403)
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.HasPrefix(ae.ErrorMessage(), "Signature expired: ") || !strings.HasSuffix(ae.ErrorMessage(), " - 5 min.)") {
		t.Fatalf("message %q, want AWS's \"Signature expired: … - 5 min.)\"", ae.ErrorMessage())
	}
}

// TestNoRequireAuthAcceptsAnything: by default (no RequireAuth) any signature, or none, is accepted.
func TestNoRequireAuthAcceptsAnything(t *testing.T) {
	e := newTestEnv(t)
	if _, err := iot.NewFromConfig(authConfig(e.URL, "ANYKEY", "any secret")).ListThings(ctx, &iot.ListThingsInput{}); err != nil {
		t.Fatalf("any credentials: %v", err)
	}
	r, _ := http.NewRequest("GET", e.URL+"/things", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage")
	if got := rawOutcome(t, r); got != (outcome{200, ""}) {
		t.Fatalf("garbage Authorization: got %+v, want 200", got)
	}
	r, _ = http.NewRequest("GET", e.URL+"/things", nil)
	if got := rawOutcome(t, r); got != (outcome{200, ""}) {
		t.Fatalf("unsigned: got %+v, want 200", got)
	}
}

// TestRequireAuthBoto3 runs testdata/auth_boto3.py: boto3's own error parsing surfaces the codes.
func TestRequireAuthBoto3(t *testing.T) {
	t.Parallel() // a Python start-up, not CPU
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 with boto3 is not available: %v", err)
	}
	url := newAuthEnv(t)
	out := runTool(t, cleanAWSEnv("AWS_ENDPOINT_URL="+url, "AWS_EC2_METADATA_DISABLED=true"), "python3", "testdata/auth_boto3.py", authKey, authSecret)
	want := strings.Join([]string{
		"iot.list_things right -> ok 200",
		"iot.list_things wrong-secret -> InvalidSignatureException 403",
		"iot.list_things unknown-key -> UnrecognizedClientException 403",
		"sts.get_caller_identity right -> ok 200",
		"sts.get_caller_identity wrong-secret -> SignatureDoesNotMatch 403",
		"sts.get_caller_identity unknown-key -> InvalidClientTokenId 403",
	}, "\n")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("auth_boto3.py printed\n%s\nwant\n%s", got, want)
	}
}
