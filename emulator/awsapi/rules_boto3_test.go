package awsapi

import (
	"bytes"
	"os/exec"
	"testing"
)

// TestTopicRulesBoto3 runs testdata/rules_boto3.py: every topic rule operation through boto3, errors
// included, each answer asserted as boto3 parses it.
func TestTopicRulesBoto3(t *testing.T) {
	t.Parallel() // a Python start-up, not CPU: let it overlap the other tests
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 with boto3 is not available: %v", err)
	}
	e := newTestEnv(t)
	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	out := runTool(t, env, "python3", "testdata/rules_boto3.py")
	if got := string(bytes.TrimSpace(out)); got != "ok" {
		t.Fatalf("rules_boto3.py printed %q, want ok", got)
	}
}
