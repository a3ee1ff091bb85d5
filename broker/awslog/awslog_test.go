package awslog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The JSON of AWS's own Connect example, attribute for attribute and in AWS's order.
// AWS: cwl-format#log-mb-connect.example
func TestEntryMatchesAWSExample(t *testing.T) {
	e := Entry{
		Timestamp:   time.Date(2017, 8, 10, 15, 37, 23, 476e6, time.UTC),
		LogLevel:    Info,
		TraceID:     "20b23f3f-d7f1-feae-169f-82263394fbdb",
		AccountID:   "123456789012",
		Status:      StatusSuccess,
		EventType:   EventConnect,
		Protocol:    "MQTT",
		ClientID:    "abf27092886e49a8a5c1922749736453",
		PrincipalID: "145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167",
		SourceIP:    "205.251.233.181",
		SourcePort:  13490,
	}
	want := `{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"20b23f3f-d7f1-feae-169f-82263394fbdb","accountId":"123456789012","status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"abf27092886e49a8a5c1922749736453","principalId":"145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167","sourceIp":"205.251.233.181","sourcePort":13490}`
	if got := e.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEntryEscapesAndOptionalFields(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want map[string]any
	}{
		{"retain only as True", Entry{EventType: EventPublishIn, TopicName: "a/b", Retain: true},
			map[string]any{"retain": "True", "topicName": "a/b"}},
		{"failure reason and details", Entry{Status: StatusFailure, Reason: "AUTHORIZATION_FAILURE", Details: "Authorization Failure"},
			map[string]any{"reason": "AUTHORIZATION_FAILURE", "details": "Authorization Failure"}},
		{"quotes and control characters", Entry{ClientID: "a\"b\\c\n<d>"},
			map[string]any{"clientId": "a\"b\\c\n<d>"}},
		{"disconnect reason", Entry{EventType: EventDisconnect, DisconnectReason: "CONNECTION_LOST"},
			map[string]any{"disconnectReason": "CONNECTION_LOST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(tt.e.AppendJSON(nil), &m); err != nil {
				t.Fatalf("%s: %v", tt.e.String(), err)
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if _, ok := m["retain"]; ok && !tt.e.Retain {
				t.Error("retain written without RETAIN")
			}
		})
	}
}

func TestThreshold(t *testing.T) {
	cfg := &Config{
		Configured:   true,
		DefaultLevel: Error,
		Targets: map[string]map[string]Level{
			TargetClientID:    {"c1": Debug, "c2": Disabled},
			TargetSourceIP:    {"10.0.0.1": Info},
			TargetPrincipalID: {"p1": Warn},
			TargetThingGroup:  {"g1": Info},
		},
		EventLevels: map[string]Level{EventPublishOut: Info},
	}
	tests := []struct {
		name      string
		cfg       *Config
		eventType string
		sub       Subject
		want      Level
	}{
		{"nil config", nil, EventConnect, Subject{}, Disabled},
		{"not configured", &Config{DefaultLevel: Debug}, EventConnect, Subject{}, Disabled},
		{"default", cfg, EventConnect, Subject{ClientID: "x"}, Error},
		{"event type overrides the default", cfg, EventPublishOut, Subject{ClientID: "x"}, Info},
		{"client ID target", cfg, EventConnect, Subject{ClientID: "c1"}, Debug},
		{"target below the default still wins", cfg, EventConnect, Subject{ClientID: "c2"}, Disabled},
		{"target beats the event type", cfg, EventPublishOut, Subject{ClientID: "c2"}, Disabled},
		{"source IP", cfg, EventConnect, Subject{SourceIP: "10.0.0.1"}, Info},
		{"principal", cfg, EventConnect, Subject{PrincipalID: "p1"}, Warn},
		{"thing group", cfg, EventConnect, Subject{ThingGroups: []string{"g0", "g1"}}, Info},
		{"most verbose matching target", cfg, EventConnect, Subject{ClientID: "c2", SourceIP: "10.0.0.1"}, Info},
		{"disable all", &Config{Configured: true, DefaultLevel: Debug, DisableAll: true}, EventConnect, Subject{}, Disabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Threshold(tt.eventType, tt.sub); got != tt.want {
				t.Errorf("Threshold = %s, want %s", got, tt.want)
			}
		})
	}
	if got := cfg.MaxThreshold(Subject{ClientID: "x"}); got != Info {
		t.Errorf("MaxThreshold = %s, want INFO (the Publish-Out event level)", got)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{Disabled, Error, Warn, Info, Debug} {
		if got, ok := ParseLevel(l.String()); !ok || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, ok)
		}
	}
	if _, ok := ParseLevel("info"); ok {
		t.Error(`ParseLevel("info") accepted a lower-case level; the API is case-sensitive`)
	}
}

func TestFileRotates(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.maxBytes = 300
	e := Entry{Timestamp: time.Unix(0, 0), LogLevel: Info, EventType: EventConnect, ClientID: strings.Repeat("c", 100)}
	for i := 0; i < 5; i++ {
		if err := f.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(dir, FileName+".1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) > 300 || len(old) > 300 || len(cur) == 0 {
		t.Errorf("sizes %d and %d, want each at most 300", len(cur), len(old))
	}
	if err := f.Write(&e); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func ExampleEntry_String() {
	e := Entry{
		Timestamp: time.Date(2019, 4, 28, 22, 5, 30, 105e6, time.UTC),
		LogLevel:  Error, TraceID: "02a04a93-0b3a-b608-a27c-1ae8ebdb032a", AccountID: "123456789012",
		Status: StatusFailure, EventType: EventDisconnect, Protocol: "MQTT", ClientID: "clientId01",
		PrincipalID: "1670fcf6de55adc1930169142405c4a2493d9eb5487127cd0091ca0193a3d3f6",
		SourceIP:    "203.0.113.1", SourcePort: 21335,
		Reason: "DUPLICATE_CLIENT_ID", Details: "A new connection was established with the same client ID",
	}
	fmt.Println(e.String())
	// Output:
	// {"timestamp":"2019-04-28 22:05:30.105","logLevel":"ERROR","traceId":"02a04a93-0b3a-b608-a27c-1ae8ebdb032a","accountId":"123456789012","status":"Failure","eventType":"Disconnect","protocol":"MQTT","clientId":"clientId01","principalId":"1670fcf6de55adc1930169142405c4a2493d9eb5487127cd0091ca0193a3d3f6","sourceIp":"203.0.113.1","sourcePort":21335,"reason":"DUPLICATE_CLIENT_ID","details":"A new connection was established with the same client ID"}
}
