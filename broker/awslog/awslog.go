// Package awslog writes AWS IoT Core "v2" log entries: one JSON object per line, with the attributes and
// the attribute order of the entries AWS IoT sends to CloudWatch Logs (log group AWSIotLogsV2), and decides
// from a logging configuration (SetV2LoggingOptions, SetV2LoggingLevel) which entries are written.
//
// AWS: cwl-format (entry format), configure-logging (levels and targets)
package awslog

import (
	"encoding/json"
	"strconv"
	"time"
)

// Level is an AWS IoT log level. The order is verbosity: Disabled < Error < Warn < Info < Debug. An
// entry of level L is written when L is at most the threshold in force: with Info, Error, Warn and Info
// entries are written.
type Level int8

const (
	Disabled Level = iota
	Error
	Warn
	Info
	Debug
)

var levelNames = [...]string{"DISABLED", "ERROR", "WARN", "INFO", "DEBUG"}

// String returns the API name: "DISABLED", "ERROR", "WARN", "INFO" or "DEBUG".
func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel reads an API level name (case-sensitive, as the AWS API is).
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), true
		}
	}
	return Disabled, false
}

// Target types of SetV2LoggingLevel. AWS: API_LogTarget
const (
	TargetDefault     = "DEFAULT"
	TargetThingGroup  = "THING_GROUP"
	TargetClientID    = "CLIENT_ID"
	TargetSourceIP    = "SOURCE_IP"
	TargetPrincipalID = "PRINCIPAL_ID"
)

// Config is the account's logging configuration, as the control plane stores it.
type Config struct {
	// Configured is false until SetV2LoggingOptions has been called: AWS writes no log then.
	Configured bool
	// DefaultLevel applies to every client no target matches (defaultLogLevel).
	DefaultLevel Level
	// DisableAll turns every log off, targets included (disableAllLogs).
	DisableAll bool
	// Targets are the SetV2LoggingLevel entries: target type → target name → level.
	Targets map[string]map[string]Level
	// EventLevels are eventConfigurations: event type ("Connect", "Publish-In", …) → level. They replace
	// DefaultLevel for that event type; a matching resource target still wins.
	EventLevels map[string]Level
}

// Subject says who an entry is about, for resolving targets.
type Subject struct {
	ClientID, PrincipalID, SourceIP string
	ThingGroups                     []string // the thing's groups, when known
}

// Threshold returns the most verbose level an entry of eventType about sub may have to be written.
//
// Resource targets override the default (AWS: configure-logging#fine-logging). When several targets
// match (a client ID and a source IP, say), the most verbose wins: AWS does not document the
// precedence, and a learner who raised one target's level expects to see its entries.
func (c *Config) Threshold(eventType string, sub Subject) Level {
	if c == nil || !c.Configured || c.DisableAll {
		return Disabled
	}
	best, found := Disabled, false
	try := func(typ, name string) {
		if name == "" {
			return
		}
		if l, ok := c.Targets[typ][name]; ok {
			if !found || l > best {
				best = l
			}
			found = true
		}
	}
	try(TargetClientID, sub.ClientID)
	try(TargetPrincipalID, sub.PrincipalID)
	try(TargetSourceIP, sub.SourceIP)
	for _, g := range sub.ThingGroups {
		try(TargetThingGroup, g)
	}
	if found {
		return best
	}
	if l, ok := c.EventLevels[eventType]; ok {
		return l
	}
	return c.DefaultLevel
}

// MaxThreshold is the most verbose level any entry about sub could be written at, whatever its event
// type: a cheap first test before building an entry.
func (c *Config) MaxThreshold(sub Subject) Level {
	l := c.Threshold("", sub)
	if c != nil && c.Configured && !c.DisableAll {
		for _, el := range c.EventLevels {
			if el > l {
				l = el
			}
		}
	}
	return l
}

