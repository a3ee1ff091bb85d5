package registry

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/iotlab/iotlab/emulator/awserr"
)

// The V2 logging configuration (AWS: configure-logging, API_SetV2LoggingOptions, API_SetV2LoggingLevel)
// is kept as extra records: kind "logging", name "options" for the options, and kind "loglevel", name
// "<targetType>:<targetName>" for each resource-specific level. Changes emit Event{Kind: "logging"} so
// the broker re-reads them.
const (
	loggingKind     = "logging"
	loggingName     = "options"
	logLevelKind    = "loglevel"
	logEventKind    = "logging"
	maxLogTargets   = 1000 // resource-specific log targets per account (unverified: the quota page lists 1000)
	maxEventTypeLen = 128
)

// Log levels and target types, as the API spells them. AWS: API_LogTarget, API_SetV2LoggingLevel
var (
	logLevels      = []string{"DEBUG", "INFO", "ERROR", "WARN", "DISABLED"}
	logTargetTypes = []string{"DEFAULT", "THING_GROUP", "CLIENT_ID", "SOURCE_IP", "PRINCIPAL_ID"}
)

// LoggingOptions is what SetV2LoggingOptions sets.
type LoggingOptions struct {
	RoleARN             string                  `json:"roleArn,omitempty"`
	DefaultLogLevel     string                  `json:"defaultLogLevel,omitempty"`
	DisableAllLogs      bool                    `json:"disableAllLogs,omitempty"`
	EventConfigurations []LogEventConfiguration `json:"eventConfigurations,omitempty"`
}

// LogEventConfiguration overrides the level (and destination) of one event type.
type LogEventConfiguration struct {
	EventType      string `json:"eventType"`
	LogLevel       string `json:"logLevel,omitempty"`
	LogDestination string `json:"logDestination,omitempty"`
}

// LogLevelTarget is one SetV2LoggingLevel entry.
type LogLevelTarget struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName,omitempty"`
	LogLevel   string `json:"logLevel"`
}

func checkLogLevel(member, level string, required bool) error {
	if level == "" && !required {
		return nil
	}
	if !slices.Contains(logLevels, level) {
		return invalid(level, member, "Member must satisfy enum value set: [DEBUG, INFO, ERROR, WARN, DISABLED]")
	}
	return nil
}

func checkLogTargetType(member, typ string) error {
	if !slices.Contains(logTargetTypes, typ) {
		return invalid(typ, member, "Member must satisfy enum value set: [DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID]")
	}
	return nil
}

func storedLoggingOptions(s *state) (LoggingOptions, bool) {
	raw := s.extra[loggingKind][loggingName]
	if raw == nil {
		return LoggingOptions{}, false
	}
	var o LoggingOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		return LoggingOptions{}, false
	}
	return o, true
}

// putExtra stages an extra record and, after commit, stores its JSON in memory.
func (t *txn) putExtra(kind, name string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		panic("registry: marshal " + kind + ": " + err.Error()) // our own types always marshal
	}
	s := t.s
	t.put(kind, name, v, func() {
		if s.extra[kind] == nil {
			s.extra[kind] = map[string]json.RawMessage{}
		}
		s.extra[kind][name] = raw
	})
}

func notConfigured() error {
	return awserr.New(awserr.NotConfigured, "Logging options are not configured")
}

// SetV2LoggingOptions replaces the account's logging options. AWS: API_SetV2LoggingOptions
func (r *Registry) SetV2LoggingOptions(sc Scope, o LoggingOptions) error {
	if err := checkLogLevel("defaultLogLevel", o.DefaultLogLevel, false); err != nil {
		return err
	}
	if o.RoleARN != "" && !strings.HasPrefix(o.RoleARN, "arn:") {
		return invalid(o.RoleARN, "roleArn", "Member must be an ARN")
	}
	for i, ec := range o.EventConfigurations {
		if ec.EventType == "" || len(ec.EventType) > maxEventTypeLen {
			return invalid(ec.EventType, "eventConfigurations."+strconv.Itoa(i+1)+".member.eventType", "Member must have length between 1 and 128")
		}
		if err := checkLogLevel("eventConfigurations."+strconv.Itoa(i+1)+".member.logLevel", ec.LogLevel, false); err != nil {
			return err
		}
	}
	o.EventConfigurations = slices.Clone(o.EventConfigurations)
	return r.update(sc, func(t *txn) error {
		t.putExtra(loggingKind, loggingName, o)
		t.emit(Event{Kind: logEventKind, Name: loggingName})
		return nil
	})
}

