package registry

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

func republishRule(name, sql, topic string) TopicRuleInput {
	return TopicRuleInput{Name: name, SQL: sql, Actions: []RuleAction{
		{Type: "republish", Params: json.RawMessage(`{"topic":"` + topic + `", "roleArn":"arn:aws:iam::123456789012:role/r"}`)},
	}}
}

// rulesDump is the scope's rules and tags as JSON.
func rulesDump(t *testing.T, r *Registry, sc Scope) string {
	t.Helper()
	rules, _, err := r.ListTopicRules(sc, ListTopicRulesInput{})
	must(t, err)
	var tags any
	_ = r.view(sc, func(s *state) error { tags = s.tags; return nil })
	b, err := json.Marshal(map[string]any{"rules": rules, "tags": tags})
	must(t, err)
	return string(b)
}

func TestTopicRuleLifecycle(t *testing.T) {
	f := newRegFixture(t)
	var events []string
	f.reg.Watch(func(e Event) { events = append(events, e.Kind+":"+e.Name) })

	in := republishRule("hot", "SELECT temp FROM 'home/+/temperature' WHERE temp > 30", "alerts/${topic(2)}")
	in.Description = "too hot"
	in.Tags = []Tag{{"team", "lab"}}
	must(t, f.reg.CreateTopicRule(f.sc, in))
	wantCode(t, f.reg.CreateTopicRule(f.sc, in), awserr.ResourceAlreadyExists)

	got, err := f.reg.GetTopicRule(f.sc, "hot")
	must(t, err)
	if got.Topic != "home/+/temperature" || got.SQLVersion != SQLVersion2015 || got.Disabled || got.Description != "too hot" ||
		!got.Created.Equal(f.clock.Now()) || len(got.Actions) != 1 || got.Actions[0].Type != "republish" ||
		string(got.Actions[0].Params) != `{"topic":"alerts/${topic(2)}","roleArn":"arn:aws:iam::123456789012:role/r"}` {
		t.Fatalf("GetTopicRule: %+v %s", got, got.Actions[0].Params)
	}
	tags, _, err := f.reg.ListTagsForResource(f.sc, RuleARN(f.sc, "hot"), Page{})
	must(t, err)
	if fmt.Sprint(tags) != "[{team lab}]" {
		t.Fatalf("tags %v", tags)
	}

	must(t, f.reg.SetTopicRuleEnabled(f.sc, "hot", false))
	if got := f.reg.EnabledTopicRules(f.sc); len(got) != 0 {
		t.Fatalf("EnabledTopicRules after disabling: %+v", got)
	}
	must(t, f.reg.SetTopicRuleEnabled(f.sc, "hot", true))
	if got := f.reg.EnabledTopicRules(f.sc); len(got) != 1 || got[0].Name != "hot" {
		t.Fatalf("EnabledTopicRules after enabling: %+v", got)
	}

	f.clock.Advance(3600e9)
	repl := republishRule("hot", "SELECT * FROM 'home/#'", "all")
	repl.SQLVersion = SQLVersion2016
	repl.Disabled = true
	must(t, f.reg.ReplaceTopicRule(f.sc, repl))
	got, err = f.reg.GetTopicRule(f.sc, "hot")
	must(t, err)
	if got.Topic != "home/#" || got.SQLVersion != SQLVersion2016 || !got.Disabled || got.Description != "" ||
		got.Created.Equal(f.clock.Now()) {
		t.Fatalf("after ReplaceTopicRule: %+v (the creation date stays)", got)
	}

	// The state survives a restart.
	before := rulesDump(t, f.reg, f.sc)
	if after := rulesDump(t, f.open(t), f.sc); after != before {
		t.Fatalf("rules after reopening:\n got %s\nwant %s", after, before)
	}

	must(t, f.reg.DeleteTopicRule(f.sc, "hot"))
	_, err = f.reg.GetTopicRule(f.sc, "hot")
	wantCode(t, err, awserr.Unauthorized)
	_, _, err = f.reg.ListTagsForResource(f.sc, RuleARN(f.sc, "hot"), Page{})
	wantCode(t, err, awserr.ResourceNotFound)

	if got, want := strings.Join(events, " "), "rule:hot rule:hot rule:hot rule:hot rule:hot"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestUnknownTopicRule: every operation on a rule that does not exist answers UnauthorizedException,
// as AWS does (checklist 78).
func TestUnknownTopicRule(t *testing.T) {
	f := newRegFixture(t)
	ops := map[string]func() error{
		"GetTopicRule":     func() error { _, err := f.reg.GetTopicRule(f.sc, "nope"); return err },
		"ReplaceTopicRule": func() error { return f.reg.ReplaceTopicRule(f.sc, republishRule("nope", "SELECT * FROM 'a'", "b")) },
		"DeleteTopicRule":  func() error { return f.reg.DeleteTopicRule(f.sc, "nope") },
		"EnableTopicRule":  func() error { return f.reg.SetTopicRuleEnabled(f.sc, "nope", true) },
		"DisableTopicRule": func() error { return f.reg.SetTopicRuleEnabled(f.sc, "nope", false) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			err := op()
			wantCode(t, err, awserr.Unauthorized)
			if want := "Access to topic rule 'nope' was denied"; awserr.From(err).Message != want {
				t.Fatalf("message %q, want %q", awserr.From(err).Message, want)
			}
		})
	}
}