// Event types of the message broker. AWS: cwl-format#message-broker-logs
const (
	EventConnect     = "Connect"
	EventDisconnect  = "Disconnect"
	EventPublishIn   = "Publish-In"
	EventPublishOut  = "Publish-Out"
	EventSubscribe   = "Subscribe"
	EventUnsubscribe = "Unsubscribe"
)

// Status values.
const (
	StatusSuccess = "Success"
	StatusFailure = "Failure"
)

// Entry is one log entry. Fields appear in the JSON in AWS's order; empty optional ones are left out.
type Entry struct {
	Timestamp time.Time // written as "2017-08-10 15:37:23.476", UTC
	LogLevel  Level
	TraceID   string
	AccountID string
	Status    string
	EventType string
	Protocol  string // "MQTT" or "HTTP"
	TopicName string
	ClientID  string
	// PrincipalID is the certificate ID for mutual TLS connections.
	PrincipalID string
	SourceIP    string
	SourcePort  int
	// Retain is written as "retain": "True" on Publish-In entries of retained messages only.
	Retain bool
	// DisconnectReason is the lifecycle reason on Disconnect entries.
	DisconnectReason string
	// Reason and Details explain a Failure ("AUTHORIZATION_FAILURE", "Authorization Failure").
	Reason, Details string
}

// TimestampLayout is the layout of the timestamp attribute.
const TimestampLayout = "2006-01-02 15:04:05.000"

// AppendJSON appends e as one JSON object (no newline).
func (e *Entry) AppendJSON(b []byte) []byte {
	b = append(b, `{"timestamp":"`...)
	b = e.Timestamp.UTC().AppendFormat(b, TimestampLayout)
	b = append(b, `","logLevel":"`...)
	b = append(b, e.LogLevel.String()...)
	b = append(b, '"')
	b = appendField(b, "traceId", e.TraceID)
	b = appendField(b, "accountId", e.AccountID)
	b = appendField(b, "status", e.Status)
	b = appendField(b, "eventType", e.EventType)
	b = appendField(b, "protocol", e.Protocol)
	b = appendField(b, "topicName", e.TopicName)
	b = appendField(b, "clientId", e.ClientID)
	b = appendField(b, "principalId", e.PrincipalID)
	b = appendField(b, "sourceIp", e.SourceIP)
	if e.SourcePort != 0 {
		b = append(b, `,"sourcePort":`...)
		b = strconv.AppendInt(b, int64(e.SourcePort), 10)
	}
	if e.Retain {
		b = append(b, `,"retain":"True"`...)
	}
	b = appendField(b, "disconnectReason", e.DisconnectReason)
	b = appendField(b, "reason", e.Reason)
	b = appendField(b, "details", e.Details)
	return append(b, '}')
}

// appendField appends ,"name":"value" when value is not empty.
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	if !needsEscape(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return false
}

// Fields returns the entry's attributes as name/value pairs in JSON order, for structured loggers.
func (e *Entry) Fields() []any {
	kv := []any{
		"timestamp", e.Timestamp.UTC().Format(TimestampLayout),
		"logLevel", e.LogLevel.String(),
		"traceId", e.TraceID,
		"accountId", e.AccountID,
		"status", e.Status,
		"eventType", e.EventType,
	}
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, k, v)
		}
	}
	add("protocol", e.Protocol)
	add("topicName", e.TopicName)
	add("clientId", e.ClientID)
	add("principalId", e.PrincipalID)
	add("sourceIp", e.SourceIP)
	if e.SourcePort != 0 {
		kv = append(kv, "sourcePort", e.SourcePort)
	}
	if e.Retain {
		kv = append(kv, "retain", "True")
	}
	add("disconnectReason", e.DisconnectReason)
	add("reason", e.Reason)
	add("details", e.Details)
	return kv
}

// String renders the entry as its JSON line.
func (e *Entry) String() string { return string(e.AppendJSON(nil)) }
