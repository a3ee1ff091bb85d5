package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// The book's generic device policy for the smart home: a device connects as its thing, publishes its own
// data, and works only its own shadow; it receives alerts. It can never command another device.
const smartHomePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:eu-west-1:123456789012:topic/home/${iot:Connection.Thing.ThingName}/*",
   "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
   "arn:aws:iot:eu-west-1:123456789012:topicfilter/home/alerts/*"]},
 {"Effect":"Allow","Action":"iot:Receive","Resource":["arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
   "arn:aws:iot:eu-west-1:123456789012:topic/home/alerts/*"]}]}`

// TestSmartHome is the book's final use case over real mTLS connections: a heat alert from a rule, the
// hall door's "person detected" going through a rule to a local backend function, which commands the lock
// through its shadow; the lock obeys and reports; a stranger is not let in; a device commanding another
// is refused by its policy.
func TestSmartHome(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: run `make deps` (make test does)", tool)
		}
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Fatal("python3 has no boto3")
	}
	fn, _ := filepath.Abs("exercises/smarthome/known_person.py")
	state := t.TempDir()
	cleanAWSEnvForFunction(t)
	p := startUp(t, state, "--limits", "none", "--function", "known-person=python3 "+fn)
	c := p.iot()
	ctx := context.Background()
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("home-device"), PolicyDocument: aws.String(smartHomePolicy)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	door := provision(t, c, dir, "hall-door", true)
	lock := provision(t, c, dir, "hall-lock", true)
	sensor := provision(t, c, dir, "livingroom-sensor", false)
	dash := provision(t, c, dir, "dashboard", true)
	role := aws.String("arn:aws:iam::123456789012:role/iotlab")
	for _, r := range []struct {
		name, sql string
		action    iottypes.Action
	}{
		{"door", "SELECT person, 'hall-lock' AS lock FROM 'home/hall-door/person'",
			iottypes.Action{Lambda: &iottypes.LambdaAction{FunctionArn: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:known-person")}}},
		{"heat", "SELECT temperature, topic(2) AS room FROM 'home/+/temperature' WHERE temperature > 30",
			iottypes.Action{Republish: &iottypes.RepublishAction{Topic: aws.String("home/alerts/${topic(2)}"), RoleArn: role, Qos: aws.Int32(1)}}},
	} {
		if _, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(r.name), TopicRulePayload: &iottypes.TopicRulePayload{
			Sql: aws.String(r.sql), AwsIotSqlVersion: aws.String("2016-03-23"), Actions: []iottypes.Action{r.action}}}); err != nil {
			t.Fatalf("rule %s: %v", r.name, err)
		}
	}
	ca := filepath.Join(state, "root-ca.pem")
	mq := func(d device, extra ...string) []string {
		return append([]string{"-h", "localhost", "-p", p.mqttPort, "--cafile", ca, "--cert", d.cert, "--key", d.key, "-i", d.name, "-V", "mqttv5"}, extra...)
	}
	// subscribe starts a device's subscriber and waits for its SUBACK.
	subscribe := func(d device, topic string) (*syncBuffer, chan error) {
		var out syncBuffer
		cmd := exec.Command("stdbuf", append([]string{"-o0", "mosquitto_sub"}, mq(d, "-t", topic, "-q", "1", "-C", "1", "-W", "20", "-d")...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "SUBACK"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never subscribed to %s: %q", d.name, topic, out.String())
			}
		}
		return &out, done
	}
	wait := func(what string, out *syncBuffer, done chan error) string {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: nothing arrived: %q", what, out.String())
		}
		return out.String()
	}
	publish := func(d device, topic, msg string) (string, error) {
		out, err := exec.Command("mosquitto_pub", mq(d, "-t", topic, "-q", "1", "-m", msg)...).CombinedOutput()
		return string(out), err
	}

	t.Run("heat alert", func(t *testing.T) {
		out, done := subscribe(dash, "home/alerts/+")
		if o, err := publish(sensor, "home/livingroom-sensor/temperature", `{"temperature": 35}`); err != nil {
			t.Fatalf("sensor: %v %s", err, o)
		}
		if got := wait("alert", out, done); !strings.Contains(got, `{"temperature":35,"room":"livingroom-sensor"}`) {
			t.Fatalf("alert: %q", got)
		}
	})

	data := iotdataplane.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(p.apiURL), RetryMaxAttempts: 1})
	desired := func() string {
		out, err := data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("hall-lock")})
		if err != nil {
			return ""
		}
		var doc struct {
			State struct {
				Desired  map[string]any `json:"desired"`
				Reported map[string]any `json:"reported"`
			} `json:"state"`
		}
		json.Unmarshal(out.Payload, &doc)
		return func() string { b, _ := json.Marshal(doc.State); return string(b) }()
	}

	t.Run("a device cannot command another", func(t *testing.T) {
		o, _ := publish(door, "$aws/things/hall-lock/shadow/update", `{"state":{"desired":{"lock":"unlocked"}}}`)
		if !strings.Contains(o, "Not authorized") {
			t.Fatalf("the door commanding the lock: %q, want a refusal", o)
		}
	})

	t.Run("a stranger stays outside", func(t *testing.T) {
		if o, err := publish(door, "home/hall-door/person", `{"person":"mallory"}`); err != nil {
			t.Fatalf("door: %v %s", err, o)
		}
		// The function runs asynchronously; give it the time a known person's unlock takes below.
		time.Sleep(2 * time.Second)
		if d := desired(); strings.Contains(d, "unlocked") {
			t.Fatalf("a stranger unlocked the door: %s", d)
		}
	})

	t.Run("alice opens the door", func(t *testing.T) {
		out, done := subscribe(lock, "$aws/things/hall-lock/shadow/update/delta")
		if o, err := publish(door, "home/hall-door/person", `{"person":"alice"}`); err != nil {
			t.Fatalf("door: %v %s", err, o)
		}
		if got := wait("delta", out, done); !strings.Contains(got, `"lock":"unlocked"`) {
			t.Fatalf("the lock's delta: %q", got)
		}
		// The lock acts and reports its new state in its own session.
		if o, err := publish(lock, "$aws/things/hall-lock/shadow/update", `{"state":{"reported":{"lock":"unlocked"}}}`); err != nil {
			t.Fatalf("lock report: %v %s", err, o)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if d := desired(); strings.Contains(d, `"reported":{"lock":"unlocked"}`) {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("shadow state after the report: %s", d)
			}
		}
	})
}

// cleanAWSEnvForFunction keeps the developer's real AWS settings away from the local function: it gets
// AWS_ENDPOINT_URL from iotlab and dummy credentials from here.
func cleanAWSEnvForFunction(t *testing.T) {
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_IOT_DATA_PLANE"} {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k) // an empty AWS_PROFILE is itself an error to boto3
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "iotlab")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "iotlab")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}
