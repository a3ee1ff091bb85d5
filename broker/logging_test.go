package broker

import (
	"bytes"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iotlab/iotlab/broker/awslog"
)

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`)

// Checklist 92: the V2 logging configuration decides what goes to <state-dir>/logs: INFO logs every
// Connect, Subscribe, Publish-In, Publish-Out and Disconnect; ERROR only failures; DISABLED nothing;
// a CLIENT_ID target overrides the default for that client.
func TestAWSLogLevels(t *testing.T) {
	e := newEnv(t)
	e.pubsubPolicy()
	d := e.device("logs", "pubsub")
	e.Dir.addThing("log-thing", nil, d.ID)
	e.Dir.mu.Lock()
	e.Dir.groups["log-thing"] = []string{"child", "parent"}
	e.Dir.mu.Unlock()
	all := []string{"Connect/Success", "Subscribe/Success", "Publish-In/Success", "Publish-Out/Success", "Publish-In/Failure", "Disconnect/Success"}
	failures := []string{"Publish-In/Failure"}
	tests := []struct {
		name     string
		cfg      awslog.Config
		clientID string
		want     []string
	}{
		{"not configured", awslog.Config{}, "log-none", nil},
		{"INFO", awslog.Config{Configured: true, DefaultLevel: awslog.Info}, "log-info", all},
		{"DEBUG", awslog.Config{Configured: true, DefaultLevel: awslog.Debug}, "log-debug", all},
		{"ERROR", awslog.Config{Configured: true, DefaultLevel: awslog.Error}, "log-error", failures},
		{"DISABLED", awslog.Config{Configured: true, DefaultLevel: awslog.Disabled}, "log-disabled", nil},
		{"CLIENT_ID target overrides the default", awslog.Config{Configured: true, DefaultLevel: awslog.Error,
			Targets: map[string]map[string]awslog.Level{awslog.TargetClientID: {"log-target": awslog.Info}}}, "log-target", all},
		{"CLIENT_ID target for someone else", awslog.Config{Configured: true, DefaultLevel: awslog.Error,
			Targets: map[string]map[string]awslog.Level{awslog.TargetClientID: {"someone": awslog.Info}}}, "log-other", failures},
		{"PRINCIPAL_ID target", awslog.Config{Configured: true, DefaultLevel: awslog.Disabled,
			Targets: map[string]map[string]awslog.Level{awslog.TargetPrincipalID: {d.ID: awslog.Info}}}, "log-principal", all},
		{"THING_GROUP target (inherited from a parent group)", awslog.Config{Configured: true, DefaultLevel: awslog.Error,
			Targets: map[string]map[string]awslog.Level{awslog.TargetThingGroup: {"parent": awslog.Info}}}, "log-thing", all},
		{"disableAllLogs beats targets", awslog.Config{Configured: true, DefaultLevel: awslog.Info, DisableAll: true,
			Targets: map[string]map[string]awslog.Level{awslog.TargetClientID: {"log-disableall": awslog.Info}}}, "log-disableall", nil},
		{"event configuration", awslog.Config{Configured: true, DefaultLevel: awslog.Error,
			EventLevels: map[string]awslog.Level{"Connect": awslog.Info}}, "log-event", []string{"Connect/Success", "Publish-In/Failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Dir.setLogging(tt.cfg)
			e.Srv.LoggingChanged()
			e.Clock.Advance(time.Second)
			c := e.connect5(d, tt.clientID)
			c.subscribe("allowed/" + tt.clientID)
			_, _ = c.publish("allowed/"+tt.clientID, 1, false, "x")
			c.expect("allowed/" + tt.clientID)
			_, _ = c.publish("denied/x", 1, false, "x")
			_ = c.c.Disconnect(&paho.Disconnect{})
			e.events.wait(t, "disconnect", kindIs(EventDisconnect, tt.clientID))
			var got []string
			for _, m := range e.readLog() {
				if m["clientId"] == tt.clientID {
					got = append(got, m["eventType"].(string)+"/"+m["status"].(string))
				}
			}
			want := append([]string(nil), tt.want...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("logged %v, want %v", got, want)
			}
		})
	}
}

// The entries have AWS's common attributes (AWS: cwl-format#cwl-common-attributes) and the broker's.
func TestAWSLogEntryShape(t *testing.T) {
	e := newEnv(t)
	e.pubsubPolicy()
	e.policy("retain", allow("iot:RetainPublish", "topic/allowed/*"))
	d := e.device("shape", "pubsub", "retain")
	c := e.connect5(d, "shape")
	_, _ = c.publish("allowed/r", 1, true, "x")
	_, _ = c.publish("allowed/n", 1, false, "x")
	_, _ = c.publish("denied/x", 1, false, "x")
	_ = c.c.Disconnect(&paho.Disconnect{})
	e.events.wait(t, "disconnect", kindIs(EventDisconnect, "shape"))
	entries := e.readLog()
	for _, m := range entries {
		if m["clientId"] != "shape" {
			continue
		}
		for _, f := range []string{"timestamp", "logLevel", "traceId", "accountId", "status", "eventType", "protocol", "clientId", "principalId", "sourceIp", "sourcePort"} {
			if _, ok := m[f]; !ok {
				t.Errorf("%v lacks %s", m, f)
			}
		}
		if ts, _ := m["timestamp"].(string); !timestampRE.MatchString(ts) {
			t.Errorf("timestamp %q", ts)
		}
		if id, _ := m["traceId"].(string); !uuidRE.MatchString(id) {
			t.Errorf("traceId %q", id)
		}
		if m["accountId"] != testAccount || m["principalId"] != d.ID || m["protocol"] != "MQTT" || m["sourceIp"] != "127.0.0.1" {
			t.Errorf("entry %v", m)
		}
	}
	if l := findLog(entries, map[string]any{"eventType": "Publish-In", "topicName": "allowed/r"}); l == nil || l["retain"] != "True" || l["logLevel"] != "INFO" {
		t.Errorf("retained Publish-In %v", l)
	}
	if l := findLog(entries, map[string]any{"eventType": "Publish-In", "topicName": "allowed/n"}); l == nil || l["retain"] != nil {
		t.Errorf("Publish-In without RETAIN %v", l)
	}
	if l := findLog(entries, map[string]any{"eventType": "Publish-In", "topicName": "denied/x"}); l == nil ||
		l["status"] != "Failure" || l["logLevel"] != "ERROR" || l["reason"] != "AUTHORIZATION_FAILURE" || l["details"] != "Authorization Failure" {
		t.Errorf("failed Publish-In %v", l)
	}
	if l := findLog(entries, map[string]any{"eventType": "Disconnect", "clientId": "shape"}); l == nil || l["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" {
		t.Errorf("Disconnect %v", l)
	}
}

// The Logger (stderr under `iotlab up --log-level`) gets the entries at their slog level whatever the
// V2 configuration says.
func TestAWSLogToLogger(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	})
	e.Dir.setLogging(awslog.Config{})
	e.Srv.LoggingChanged()
	e.pubsubPolicy()
	c := e.connect5(e.device("stderr", "pubsub"), "stderr")
	_, _ = c.publish("denied/x", 1, false, "x")
	_, _ = c.publish("allowed/x", 1, false, "x")
	e.events.wait(t, "deny", kindIs(EventDeny, "stderr"))
	e.events.wait(t, "publish", kindIs(EventPublish, "stderr"))
	out := buf.String()
	if !strings.Contains(out, `msg="Publish-In Failure"`) || !strings.Contains(out, "reason=AUTHORIZATION_FAILURE") {
		t.Errorf("logger output lacks the failure: %s", out)
	}
	if strings.Contains(out, "Publish-In Success") {
		t.Errorf("an INFO entry passed an ERROR logger: %s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
