package awsapi

import (
	"errors"
	mrand "math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/store"
)

// regTestClock is a settable clock shared by the registry and the server.
type regTestClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *regTestClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *regTestClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// regEpoch is the fixed start of every registry test clock.
var regEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newRegEnv is newTestEnv with a fixed, settable clock and seeded randomness, so ids, dates and
// request ids repeat from run to run.
func newRegEnv(t *testing.T) (*testEnv, *regTestClock) {
	t.Helper()
	clock := &regTestClock{t: regEpoch}
	e, _ := newRegEnvAt(t, t.TempDir(), clock)
	return e, clock
}

// newTestEnvAt is a server on the state already in dir, as after a restart.
func newTestEnvAt(t *testing.T, dir string) *testEnv {
	t.Helper()
	e, _ := newRegEnvAt(t, dir, &regTestClock{t: regEpoch})
	return e
}

// newRegEnvAt starts a server on the state in dir. stop shuts it down and closes the store (so that
// another server can open it); it also runs at the end of the test.
func newRegEnvAt(t *testing.T, dir string, clock *regTestClock) (e *testEnv, stop func()) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &store.Faulty{Store: st}
	reg, err := registry.Open(registry.Options{Store: f, Now: clock.Now, Rand: mrand.NewChaCha8([32]byte{'r', 'e', 'g'})})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Registry: reg, Account: "123456789012", Region: "eu-west-1", EndpointHost: "localhost",
		Now: clock.Now, Rand: mrand.NewChaCha8([32]byte{'s', 'r', 'v'})})
	hs := httptest.NewServer(srv)
	var once sync.Once
	stop = func() { once.Do(func() { hs.Close(); st.Close() }) }
	t.Cleanup(stop)
	return &testEnv{URL: hs.URL, Reg: reg, Store: f, Srv: srv, Dir: dir}, stop
}

// wantAPIError fails the test unless err is the AWS error code with the HTTP status, as the SDK parsed
// them from the response.
func wantAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want API error %s", err, code)
	}
	if got := ae.ErrorCode(); got != code {
		t.Fatalf("error code: got %s (%v), want %s", got, err, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got %T, want an *awshttp.ResponseError", err)
	}
	if got := re.HTTPStatusCode(); got != status {
		t.Fatalf("HTTP status: got %d, want %d (%v)", got, status, err)
	}
}

// wantErrMessage fails the test unless err's AWS message is msg.
func wantErrMessage(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorMessage() != msg {
		t.Fatalf("got %v, want message %q", err, msg)
	}
}

// cleanAWSEnv returns the process environment without any AWS_ variable, so no real credentials,
// profile or endpoint reach a client under test, plus extra.
func cleanAWSEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// awsProfileFiles writes a shared credentials file and a config file with a [default] profile holding
// dummy keys, and returns the environment that points the AWS tools at them.
func awsProfileFiles(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIDIOTLABTEST\naws_secret_access_key = iotlab-test-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[default]\nregion = eu-west-1\noutput = json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + cfg,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
