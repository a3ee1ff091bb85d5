package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/rules/sql"
)

// Topic rules (AWS: iot-rules, API_CreateTopicRule) are kept as extra records: kind "rule", name = the
// rule name, so that TagResource finds them by ARN (arn:…:rule/<name>) like any taggable resource.
// Every change emits Event{Kind: "rule", Name: <rule name>}: the rules engine reloads its rules.
const (
	ruleKind = "rule"
	// RuleEventKind is the Event.Kind of every topic rule change.
	RuleEventKind = "rule"

	maxRuleNameLen = 128       // AWS: API_CreateTopicRule (RuleName: 1–128, ^[a-zA-Z0-9_]+$)
	maxRuleActions = 10        // AWS: API_TopicRulePayload (actions: 0–10), GR:iot-core ("Actions per rule")
	maxRuleBytes   = 256 << 10 // GR:iot-core ("Maximum size of a rule", 256 KB; legacy page)

	// Page sizes of ListTopicRules: the model allows 1–10000 (TopicRuleMaxResults); AWS documents no
	// default. 1000 (the legacy rules-per-account quota) lists every rule of a lab account at once.
	defaultRulePage = 1000
	maxRulePage     = 10000
)

// The SQL versions CreateTopicRule accepts. AWS: iot-rule-sql-version ("If you don't specify a
// version, the default is 2015-10-08"). iotlab evaluates every version with 2016-03-23's semantics.
const (
	SQLVersion2015    = "2015-10-08"
	SQLVersion2016    = "2016-03-23"
	SQLVersionBeta    = "beta"
	DefaultSQLVersion = SQLVersion2015
)

var reRuleName = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

// TopicRule is a rule of the rules engine, as CreateTopicRule and ReplaceTopicRule store it.
// AWS: API_TopicRule
type TopicRule struct {
	Name        string       `json:"name"`
	SQL         string       `json:"sql"`
	Topic       string       `json:"topic"` // the FROM topic filter ("" without FROM): ListTopicRules' topicPattern
	Description string       `json:"description,omitempty"`
	SQLVersion  string       `json:"sqlVersion"`
	Disabled    bool         `json:"disabled,omitempty"`
	Actions     []RuleAction `json:"actions"`
	ErrorAction *RuleAction  `json:"errorAction,omitempty"`
	Created     time.Time    `json:"created"`
}

// RuleAction is one rule action as AWS's Action union spells it: Type is the union member's name
// ("republish", "lambda", "http", "dynamoDBv2", …) and Params that member's JSON document, kept as the
// caller sent it so that every action type round-trips, including those iotlab does not run. The
// registry checks the members the model requires; the rules engine interprets the rest.
type RuleAction struct {
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params"`
}

// TopicRuleInput is CreateTopicRule's and ReplaceTopicRule's input. AWS: API_TopicRulePayload
type TopicRuleInput struct {
	Name        string
	SQL         string
	Description string
	SQLVersion  string // "" is the default, 2015-10-08
	Disabled    bool
	Actions     []RuleAction
	ErrorAction *RuleAction
	Tags        []Tag // CreateTopicRule only
}

// ListTopicRulesInput filters ListTopicRules. AWS: API_ListTopicRules
type ListTopicRulesInput struct {
	// Topic keeps the rules whose FROM topic filter is Topic, or matches it (unverified: AWS documents
	// only "The topic").
	Topic string
	// Disabled, when set, keeps only the rules whose ruleDisabled equals it.
	Disabled *bool
	Page     Page
}

// RuleARN is arn:aws:iot:<region>:<account>:rule/<name>.
func RuleARN(sc Scope, name string) string { return arn.IoT(sc.Region, sc.Account, "rule", name) }

// actionSpec is what the registry knows of one member of AWS's Action union: its shape name and the
// members the shape requires (botocore's iot model; a dotted path is a member of a required structure).
type actionSpec struct {
	shape    string
	required []string
}