func TestCreateTopicRuleValidation(t *testing.T) {
	role := `"roleArn":"arn:aws:iam::123456789012:role/r"`
	act := func(typ, params string) RuleAction { return RuleAction{Type: typ, Params: json.RawMessage(params)} }
	ok := republishRule("ok", "SELECT * FROM 'a'", "b")
	tests := []struct {
		name     string
		mutate   func(in *TopicRuleInput)
		wantCode string
		wantMsg  string // substring
	}{
		{"valid", func(in *TopicRuleInput) {}, "", ""},
		{"name with a dash", func(in *TopicRuleInput) { in.Name = "my-rule" }, awserr.InvalidRequest, "^[a-zA-Z0-9_]+$"},
		{"empty name", func(in *TopicRuleInput) { in.Name = "" }, awserr.InvalidRequest, "greater than or equal to 1"},
		{"name of 129 characters", func(in *TopicRuleInput) { in.Name = strings.Repeat("r", 129) }, awserr.InvalidRequest, "less than or equal to 128"},
		{"name of 128 characters", func(in *TopicRuleInput) { in.Name = strings.Repeat("r", 128) }, "", ""},
		{"no SQL", func(in *TopicRuleInput) { in.SQL = "" }, awserr.InvalidRequest, "topicRulePayload.sql"},
		{"bad SQL", func(in *TopicRuleInput) { in.SQL = "SELECT temp FROM sensors/+/data" }, awserr.SqlParse, "Syntax error at line 1, column 18"},
		{"SQL version 2016", func(in *TopicRuleInput) { in.SQLVersion = SQLVersion2016 }, "", ""},
		{"SQL version beta", func(in *TopicRuleInput) { in.SQLVersion = SQLVersionBeta }, "", ""},
		{"unknown SQL version", func(in *TopicRuleInput) { in.SQLVersion = "2020-01-01" }, awserr.InvalidRequest, "awsIotSqlVersion"},
		{"no actions", func(in *TopicRuleInput) { in.Actions = nil }, "", ""},
		{"10 actions", func(in *TopicRuleInput) {
			for range 9 {
				in.Actions = append(in.Actions, in.Actions[0])
			}
		}, "", ""},
		{"11 actions", func(in *TopicRuleInput) {
			for range 10 {
				in.Actions = append(in.Actions, in.Actions[0])
			}
		}, awserr.InvalidRequest, "less than or equal to 10"},
		{"republish without topic", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("republish", `{`+role+`}`)} },
			awserr.InvalidRequest, "topicRulePayload.actions.1.member.republish.topic"},
		{"republish without role", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("republish", `{"topic":"t"}`)} },
			awserr.InvalidRequest, "republish.roleArn"},
		{"republish with an empty topic", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("republish", `{"topic":"",`+role+`}`)} },
			awserr.InvalidRequest, "republish.topic"},
		{"republish QoS 2", func(in *TopicRuleInput) {
			in.Actions = []RuleAction{act("republish", `{"topic":"t","qos":2,`+role+`}`)}
		},
			awserr.InvalidRequest, "qos"},
		{"republish with a bad template", func(in *TopicRuleInput) {
			in.Actions = []RuleAction{act("republish", `{"topic":"a/${topic(2)",`+role+`}`)}
		},
			awserr.InvalidRequest, "invalid substitution template"},
		{"lambda without functionArn", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("lambda", `{}`)} },
			awserr.InvalidRequest, "lambda.functionArn"},
		{"lambda", func(in *TopicRuleInput) {
			in.Actions = []RuleAction{act("lambda", `{"functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:f"}`)}
		}, "", ""},
		{"http without url", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("http", `{"headers":[]}`)} }, awserr.InvalidRequest, "http.url"},
		{"http header without key", func(in *TopicRuleInput) {
			in.Actions = []RuleAction{act("http", `{"url":"http://127.0.0.1/","headers":[{"key":"","value":"v"}]}`)}
		}, awserr.InvalidRequest, "headers.1.member.key"},
		{"dynamoDBv2 without table", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("dynamoDBv2", `{`+role+`,"putItem":{}}`)} },
			awserr.InvalidRequest, "dynamoDBv2.putItem.tableName"},
		{"dynamoDBv2", func(in *TopicRuleInput) {
			in.Actions = []RuleAction{act("dynamoDBv2", `{`+role+`,"putItem":{"tableName":"t"}}`)}
		}, "", ""},
		{"unknown action type", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("teleport", `{}`)} }, awserr.InvalidRequest, "unknown action type"},
		{"parameters not an object", func(in *TopicRuleInput) { in.Actions = []RuleAction{act("sqs", `[]`)} }, awserr.InvalidRequest, "JSON object"},
		{"error action checked too", func(in *TopicRuleInput) {
			in.ErrorAction = &RuleAction{Type: "sns", Params: json.RawMessage(`{"targetArn":"x"}`)}
		},
			awserr.InvalidRequest, "topicRulePayload.errorAction.sns.roleArn"},
		{"tag key reserved", func(in *TopicRuleInput) { in.Tags = []Tag{{"aws:x", "y"}} }, awserr.InvalidRequest, "reserved"},
		{"rule over 256 KB", func(in *TopicRuleInput) { in.Description = strings.Repeat("d", 256<<10) }, awserr.InvalidRequest, "at most 262144 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRegFixture(t)
			in := ok
			in.Actions = append([]RuleAction(nil), ok.Actions...)
			tc.mutate(&in)
			err := f.reg.CreateTopicRule(f.sc, in)
			if tc.wantCode == "" {
				must(t, err)
				return
			}
			wantCode(t, err, tc.wantCode)
			if msg := awserr.From(err).Message; !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("message %q, want it to contain %q", msg, tc.wantMsg)
			}
			if rules, _, _ := f.reg.ListTopicRules(f.sc, ListTopicRulesInput{}); len(rules) != 0 {
				t.Fatalf("a refused rule was stored: %+v", rules)
			}
		})
	}
}

