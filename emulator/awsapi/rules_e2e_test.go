package awsapi

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/emulator/rules"
)

// These tests run real parts end to end: devices over mutual TLS (paho.golang, MQTT 5), the broker,
// the rules engine and rules made with aws-sdk-go-v2.

func (l *rlLab) createRule(t *testing.T, name string, p *types.TopicRulePayload) {
	t.Helper()
	_, err := l.iot.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), TopicRulePayload: p})
	mustOK(t, err)
}

func rlLambda(arn string) types.Action {
	return types.Action{Lambda: &types.LambdaAction{FunctionArn: aws.String(arn)}}
}

func rlHTTP(url string, headers ...string) types.Action {
	a := &types.HttpAction{Url: aws.String(url)}
	for i := 0; i+1 < len(headers); i += 2 {
		a.Headers = append(a.Headers, types.HttpActionHeader{Key: aws.String(headers[i]), Value: aws.String(headers[i+1])})
	}
	return types.Action{Http: a}
}

// TestRulesRepublishEndToEnd: a device publishes a temperature; the rule made through the API
// republishes hot readings for a subscriber; cold readings, disabled and deleted rules give nothing.
func TestRulesRepublishEndToEnd(t *testing.T) {
	lab := newRulesLab(t)
	lab.createRule(t, "too_hot", rlRule("SELECT temp, topic(2) AS room FROM 'home/+/temperature' WHERE temp > 30", rlRepublish("alerts/${topic(2)}", 1)))
	// marker republishes every message on "marker": the engine evaluates messages in order, so once
	// marker/done arrives, every earlier message has been evaluated.
	lab.createRule(t, "marker", rlRule("SELECT * FROM 'marker'", rlRepublish("marker/done", 1)))
	sub := lab.connect(t, "dashboard")
	sub.subscribe("alerts/#", "marker/done")
	dev := lab.connect(t, "thermometer")
	settle := func() {
		t.Helper()
		dev.publish("marker", `{}`)
		sub.expect("marker/done", "")
	}

	dev.publish("home/livingroom/temperature", `{"temp":20}`)
	dev.publish("home/livingroom/temperature", `{"temp":31}`)
	m := sub.expect("alerts/livingroom", `{"temp":31,"room":"livingroom"}`)
	if m.QoS != 1 {
		t.Fatalf("republished at QoS %d, want the action's 1", m.QoS)
	}

	_, err := lab.iot.DisableTopicRule(ctx, &iot.DisableTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	dev.publish("home/kitchen/temperature", `{"temp":35}`)
	settle()
	_, err = lab.iot.EnableTopicRule(ctx, &iot.EnableTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	dev.publish("home/kitchen/temperature", `{"temp":36}`)
	sub.expect("alerts/kitchen", `{"temp":36,"room":"kitchen"}`)

	_, err = lab.iot.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String("too_hot"),
		TopicRulePayload: rlRule("SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30", rlRepublish("alerts/${topic(2)}", 0))})
	mustOK(t, err)
	before := time.Now().UnixMilli()
	dev.publish("sensors/d1/data", `{"temp":31}`)
	var got struct {
		Temp int    `json:"temp"`
		Dev  string `json:"dev"`
		CID  string `json:"cid"`
		TS   int64  `json:"ts"`
	}
	m = sub.expect("alerts/d1", "")
	mustOK(t, json.Unmarshal(m.Payload, &got))
	if got.Temp != 31 || got.Dev != "d1" || got.CID != "thermometer" || got.TS < before || got.TS > time.Now().UnixMilli() {
		t.Fatalf("checklist 94: got %s", m.Payload)
	}

	_, err = lab.iot.DeleteTopicRule(ctx, &iot.DeleteTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	dev.publish("sensors/d1/data", `{"temp":40}`)
	settle()
}

// TestRulesRepublishToReservedAndBasicIngest: "$$" reaches a '$aws' topic (checklist 95), and a Basic
// Ingest publish reaches its rule, whose FROM is optional (AWS: iot-basic-ingest).
func TestRulesRepublishToReservedAndBasicIngest(t *testing.T) {
	lab := newRulesLab(t)
	lab.createRule(t, "lamp", rlRule("SELECT state FROM 'lamp/+/set'", rlRepublish("$$aws/things/${topic(2)}/shadow/update", 1)))
	lab.createRule(t, "ingest", rlRule("SELECT *, topic() AS t", rlRepublish("ingested/${topic(1)}", 0)))
	sub := lab.connect(t, "observer")
	sub.subscribe("$aws/things/kitchen/shadow/update", "ingested/#")
	dev := lab.connect(t, "meter")

	dev.publish("lamp/kitchen/set", `{"state":{"desired":{"on":true}}}`)
	sub.expect("$aws/things/kitchen/shadow/update", `{"state":{"desired":{"on":true}}}`)
	dev.publish("$aws/rules/ingest/meters/m1", `{"kwh":5}`)
	sub.expect("ingested/meters", `{"kwh":5,"t":"meters/m1"}`)
}

// TestRulesLambdaAndWebhook: a lambda action runs a local command (testdata/rules_alarm.sh) and an
// http action POSTs to a local web server; when the function fails, the error action republishes
// AWS's error document (checklist 96).
func TestRulesLambdaAndWebhook(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events")
	type call struct {
		path, body, client string
	}
	calls := make(chan call, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- call{r.URL.Path, string(b), r.Header.Get("X-Client")}
	}))
	defer hook.Close()
	const arn = "arn:aws:lambda:eu-west-1:123456789012:function:alarm"
	lab := newRulesLab(t, func(o *rules.Options) {
		o.Functions = map[string]rules.Function{"alarm": {Command: []string{"sh", "testdata/rules_alarm.sh", out}}}
	})
	p := rlRule("SELECT * FROM 'sensors/+/alarm'", rlLambda(arn), rlHTTP(hook.URL+"/alarm/${topic(2)}", "X-Client", "${clientid()}"))
	p.ErrorAction = &types.Action{Republish: &types.RepublishAction{Topic: aws.String("rules/errors"), RoleArn: aws.String(rlRole), Qos: aws.Int32(1)}}
	lab.createRule(t, "alarm", p)
	sub := lab.connect(t, "ops")
	sub.subscribe("rules/errors")
	dev := lab.connect(t, "siren")

	next := func() call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(rlWait):
			t.Fatal("the webhook was not called")
			return call{}
		}
	}
	dev.publish("sensors/s1/alarm", `{"level":3}`)
	if c := next(); c.path != "/alarm/s1" || c.body != `{"level":3}` || c.client != "siren" {
		t.Fatalf("the webhook got %+v", c)
	}
	lab.Logs.wait(t, "function ran", "function=alarm")
	b, err := os.ReadFile(out)
	mustOK(t, err)
	if string(b) != "alarm {\"level\":3}\n" {
		t.Fatalf("the function saw %q", b)
	}

	failing := `{"level":9,"fail":true}`
	dev.publish("sensors/s1/alarm", failing)
	m := sub.expect("rules/errors", "")
	var doc struct {
		RuleName, Topic, CloudwatchTraceID, ClientID, Base64OriginalPayload string
		Failures                                                            []struct{ FailedAction, FailedResource, ErrorMessage string }
	}
	mustOK(t, json.Unmarshal(m.Payload, &doc))
	orig, _ := base64.StdEncoding.DecodeString(doc.Base64OriginalPayload)
	if doc.RuleName != "alarm" || doc.Topic != "sensors/s1/alarm" || doc.ClientID != "siren" || string(orig) != failing ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(doc.CloudwatchTraceID) {
		t.Fatalf("error document %s", m.Payload)
	}
	if len(doc.Failures) != 1 || doc.Failures[0].FailedAction != "LambdaAction" || doc.Failures[0].FailedResource != arn ||
		!strings.Contains(doc.Failures[0].ErrorMessage, "exit status 2: alarm: the siren is broken") {
		t.Fatalf("failures %+v; the webhook succeeded, the function did not", doc.Failures)
	}
	if !strings.HasPrefix(string(m.Payload), `{"ruleName":"alarm","topic":"sensors/s1/alarm","cloudwatchTraceId":`) {
		t.Fatalf("members out of AWS's order: %s", m.Payload)
	}
	if c := next(); c.body != failing {
		t.Fatalf("the webhook got %+v", c)
	}
}