// ruleActions lists every action type of the model. AWS: API_Action
var ruleActions = map[string]actionSpec{
	"cloudwatchAlarm":  {"CloudwatchAlarmAction", []string{"roleArn", "alarmName", "stateReason", "stateValue"}},
	"cloudwatchLogs":   {"CloudwatchLogsAction", []string{"roleArn", "logGroupName"}},
	"cloudwatchMetric": {"CloudwatchMetricAction", []string{"roleArn", "metricNamespace", "metricName", "metricValue", "metricUnit"}},
	"dynamoDB":         {"DynamoDBAction", []string{"tableName", "roleArn", "hashKeyField", "hashKeyValue"}},
	"dynamoDBv2":       {"DynamoDBv2Action", []string{"roleArn", "putItem", "putItem.tableName"}},
	"elasticsearch":    {"ElasticsearchAction", []string{"roleArn", "endpoint", "index", "type", "id"}},
	"firehose":         {"FirehoseAction", []string{"roleArn", "deliveryStreamName"}},
	"http":             {"HttpAction", []string{"url"}},
	"iotAnalytics":     {"IotAnalyticsAction", nil},
	"iotEvents":        {"IotEventsAction", []string{"inputName", "roleArn"}},
	"iotSiteWise":      {"IotSiteWiseAction", []string{"putAssetPropertyValueEntries", "roleArn"}},
	"kafka":            {"KafkaAction", []string{"destinationArn", "topic", "clientProperties"}},
	"kinesis":          {"KinesisAction", []string{"roleArn", "streamName"}},
	"lambda":           {"LambdaAction", []string{"functionArn"}},
	"location":         {"LocationAction", []string{"roleArn", "trackerName", "deviceId", "latitude", "longitude"}},
	"openSearch":       {"OpenSearchAction", []string{"roleArn", "endpoint", "index", "type", "id"}},
	"republish":        {"RepublishAction", []string{"roleArn", "topic"}},
	"s3":               {"S3Action", []string{"roleArn", "bucketName", "key"}},
	"salesforce":       {"SalesforceAction", []string{"token", "url"}},
	"sns":              {"SnsAction", []string{"targetArn", "roleArn"}},
	"sqs":              {"SqsAction", []string{"roleArn", "queueUrl"}},
	"stepFunctions":    {"StepFunctionsAction", []string{"stateMachineName", "roleArn"}},
	"timestream":       {"TimestreamAction", []string{"roleArn", "databaseName", "tableName", "dimensions"}},
}

func checkRuleName(name string) error {
	switch {
	case name == "":
		return invalid(name, "ruleName", "Member must have length greater than or equal to 1")
	case len(name) > maxRuleNameLen:
		return invalid(name, "ruleName", fmt.Sprintf("Member must have length less than or equal to %d", maxRuleNameLen))
	case !reRuleName.MatchString(name):
		return invalid(name, "ruleName", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$")
	}
	return nil
}

func ruleDenied(name string) error {
	// AWS answers a rule that does not exist as one the caller may not see: UnauthorizedException (401);
	// the topic rule operations model no ResourceNotFoundException. [3P] terraform-provider-aws
	// internal/service/iot (research §5.6, checklist 78).
	return awserr.New(awserr.Unauthorized, "Access to topic rule '%s' was denied", name)
}

// checkRule validates a rule payload as CreateTopicRule does and returns the rule to store (without
// Created). SQL that does not parse is a SqlParseException with the parser's message.
func checkRule(in TopicRuleInput) (*TopicRule, error) {
	if err := checkRuleName(in.Name); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.SQL) == "" {
		return nil, requiredMember("topicRulePayload.sql")
	}
	version := in.SQLVersion
	switch version {
	case "":
		version = DefaultSQLVersion
	case SQLVersion2015, SQLVersion2016, SQLVersionBeta:
	default:
		// The model declares a plain string; AWS's answer to another value is unverified.
		return nil, awserr.InvalidReq("Unsupported awsIotSqlVersion %q: use %s, %s or %s", version, SQLVersion2016, SQLVersion2015, SQLVersionBeta)
	}
	st, err := sql.Parse(in.SQL)
	if err != nil {
		return nil, awserr.New(awserr.SqlParse, "%s", strings.TrimPrefix(err.Error(), "sql: "))
	}
	if len(in.Actions) > maxRuleActions {
		return nil, invalid(fmt.Sprintf("%d actions", len(in.Actions)), "topicRulePayload.actions", fmt.Sprintf("Member must have length less than or equal to %d", maxRuleActions))
	}
	rule := &TopicRule{
		Name:        in.Name,
		SQL:         in.SQL,
		Topic:       st.Topic(),
		Description: in.Description,
		SQLVersion:  version,
		Disabled:    in.Disabled,
	}
	rule.Actions = make([]RuleAction, 0, len(in.Actions))
	for i, a := range in.Actions {
		ca, err := checkRuleAction("topicRulePayload.actions."+strconv.Itoa(i+1)+".member", a)
		if err != nil {
			return nil, err
		}
		rule.Actions = append(rule.Actions, ca)
	}
	if in.ErrorAction != nil {
		ca, err := checkRuleAction("topicRulePayload.errorAction", *in.ErrorAction)
		if err != nil {
			return nil, err
		}
		rule.ErrorAction = &ca
	}
	if b, _ := json.Marshal(rule); len(b) > maxRuleBytes {
		return nil, awserr.InvalidReq("The rule is %d bytes; a rule can be at most %d bytes", len(b), maxRuleBytes)
	}
	return rule, nil
}

