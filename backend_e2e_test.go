package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// TestBackendWiring drives the real binary's backend: a rule on lifecycle events republishes a device's
// connection, and a desired state set over HTTP (iot-data) reaches the device as a shadow delta on MQTT.
func TestBackendWiring(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not installed: run `make deps` (make test does)")
	}
	state := t.TempDir()
	p := startUp(t, state, "--limits", "none")
	c := p.iot()
	ctx := context.Background()
	const policy = `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
	  {"Effect":"Allow","Action":["iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}`
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("home-device"), PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lock := provision(t, c, dir, "hall-lock", true)
	sensor := provision(t, c, dir, "kitchen-sensor", false)
	if _, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{
		RuleName: aws.String("presence"),
		TopicRulePayload: &iottypes.TopicRulePayload{
			// Only the sensor's connection: the lock's own may arrive after it subscribed.
			Sql:              aws.String("SELECT clientId, eventType FROM '$aws/events/presence/connected/+' WHERE clientId = 'kitchen-sensor'"),
			AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []iottypes.Action{{Republish: &iottypes.RepublishAction{
				Topic: aws.String("alerts/presence"), RoleArn: aws.String("arn:aws:iam::123456789012:role/iotlab"), Qos: aws.Int32(1)}}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(state, "root-ca.pem")
	tls := func(d device) []string {
		return []string{"-h", "localhost", "-p", p.mqttPort, "--cafile", ca, "--cert", d.cert, "--key", d.key, "-i", d.name}
	}
	// stdbuf: mosquitto_sub's stdout is a pipe here; unbuffered, its SUBACK line shows when it happens.
	sub := exec.Command("stdbuf", append([]string{"-o0", "mosquitto_sub"}, append(tls(lock), "-t", "alerts/presence", "-t", "$aws/things/hall-lock/shadow/update/delta",
		"-q", "1", "-v", "-C", "2", "-W", "20", "-d")...)...)
	var out syncBuffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "SUBACK"); {
		if time.Now().After(deadline) {
			t.Fatalf("subscriber never subscribed: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Another device connects: its lifecycle event fires the rule.
	if o, err := exec.Command("mosquitto_pub", append(tls(sensor), "-t", "home/kitchen/temperature", "-m", "20", "-q", "1")...).CombinedOutput(); err != nil {
		t.Fatalf("sensor publish: %v %s", err, o)
	}
	data := iotdataplane.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(p.apiURL), RetryMaxAttempts: 1})
	if _, err := data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("hall-lock"),
		Payload: []byte(`{"state":{"desired":{"lock":"open"}}}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		sub.Process.Kill()
		t.Fatalf("subscriber did not get both messages: %q", out.String())
	}
	got := out.String()
	if !strings.Contains(got, `alerts/presence {"clientId":"kitchen-sensor","eventType":"connected"}`) {
		t.Errorf("no republished presence event in %q", got)
	}
	if !strings.Contains(got, `$aws/things/hall-lock/shadow/update/delta {"version":1`) || !strings.Contains(got, `"lock":"open"`) {
		t.Errorf("no shadow delta in %q", got)
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
