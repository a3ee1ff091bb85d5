package awsapi

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/store"
)

// testEnv is a real API server on 127.0.0.1:0 with a real store in a temp dir.
type testEnv struct {
	URL   string
	Reg   *registry.Registry
	Store *store.Faulty // FailWrites injects disk errors
	Srv   *Server
	Dir   string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &store.Faulty{Store: st}
	reg, err := registry.Open(registry.Options{Store: f})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certs.LoadOrCreate(filepath.Join(dir, "ca"), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Registry: reg, CA: ca, Account: "123456789012", Region: "eu-west-1", EndpointHost: "localhost"})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); st.Close() })
	return &testEnv{URL: hs.URL, Reg: reg, Store: f, Srv: srv, Dir: dir}
}

func (e *testEnv) awsConfig() aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDIOTLAB", "secret", ""),
		BaseEndpoint: aws.String(e.URL),
		// No retries: a test must see the first answer.
		RetryMaxAttempts: 1,
	}
}

// iotClient is an aws-sdk-go-v2 IoT client pointed at the test server.
func (e *testEnv) iotClient() *iot.Client { return iot.NewFromConfig(e.awsConfig()) }

func (e *testEnv) stsClient() *sts.Client { return sts.NewFromConfig(e.awsConfig()) }

var ctx = context.Background()