// checkRuleAction checks an action's type and required members, the republish QoS, and the
// substitution templates of the fields iotlab runs (so that a rule never fails later on a template it
// could not parse; AWS's check of templates at creation is unverified).
func checkRuleAction(path string, a RuleAction) (RuleAction, error) {
	spec, ok := ruleActions[a.Type]
	if !ok {
		return a, awserr.InvalidReq("%s: unknown action type %q", path, a.Type)
	}
	path += "." + a.Type
	var params map[string]json.RawMessage
	if err := json.Unmarshal(a.Params, &params); err != nil || params == nil {
		return a, awserr.InvalidReq("%s: the action's parameters must be a JSON object", path)
	}
	for _, req := range spec.required {
		if !hasMember(params, req) {
			return a, requiredMember(path + "." + req)
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, a.Params); err != nil {
		return a, awserr.InvalidReq("%s: the action's parameters must be a JSON object", path)
	}
	out := RuleAction{Type: a.Type, Params: compact.Bytes()}
	switch a.Type {
	case "republish":
		var p struct {
			Topic string `json:"topic"`
			QoS   *int   `json:"qos"`
		}
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return a, awserr.InvalidReq("%s: %v", path, err)
		}
		if p.QoS != nil && (*p.QoS < 0 || *p.QoS > 1) {
			return a, invalid(strconv.Itoa(*p.QoS), path+".qos", "Member must have value between 0 and 1")
		}
		if err := checkTemplate(path+".topic", p.Topic); err != nil {
			return a, err
		}
	case "lambda":
		var p struct {
			FunctionArn string `json:"functionArn"`
		}
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return a, awserr.InvalidReq("%s: %v", path, err)
		}
		if err := checkTemplate(path+".functionArn", p.FunctionArn); err != nil {
			return a, err
		}
	case "http":
		var p struct {
			URL     string `json:"url"`
			Headers []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return a, awserr.InvalidReq("%s: %v", path, err)
		}
		if len(p.URL) > 2000 {
			return a, invalid(p.URL, path+".url", "Member must have length less than or equal to 2000")
		}
		if err := checkTemplate(path+".url", p.URL); err != nil {
			return a, err
		}
		if len(p.Headers) > 100 {
			return a, invalid(strconv.Itoa(len(p.Headers))+" headers", path+".headers", "Member must have length less than or equal to 100")
		}
		for i, h := range p.Headers {
			hp := path + ".headers." + strconv.Itoa(i+1) + ".member"
			if h.Key == "" || len(h.Key) > 256 {
				return a, invalid(h.Key, hp+".key", "Member must have length between 1 and 256")
			}
			if err := checkTemplate(hp+".value", h.Value); err != nil {
				return a, err
			}
		}
	}
	return out, nil
}

// hasMember reports whether a required member (dotted for nested structures) is there and not null or "".
func hasMember(params map[string]json.RawMessage, path string) bool {
	head, rest, nested := strings.Cut(path, ".")
	raw, ok := params[head]
	if !ok {
		return false
	}
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0, string(t) == "null", string(t) == `""`:
		return false
	}
	if !nested {
		return true
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil {
		return false
	}
	return hasMember(inner, rest)
}

func checkTemplate(path, text string) error {
	if _, err := sql.ParseTemplate(text); err != nil {
		return awserr.InvalidReq("%s: invalid substitution template %q: %s", path, text, strings.TrimPrefix(err.Error(), "sql: "))
	}
	return nil
}

func requiredMember(path string) error {
	return awserr.InvalidReq("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", path)
}

// storedRule decodes a rule record; nil when there is none (or it cannot be read).
func storedRule(s *state, name string) *TopicRule {
	raw := s.extra[ruleKind][name]
	if raw == nil {
		return nil
	}
	var r TopicRule
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil
	}
	return &r
}

// putRule stages a rule record and, after commit, keeps its JSON in memory.
func (t *txn) putRule(r *TopicRule) {
	raw, err := json.Marshal(r)
	if err != nil {
		panic("registry: marshal rule: " + err.Error()) // our own types always marshal
	}
	s := t.s
	t.put(ruleKind, r.Name, r, func() {
		if s.extra[ruleKind] == nil {
			s.extra[ruleKind] = map[string]json.RawMessage{}
		}
		s.extra[ruleKind][r.Name] = raw
	})
	t.emit(Event{Kind: RuleEventKind, Name: r.Name})
}

