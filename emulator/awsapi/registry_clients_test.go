package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// runTool runs an AWS client program with a clean AWS environment and returns its stdout.
func runTool(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestBookOpeningWithBoto3 runs testdata/book_opening.py, the book's opening code, unchanged: boto3 with
// a [default] profile, STS for the account id, then the registry calls, each answer asserted.
func TestBookOpeningWithBoto3(t *testing.T) {
	t.Parallel() // a Python start-up, not CPU: let it overlap the other tests
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 with boto3 is not available: %v", err)
	}
	e, _ := newRegEnv(t)
	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	out := runTool(t, env, "python3", "testdata/book_opening.py")
	if got := string(bytes.TrimSpace(out)); got != "ok" {
		t.Fatalf("book_opening.py printed %q, want ok", got)
	}
}

// TestAWSCLI drives the aws CLI (v1) with --endpoint-url and a temporary profile.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the aws CLI is not installed")
	}
	e, _ := newRegEnv(t)
	env := cleanAWSEnv(awsProfileFiles(t)...)
	aws1 := func(t *testing.T, args ...string) []byte {
		t.Helper()
		return runTool(t, env, "aws", append(args, "--endpoint-url", e.URL, "--output", "json")...)
	}

	t.Run("describe-endpoint", func(t *testing.T) {
		t.Parallel()
		var ep struct {
			EndpointAddress string `json:"endpointAddress"`
		}
		if err := json.Unmarshal(aws1(t, "iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS"), &ep); err != nil {
			t.Fatal(err)
		}
		if ep.EndpointAddress != "localhost" {
			t.Fatalf("describe-endpoint: got %q, want localhost", ep.EndpointAddress)
		}
	})
	t.Run("list-things", func(t *testing.T) {
		t.Parallel()
		var empty struct {
			Things []json.RawMessage `json:"things"`
		}
		if err := json.Unmarshal(aws1(t, "iot", "list-things"), &empty); err != nil || empty.Things == nil || len(empty.Things) != 0 {
			t.Fatalf("list-things on a fresh account: got %+v (%v), want \"things\": []", empty, err)
		}

		// The CLI pages on its own: 3 things, pages of 2.
		for _, n := range []string{"cli-a", "cli-b", "cli-c"} {
			if _, err := e.iotClient().CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(n)}); err != nil {
				t.Fatal(err)
			}
		}
		var list struct {
			Things []struct {
				ThingName string `json:"thingName"`
				ThingArn  string `json:"thingArn"`
			} `json:"things"`
		}
		if err := json.Unmarshal(aws1(t, "iot", "list-things", "--page-size", "2"), &list); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, th := range list.Things {
			names = append(names, th.ThingName)
		}
		if want := []string{"cli-a", "cli-b", "cli-c"}; !slices.Equal(names, want) || list.Things[0].ThingArn != "arn:aws:iot:eu-west-1:123456789012:thing/cli-a" {
			t.Fatalf("list-things: got %+v, want %v", list.Things, want)
		}
	})
}