// TestRulesDoNotHoldUpTheBroker: while a webhook keeps a rule waiting, other clients publish and
// receive, and other rules still run.
func TestRulesDoNotHoldUpTheBroker(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	lab := newRulesLab(t)
	lab.createRule(t, "slow", rlRule("SELECT * FROM 'slow/+'", rlHTTP(slow.URL)))
	lab.createRule(t, "fast", rlRule("SELECT * FROM 'fast/+'", rlRepublish("fast/out", 0)))
	sub := lab.connect(t, "listener")
	sub.subscribe("chat/#", "fast/out")
	dev := lab.connect(t, "busy")
	other := lab.connect(t, "chatty")

	dev.publish("slow/1", `{}`)
	select {
	case <-arrived:
	case <-time.After(rlWait):
		t.Fatal("the webhook was not called")
	}
	other.publish("chat/hello", `{"hi":1}`)
	sub.expect("chat/hello", `{"hi":1}`)
	dev.publish("fast/1", `{"n":1}`)
	sub.expect("fast/out", `{"n":1}`)
}

// TestRulesNotExecutedActionIsLogged: an action iotlab cannot run is stored, skipped and logged once
// per rule and action type; the rule's other actions run.
func TestRulesNotExecutedActionIsLogged(t *testing.T) {
	lab := newRulesLab(t)
	lab.createRule(t, "archive", rlRule("SELECT * FROM 'data/+'",
		types.Action{DynamoDBv2: &types.DynamoDBv2Action{RoleArn: aws.String(rlRole), PutItem: &types.PutItemInput{TableName: aws.String("readings")}}},
		rlRepublish("data/copy", 0),
		types.Action{S3: &types.S3Action{RoleArn: aws.String(rlRole), BucketName: aws.String("archive"), Key: aws.String("${topic()}")}},
	))
	lab.createRule(t, "marker", rlRule("SELECT * FROM 'marker'", rlRepublish("marker/done", 0)))
	sub := lab.connect(t, "reader")
	sub.subscribe("data/copy", "marker/done")
	dev := lab.connect(t, "logger")
	for range 2 {
		dev.publish("data/1", `{"v":1}`)
		sub.expect("data/copy", `{"v":1}`)
	}
	dev.publish("marker", `{}`)
	sub.expect("marker/done", "")
	if got := lab.Logs.matching("not executed locally"); len(got) != 2 ||
		!strings.Contains(got[0], "action=dynamoDBv2") || !strings.Contains(got[1], "action=s3") {
		t.Fatalf("log lines %q, want one for dynamoDBv2 and one for s3", got)
	}
	if s := lab.Engine.Stats(); s.NotExecuted != 4 || s.ActionFailures != 0 {
		t.Fatalf("stats %+v", s)
	}
}