// CreateTopicRule creates a rule. AWS: API_CreateTopicRule
func (r *Registry) CreateTopicRule(sc Scope, in TopicRuleInput) error {
	rule, err := checkRule(in)
	if err != nil {
		return err
	}
	if err := checkTags(in.Tags); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		if t.s.extra[ruleKind][in.Name] != nil {
			return &awserr.Error{Code: awserr.ResourceAlreadyExists, Message: "Rule " + in.Name + " already exists",
				Fields: map[string]string{"resourceArn": RuleARN(sc, in.Name)}}
		}
		rule.Created = r.now().UTC()
		t.putRule(rule)
		return t.createTags(RuleARN(sc, in.Name), in.Tags)
	})
}

// ReplaceTopicRule replaces a rule's payload: SQL, description, actions, error action, SQL version and
// ruleDisabled all come from the new payload. Its creation date and tags stay. AWS: API_ReplaceTopicRule
func (r *Registry) ReplaceTopicRule(sc Scope, in TopicRuleInput) error {
	rule, err := checkRule(in)
	if err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		old := storedRule(t.s, in.Name)
		if old == nil {
			return ruleDenied(in.Name)
		}
		rule.Created = old.Created
		t.putRule(rule)
		return nil
	})
}

// GetTopicRule returns a copy of a rule. AWS: API_GetTopicRule
func (r *Registry) GetTopicRule(sc Scope, name string) (*TopicRule, error) {
	if err := checkRuleName(name); err != nil {
		return nil, err
	}
	var out *TopicRule
	err := r.view(sc, func(s *state) error {
		out = storedRule(s, name)
		if out == nil {
			return ruleDenied(name)
		}
		return nil
	})
	return out, err
}

// DeleteTopicRule deletes a rule and its tags. AWS: API_DeleteTopicRule
func (r *Registry) DeleteTopicRule(sc Scope, name string) error {
	if err := checkRuleName(name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		if s.extra[ruleKind][name] == nil {
			return ruleDenied(name)
		}
		t.del(ruleKind, name, func() { delete(s.extra[ruleKind], name) })
		t.setTags(RuleARN(sc, name), nil)
		t.emit(Event{Kind: RuleEventKind, Name: name})
		return nil
	})
}

// SetTopicRuleEnabled enables or disables a rule. AWS: API_EnableTopicRule, API_DisableTopicRule
func (r *Registry) SetTopicRuleEnabled(sc Scope, name string, enabled bool) error {
	if err := checkRuleName(name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		rule := storedRule(t.s, name)
		if rule == nil {
			return ruleDenied(name)
		}
		rule.Disabled = !enabled
		t.putRule(rule)
		return nil
	})
}

// ListTopicRules returns a page of rules, sorted by name. AWS: API_ListTopicRules
func (r *Registry) ListTopicRules(sc Scope, in ListTopicRulesInput) ([]*TopicRule, string, error) {
	p := in.Page
	if p.Default == 0 {
		p.Default = defaultRulePage
	}
	if p.Limit == 0 {
		p.Limit = maxRulePage
	}
	var (
		out  []*TopicRule
		next string
	)
	err := r.view(sc, func(s *state) error {
		keep := func(name string, _ json.RawMessage) bool {
			if in.Topic == "" && in.Disabled == nil {
				return true
			}
			rule := storedRule(s, name)
			if rule == nil {
				return false
			}
			if in.Disabled != nil && rule.Disabled != *in.Disabled {
				return false
			}
			return in.Topic == "" || rule.Topic == in.Topic || (rule.Topic != "" && sql.MatchTopic(rule.Topic, in.Topic))
		}
		names, nt, err := pageOf(s.extra[ruleKind], keep, p)
		if err != nil {
			return err
		}
		for _, n := range names {
			if rule := storedRule(s, n); rule != nil {
				out = append(out, rule)
			}
		}
		next = nt
		return nil
	})
	return out, next, err
}

// EnabledTopicRules returns every enabled rule of a scope, sorted by name: what the rules engine runs.
func (r *Registry) EnabledTopicRules(sc Scope) []*TopicRule {
	var out []*TopicRule
	_ = r.view(sc, func(s *state) error {
		for _, n := range sortedKeys(s.extra[ruleKind], nil) {
			if rule := storedRule(s, n); rule != nil && !rule.Disabled {
				out = append(out, rule)
			}
		}
		return nil
	})
	return out
}