func TestListTopicRules(t *testing.T) {
	f := newRegFixture(t)
	for _, r := range []TopicRuleInput{
		republishRule("a_temp", "SELECT * FROM 'home/+/temperature'", "x"),
		republishRule("b_all", "SELECT * FROM 'home/#'", "x"),
		republishRule("c_exact", "SELECT * FROM 'home/kitchen/temperature'", "x"),
		republishRule("d_other", "SELECT * FROM 'garden/+'", "x"),
		republishRule("e_ingest", "SELECT *", "x"),
	} {
		must(t, f.reg.CreateTopicRule(f.sc, r))
	}
	must(t, f.reg.SetTopicRuleEnabled(f.sc, "b_all", false))
	yes, no := true, false
	names := func(rs []*TopicRule) string {
		var n []string
		for _, r := range rs {
			n = append(n, r.Name)
		}
		return strings.Join(n, ",")
	}
	tests := []struct {
		name string
		in   ListTopicRulesInput
		want string
	}{
		{"all", ListTopicRulesInput{}, "a_temp,b_all,c_exact,d_other,e_ingest"},
		{"a topic: the rules it triggers", ListTopicRulesInput{Topic: "home/kitchen/temperature"}, "a_temp,b_all,c_exact"},
		{"a filter: the rules with that filter", ListTopicRulesInput{Topic: "home/+/temperature"}, "a_temp"},
		{"disabled only", ListTopicRulesInput{Disabled: &yes}, "b_all"},
		{"enabled for a topic", ListTopicRulesInput{Topic: "home/kitchen/temperature", Disabled: &no}, "a_temp,c_exact"},
		{"nothing", ListTopicRulesInput{Topic: "office/x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := f.reg.ListTopicRules(f.sc, tc.in)
			must(t, err)
			if names(got) != tc.want || next != "" {
				t.Fatalf("got %q (next %q), want %q", names(got), next, tc.want)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var all []string
		token := ""
		for range 10 {
			page, next, err := f.reg.ListTopicRules(f.sc, ListTopicRulesInput{Page: Page{Token: token, Max: 2}})
			must(t, err)
			all = append(all, names(page))
			if token = next; token == "" {
				break
			}
		}
		if got := strings.Join(all, "|"); got != "a_temp,b_all|c_exact,d_other|e_ingest" {
			t.Fatalf("pages %q", got)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		_, _, err := f.reg.ListTopicRules(f.sc, ListTopicRulesInput{Page: Page{Token: "!!"}})
		wantCode(t, err, awserr.InvalidRequest)
	})
}

// TestTopicRuleFailedWriteChangesNothing: a rule mutation whose write fails answers
// InternalFailureException and leaves memory and disk as they were, and tells no watcher.
func TestTopicRuleFailedWriteChangesNothing(t *testing.T) {
	tests := []struct {
		name string
		op   func(r *Registry, sc Scope) error
	}{
		{"CreateTopicRule", func(r *Registry, sc Scope) error {
			in := republishRule("new", "SELECT * FROM 'a'", "b")
			in.Tags = []Tag{{"k", "v"}}
			return r.CreateTopicRule(sc, in)
		}},
		{"ReplaceTopicRule", func(r *Registry, sc Scope) error {
			return r.ReplaceTopicRule(sc, republishRule("old", "SELECT * FROM 'z'", "y"))
		}},
		{"DeleteTopicRule", func(r *Registry, sc Scope) error { return r.DeleteTopicRule(sc, "old") }},
		{"DisableTopicRule", func(r *Registry, sc Scope) error { return r.SetTopicRuleEnabled(sc, "old", false) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRegFixture(t)
			in := republishRule("old", "SELECT * FROM 'a'", "b")
			in.Tags = []Tag{{"t", "1"}}
			must(t, f.reg.CreateTopicRule(f.sc, in))
			before := rulesDump(t, f.reg, f.sc)
			events := 0
			f.reg.Watch(func(Event) { events++ })
			f.store.FailWrites(syscall.ENOSPC)
			err := tc.op(f.reg, f.sc)
			f.store.FailWrites(nil)
			wantCode(t, err, awserr.InternalFailure)
			if got := rulesDump(t, f.reg, f.sc); got != before {
				t.Fatalf("memory changed:\n got %s\nwant %s", got, before)
			}
			if got := rulesDump(t, f.open(t), f.sc); got != before {
				t.Fatalf("disk changed:\n got %s\nwant %s", got, before)
			}
			if events != 0 {
				t.Fatalf("%d events for a failed write", events)
			}
			must(t, tc.op(f.reg, f.sc))
		})
	}
}