// GetV2LoggingOptions returns the logging options; NotConfiguredException before the first
// SetV2LoggingOptions. AWS: API_GetV2LoggingOptions
func (r *Registry) GetV2LoggingOptions(sc Scope) (LoggingOptions, error) {
	var (
		o  LoggingOptions
		ok bool
	)
	_ = r.view(sc, func(s *state) error { o, ok = storedLoggingOptions(s); return nil })
	if !ok {
		return LoggingOptions{}, notConfigured()
	}
	return o, nil
}

func logLevelKey(typ, name string) string { return typ + ":" + name }

// SetV2LoggingLevel sets the level of one resource target (a client ID, a source IP, a principal, a
// thing group). The DEFAULT target is SetV2LoggingOptions' defaultLogLevel and cannot be set here; the
// options must have been set first (NotConfiguredException otherwise, as the model lists).
// AWS: API_SetV2LoggingLevel
func (r *Registry) SetV2LoggingLevel(sc Scope, target LogLevelTarget) error {
	if err := checkLogTargetType("logTarget.targetType", target.TargetType); err != nil {
		return err
	}
	if target.TargetType == "DEFAULT" {
		return awserr.InvalidReq("The DEFAULT log level is set with SetV2LoggingOptions")
	}
	if target.TargetName == "" {
		return invalid("", "logTarget.targetName", "Member must not be null")
	}
	if err := checkLogLevel("logLevel", target.LogLevel, true); err != nil {
		return err
	}
	key := logLevelKey(target.TargetType, target.TargetName)
	return r.update(sc, func(t *txn) error {
		if _, ok := storedLoggingOptions(t.s); !ok {
			return notConfigured()
		}
		levels := t.s.extra[logLevelKind]
		if _, exists := levels[key]; !exists && len(levels) >= maxLogTargets {
			return awserr.New(awserr.LimitExceeded, "The maximum number of log targets (%d) has been reached", maxLogTargets)
		}
		t.putExtra(logLevelKind, key, target)
		t.emit(Event{Kind: logEventKind, Name: key})
		return nil
	})
}

// ListV2LoggingLevels lists the DEFAULT level (from the options) and the resource targets, by type
// then name, optionally of one type. AWS: API_ListV2LoggingLevels
func (r *Registry) ListV2LoggingLevels(sc Scope, targetType string, p Page) ([]LogLevelTarget, string, error) {
	if targetType != "" {
		if err := checkLogTargetType("targetType", targetType); err != nil {
			return nil, "", err
		}
	}
	var (
		out  []LogLevelTarget
		next string
	)
	err := r.view(sc, func(s *state) error {
		o, ok := storedLoggingOptions(s)
		if !ok {
			return notConfigured()
		}
		all := map[string]LogLevelTarget{}
		if targetType == "" || targetType == "DEFAULT" {
			lvl := o.DefaultLogLevel
			if lvl == "" {
				lvl = "ERROR"
			}
			all[logLevelKey("DEFAULT", "")] = LogLevelTarget{TargetType: "DEFAULT", LogLevel: lvl}
		}
		for key, raw := range s.extra[logLevelKind] {
			var lt LogLevelTarget
			if json.Unmarshal(raw, &lt) != nil || (targetType != "" && lt.TargetType != targetType) {
				continue
			}
			all[key] = lt
		}
		p.Default, p.Limit = 250, 250
		keys, nt, err := pageOf(all, nil, p)
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, all[k])
		}
		next = nt
		return nil
	})
	return out, next, err
}

// DeleteV2LoggingLevel removes a resource target; deleting one that does not exist succeeds.
// AWS: API_DeleteV2LoggingLevel
func (r *Registry) DeleteV2LoggingLevel(sc Scope, targetType, targetName string) error {
	if err := checkLogTargetType("targetType", targetType); err != nil {
		return err
	}
	if targetType == "DEFAULT" {
		return awserr.InvalidReq("The DEFAULT log level cannot be deleted")
	}
	if targetName == "" {
		return invalid("", "targetName", "Member must not be null")
	}
	key := logLevelKey(targetType, targetName)
	return r.update(sc, func(t *txn) error {
		if _, ok := t.s.extra[logLevelKind][key]; !ok {
			return nil
		}
		s := t.s
		t.del(logLevelKind, key, func() { delete(s.extra[logLevelKind], key) })
		t.emit(Event{Kind: logEventKind, Name: key})
		return nil
	})
}

// V2LoggingLevels returns every resource target, for the broker.
func (r *Registry) V2LoggingLevels(sc Scope) []LogLevelTarget {
	var out []LogLevelTarget
	_ = r.view(sc, func(s *state) error {
		for _, k := range sortedKeys(s.extra[logLevelKind], nil) {
			var lt LogLevelTarget
			if json.Unmarshal(s.extra[logLevelKind][k], &lt) == nil {
				out = append(out, lt)
			}
		}
		return nil
	})
	return out
}
