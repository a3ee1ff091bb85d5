package target

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestAWSIgnoresEndpointVariables: iotlab's banner tells users to export AWS_ENDPOINT_URL; the aws
// target must still talk to AWS.
func TestAWSIgnoresEndpointVariables(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4580")
	t.Setenv("AWS_ENDPOINT_URL_IOT", "http://127.0.0.1:4580")
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4580")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	tg, _, err := awsClients(context.Background(), AWSOptions{Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	if e := tg.IoT.Options().BaseEndpoint; e != nil {
		t.Errorf("iot client endpoint = %s, want AWS's own", *e)
	}
	if e := tg.STS.Options().BaseEndpoint; e != nil {
		t.Errorf("sts client endpoint = %s, want AWS's own", *e)
	}
	// A stand-in given explicitly is used.
	tg, _, err = awsClients(context.Background(), AWSOptions{Region: "eu-west-1", Endpoint: "http://127.0.0.1:9",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	if e := tg.IoT.Options().BaseEndpoint; e == nil || *e != "http://127.0.0.1:9" {
		t.Errorf("iot client endpoint = %v, want the stand-in", e)
	}
}

// TestManifestMergesWriters: two manifests on one file (two processes) keep each other's entries, and
// Remove forgets exactly what it is given.
func TestManifestMergesWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), ManifestFile)
	a, err := OpenManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := OpenManifest(path)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := a
			if i%2 == 1 {
				m = b
			}
			if err := m.Add(Resource{Kind: KindThing, Name: string(rune('a' + i)), Run: "r"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := len(a.Resources("r")); got != 20 {
		t.Fatalf("got %d resources, want 20", got)
	}
	if err := b.Remove(Resource{Kind: KindThing, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	c, _ := OpenManifest(path)
	if got := len(c.Resources("")); got != 19 {
		t.Fatalf("after Remove: %d resources, want 19", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("manifest file: %v %v", fi, err)
	}
}
