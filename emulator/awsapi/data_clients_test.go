package awsapi

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// TestDataPlaneWithBoto3 runs testdata/data_boto3.py: boto3's client('iot-data') for every operation
// iotlab implements, errors included, with AWS_ENDPOINT_URL and a temporary profile; then checks what
// the broker was asked to do.
func TestDataPlaneWithBoto3(t *testing.T) {
	t.Parallel() // a Python start-up, not CPU: let it overlap the other tests
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 with boto3 is not available: %v", err)
	}
	e := newDataEnv(t)
	mod := time.UnixMilli(1772366400123)
	e.Retained.put(RetainedMessage{Topic: "status/lamp", Payload: []byte("on"), QoS: 1, LastModified: mod, UserProperties: []UserProperty{{"origin", "test"}}})
	e.Retained.put(RetainedMessage{Topic: "status/fan", Payload: []byte("off"), LastModified: mod})
	e.Data.clients["dev-1"] = true

	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	out := runTool(t, env, "python3", "testdata/data_boto3.py")
	if got := string(bytes.TrimSpace(out)); got != "ok" {
		t.Fatalf("data_boto3.py printed %q, want ok", got)
	}

	byTopic := map[string]Message{}
	for _, m := range e.Data.published() {
		byTopic[m.Topic] = m
	}
	want := map[string]Message{
		"sensors/lamp/temperature": {Topic: "sensors/lamp/temperature", Payload: []byte(`{"t": 21.5}`), QoS: 1},
		"status/lamp":              {Topic: "status/lamp", Payload: []byte("online"), QoS: 1, Retain: true},
		"requests/lamp": {Topic: "requests/lamp", Payload: []byte("ping"),
			UserProperties: []UserProperty{{"deviceName", "alpha"}, {"deviceCnt", "45"}},
			ContentType:    "text/plain", ResponseTopic: "responses/lamp", CorrelationData: []byte{0, 1, 2},
			PayloadUTF8: ptr(true), MessageExpiry: ptr(uint32(30))},
	}
	for topic, w := range want {
		if got := byTopic[topic]; !reflect.DeepEqual(got, w) {
			t.Errorf("broker got for %s\n %+v\nwant\n %+v", topic, got, w)
		}
	}
	if len(e.Data.published()) != 4 {
		t.Errorf("broker got %d publishes, want 4 (three and the shadow request)", len(e.Data.published()))
	}
	e.Data.mu.Lock()
	got := append([]disconnectCall(nil), e.Data.disconnects...)
	e.Data.mu.Unlock()
	if len(got) != 1 || got[0] != (disconnectCall{"dev-1", true, true}) {
		t.Errorf("disconnects: got %+v, want dev-1 with cleanSession and preventWillMessage", got)
	}
}

// TestDataPlaneWithAWSCLI: `aws iot-data get-thing-shadow --thing-name X out.json`, the one command of
// the CLI whose answer is a file.
func TestDataPlaneWithAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the aws CLI is not installed")
	}
	e := newDataEnv(t)
	_, err := e.data().UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("cli-lamp"),
		Payload: []byte(`{"state":{"desired":{"color":"red"},"reported":{"color":"blue"}}}`)})
	mustOK(t, err)
	dir := t.TempDir()
	outFile := filepath.Join(dir, "out.json")
	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	runTool(t, env, "aws", "iot-data", "get-thing-shadow", "--thing-name", "cli-lamp", outFile)
	b, err := os.ReadFile(outFile)
	mustOK(t, err)
	var doc struct {
		State struct {
			Delta map[string]any `json:"delta"`
		} `json:"state"`
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Version != 1 || doc.State.Delta["color"] != "red" {
		t.Fatalf("out.json: got %s (%v), want version 1 and delta color red", b, err)
	}
}
