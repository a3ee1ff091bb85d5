package awsapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

const rlRole = "arn:aws:iam::123456789012:role/iot-republish"

// rlRepublish is a republish action to topic.
func rlRepublish(topic string, qos int32) types.Action {
	return types.Action{Republish: &types.RepublishAction{Topic: aws.String(topic), RoleArn: aws.String(rlRole), Qos: aws.Int32(qos)}}
}

// rlRule is a rule payload with actions.
func rlRule(sql string, actions ...types.Action) *types.TopicRulePayload {
	if actions == nil {
		actions = []types.Action{}
	}
	return &types.TopicRulePayload{Sql: aws.String(sql), Actions: actions}
}

// TestTopicRuleCRUD drives every topic rule operation through aws-sdk-go-v2 and checks what GetTopicRule
// and ListTopicRules answer after each change.
func TestTopicRuleCRUD(t *testing.T) {
	e, clock := newRegEnv(t)
	c := e.iotClient()
	created := clock.Now()

	payload := rlRule("SELECT temp, topic(2) AS room FROM 'home/+/temperature' WHERE temp > 30",
		rlRepublish("alerts/${topic(2)}", 1),
		types.Action{Lambda: &types.LambdaAction{FunctionArn: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:alarm")}},
		types.Action{DynamoDBv2: &types.DynamoDBv2Action{RoleArn: aws.String(rlRole), PutItem: &types.PutItemInput{TableName: aws.String("readings")}}},
	)
	payload.Description = aws.String("Too hot in a room")
	payload.AwsIotSqlVersion = aws.String("2016-03-23")
	payload.ErrorAction = &types.Action{Republish: &types.RepublishAction{Topic: aws.String("errors/hot"), RoleArn: aws.String(rlRole)}}
	_, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("too_hot"), TopicRulePayload: payload, Tags: aws.String("team=lab&room%20kind=indoor")})
	mustOK(t, err)
	clock.Advance(time.Minute)
	_, err = c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("ingest_only"), TopicRulePayload: rlRule("SELECT *")})
	mustOK(t, err)

	got, err := c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	r := got.Rule
	if aws.ToString(got.RuleArn) != "arn:aws:iot:eu-west-1:123456789012:rule/too_hot" || aws.ToString(r.RuleName) != "too_hot" ||
		aws.ToString(r.Sql) != aws.ToString(payload.Sql) || aws.ToString(r.Description) != "Too hot in a room" ||
		aws.ToString(r.AwsIotSqlVersion) != "2016-03-23" || aws.ToBool(r.RuleDisabled) || !aws.ToTime(r.CreatedAt).Equal(created) {
		t.Fatalf("GetTopicRule: %+v %+v", got, r)
	}
	if len(r.Actions) != 3 || aws.ToString(r.Actions[0].Republish.Topic) != "alerts/${topic(2)}" || aws.ToInt32(r.Actions[0].Republish.Qos) != 1 ||
		aws.ToString(r.Actions[1].Lambda.FunctionArn) != "arn:aws:lambda:eu-west-1:123456789012:function:alarm" ||
		aws.ToString(r.Actions[2].DynamoDBv2.PutItem.TableName) != "readings" ||
		r.ErrorAction == nil || aws.ToString(r.ErrorAction.Republish.Topic) != "errors/hot" {
		t.Fatalf("GetTopicRule actions: %+v error action %+v", r.Actions, r.ErrorAction)
	}
	bare, err := c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("ingest_only")})
	mustOK(t, err)
	if aws.ToString(bare.Rule.AwsIotSqlVersion) != "2015-10-08" || bare.Rule.Actions == nil || len(bare.Rule.Actions) != 0 || bare.Rule.ErrorAction != nil {
		t.Fatalf("GetTopicRule of a bare rule: %+v (the default SQL version is 2015-10-08)", bare.Rule)
	}

	tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: got.RuleArn})
	mustOK(t, err)
	if got := tagStrings(tags.Tags); !slices.Equal(got, []string{"room kind=indoor", "team=lab"}) {
		t.Fatalf("tags %v", got)
	}

	list := func(in *iot.ListTopicRulesInput) []string {
		t.Helper()
		out, err := c.ListTopicRules(ctx, in)
		mustOK(t, err)
		var names []string
		for _, it := range out.Rules {
			names = append(names, aws.ToString(it.RuleName)+"|"+aws.ToString(it.TopicPattern)+"|"+aws.ToString(it.RuleArn)[len("arn:aws:iot:eu-west-1:123456789012:"):]+
				"|"+map[bool]string{true: "disabled", false: "enabled"}[aws.ToBool(it.RuleDisabled)])
		}
		return names
	}
	if got, want := list(&iot.ListTopicRulesInput{}), []string{"ingest_only||rule/ingest_only|enabled", "too_hot|home/+/temperature|rule/too_hot|enabled"}; !slices.Equal(got, want) {
		t.Fatalf("ListTopicRules: %v, want %v", got, want)
	}

	_, err = c.DisableTopicRule(ctx, &iot.DisableTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	if got, want := list(&iot.ListTopicRulesInput{RuleDisabled: aws.Bool(true)}), []string{"too_hot|home/+/temperature|rule/too_hot|disabled"}; !slices.Equal(got, want) {
		t.Fatalf("ListTopicRules ruleDisabled=true: %v, want %v", got, want)
	}
	if got, want := list(&iot.ListTopicRulesInput{Topic: aws.String("home/kitchen/temperature")}), []string{"too_hot|home/+/temperature|rule/too_hot|disabled"}; !slices.Equal(got, want) {
		t.Fatalf("ListTopicRules topic=home/kitchen/temperature: %v, want %v", got, want)
	}
	_, err = c.EnableTopicRule(ctx, &iot.EnableTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	if got, err := c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("too_hot")}); err != nil || aws.ToBool(got.Rule.RuleDisabled) {
		t.Fatalf("after EnableTopicRule: %+v %v", got, err)
	}

	_, err = c.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String("too_hot"), TopicRulePayload: rlRule("SELECT * FROM 'home/#'", rlRepublish("all", 0))})
	mustOK(t, err)
	got, err = c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("too_hot")})
	mustOK(t, err)
	if aws.ToString(got.Rule.Sql) != "SELECT * FROM 'home/#'" || len(got.Rule.Actions) != 1 || got.Rule.ErrorAction != nil ||
		got.Rule.Description != nil || !aws.ToTime(got.Rule.CreatedAt).Equal(created) {
		t.Fatalf("after ReplaceTopicRule: %+v", got.Rule)
	}

	// Pages, as the SDK's paginator walks them.
	var pages [][]string
	p := iot.NewListTopicRulesPaginator(c, &iot.ListTopicRulesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		mustOK(t, err)
		var names []string
		for _, it := range out.Rules {
			names = append(names, aws.ToString(it.RuleName))
		}
		pages = append(pages, names)
	}
	if len(pages) != 2 || pages[0][0] != "ingest_only" || pages[1][0] != "too_hot" {
		t.Fatalf("pages %v", pages)
	}

	for _, name := range []string{"too_hot", "ingest_only"} {
		_, err = c.DeleteTopicRule(ctx, &iot.DeleteTopicRuleInput{RuleName: aws.String(name)})
		mustOK(t, err)
	}
	_, err = c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("too_hot")})
	wantAPIError(t, err, "UnauthorizedException", 401)
	if out, err := c.ListTopicRules(ctx, &iot.ListTopicRulesInput{}); err != nil || len(out.Rules) != 0 {
		t.Fatalf("ListTopicRules after deleting everything: %+v %v", out, err)
	}
}

// TestTopicRuleErrors: every error the SDK lets through to the server, as aws-sdk-go-v2 parses it.
func TestTopicRuleErrors(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	_, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("exists"), TopicRulePayload: rlRule("SELECT * FROM 'a'", rlRepublish("b", 0))})
	mustOK(t, err)
	eleven := make([]types.Action, 11)
	for i := range eleven {
		eleven[i] = rlRepublish("b", 0)
	}
	tests := []struct {
		name   string
		call   func() error
		code   string
		status int
		msg    string // substring of the message
	}{
		{"CreateTopicRule with invalid SQL", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("bad_sql"), TopicRulePayload: rlRule("SELECT temp FROM sensors/+/data")}))
		}, "SqlParseException", 400, "FROM needs a topic filter in single quotes"},
		{"CreateTopicRule with an unknown function", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("bad_fn"), TopicRulePayload: rlRule("SELECT nosuchfn(temp) FROM 'a'")}))
		}, "SqlParseException", 400, "nosuchfn"},
		{"CreateTopicRule with a dash in the name", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("my-rule"), TopicRulePayload: rlRule("SELECT * FROM 'a'")}))
		}, "InvalidRequestException", 400, "^[a-zA-Z0-9_]+$"},
		{"CreateTopicRule of an existing rule", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("exists"), TopicRulePayload: rlRule("SELECT * FROM 'a'")}))
		}, "ResourceAlreadyExistsException", 409, "exists"},
		{"CreateTopicRule with 11 actions", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("eleven"), TopicRulePayload: rlRule("SELECT * FROM 'a'", eleven...)}))
		}, "InvalidRequestException", 400, "less than or equal to 10"},
		{"CreateTopicRule with an unknown SQL version", func() error {
			p := rlRule("SELECT * FROM 'a'")
			p.AwsIotSqlVersion = aws.String("2099-01-01")
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("version"), TopicRulePayload: p}))
		}, "InvalidRequestException", 400, "awsIotSqlVersion"},
		{"CreateTopicRule with republish QoS 2", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("qos2"), TopicRulePayload: rlRule("SELECT * FROM 'a'", rlRepublish("b", 2))}))
		}, "InvalidRequestException", 400, "qos"},
		{"CreateTopicRule with a reserved tag key", func() error {
			return errOf(c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("tags"), TopicRulePayload: rlRule("SELECT * FROM 'a'"), Tags: aws.String("aws:x=y")}))
		}, "InvalidRequestException", 400, "reserved"},
		{"GetTopicRule of an unknown rule", func() error {
			return errOf(c.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String("nope")}))
		}, "UnauthorizedException", 401, "Access to topic rule 'nope' was denied"},
		{"ReplaceTopicRule of an unknown rule", func() error {
			return errOf(c.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String("nope"), TopicRulePayload: rlRule("SELECT * FROM 'a'")}))
		}, "UnauthorizedException", 401, "Access to topic rule 'nope' was denied"},
		{"ReplaceTopicRule with invalid SQL", func() error {
			return errOf(c.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String("exists"), TopicRulePayload: rlRule("SELECT * FROM 'a' WHERE")}))
		}, "SqlParseException", 400, "Syntax error"},
		{"DeleteTopicRule of an unknown rule", func() error {
			return errOf(c.DeleteTopicRule(ctx, &iot.DeleteTopicRuleInput{RuleName: aws.String("nope")}))
		}, "UnauthorizedException", 401, "Access to topic rule 'nope' was denied"},
		{"EnableTopicRule of an unknown rule", func() error {
			return errOf(c.EnableTopicRule(ctx, &iot.EnableTopicRuleInput{RuleName: aws.String("nope")}))
		}, "UnauthorizedException", 401, "Access to topic rule 'nope' was denied"},
		{"DisableTopicRule of an unknown rule", func() error {
			return errOf(c.DisableTopicRule(ctx, &iot.DisableTopicRuleInput{RuleName: aws.String("nope")}))
		}, "UnauthorizedException", 401, "Access to topic rule 'nope' was denied"},
		{"ListTopicRules with maxResults 0", func() error {
			return errOf(c.ListTopicRules(ctx, &iot.ListTopicRulesInput{MaxResults: aws.Int32(0)}))
		}, "InvalidRequestException", 400, "greater than or equal to 1"},
		{"ListTopicRules with maxResults 10001", func() error {
			return errOf(c.ListTopicRules(ctx, &iot.ListTopicRulesInput{MaxResults: aws.Int32(10001)}))
		}, "InvalidRequestException", 400, "less than or equal to 10000"},
		{"ListTopicRules with a foreign token", func() error {
			return errOf(c.ListTopicRules(ctx, &iot.ListTopicRulesInput{NextToken: aws.String("!!")}))
		}, "InvalidRequestException", 400, "nextToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantAPIError(t, err, tc.code, tc.status)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message of %v, want it to contain %q", err, tc.msg)
			}
		})
	}
	out, err := c.ListTopicRules(ctx, &iot.ListTopicRulesInput{})
	mustOK(t, err)
	if len(out.Rules) != 1 {
		t.Fatalf("refused rules were stored: %+v", out.Rules)
	}
}

// TestTopicRuleValidationOverHTTP sends what the SDKs refuse to send (they check required members
// themselves): the server must refuse it too, as AWS does.
func TestTopicRuleValidationOverHTTP(t *testing.T) {
	e := newTestEnv(t)
	role := `"roleArn":"` + rlRole + `"`
	tests := []struct {
		name, body, code, msg string
	}{
		{"no payload", ``, "InvalidRequestException", "topicRulePayload"},
		{"no SQL", `{"actions":[]}`, "InvalidRequestException", "topicRulePayload.sql"},
		{"no actions", `{"sql":"SELECT * FROM 'a'"}`, "InvalidRequestException", "topicRulePayload.actions"},
		{"republish without roleArn", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{"topic":"b"}}]}`,
			"InvalidRequestException", "topicRulePayload.actions.1.member.republish.roleArn"},
		{"republish without topic", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{` + role + `}}]}`,
			"InvalidRequestException", "republish.topic"},
		{"lambda without functionArn", `{"sql":"SELECT * FROM 'a'","actions":[{"lambda":{}}]}`,
			"InvalidRequestException", "lambda.functionArn"},
		{"an action with two types", `{"sql":"SELECT * FROM 'a'","actions":[{"republish":{"topic":"b",` + role + `},"lambda":{"functionArn":"f"}}]}`,
			"InvalidRequestException", "exactly one action type"},
		{"an action with no type", `{"sql":"SELECT * FROM 'a'","actions":[{}]}`,
			"InvalidRequestException", "exactly one action type"},
		{"an unknown action type only", `{"sql":"SELECT * FROM 'a'","actions":[{"teleport":{}}]}`,
			"InvalidRequestException", "exactly one action type"},
		{"error action without its required members", `{"sql":"SELECT * FROM 'a'","actions":[],"errorAction":{"s3":{"bucketName":"b"}}}`,
			"InvalidRequestException", "topicRulePayload.errorAction.s3.roleArn"},
		{"SQL that is not a string", `{"sql":1,"actions":[]}`, "InvalidRequestException", "sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/rules/r1", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.Srv.ServeHTTP(rec, req)
			var body struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != 400 || rec.Header().Get("X-Amzn-Errortype") != tc.code || !strings.Contains(body.Message, tc.msg) {
				t.Fatalf("got %d %s %q, want 400 %s containing %q", rec.Code, rec.Header().Get("X-Amzn-Errortype"), body.Message, tc.code, tc.msg)
			}
		})
	}
}

// TestTopicRulesGolden pins GetTopicRule's and ListTopicRules' raw answers, byte for byte.
func TestTopicRulesGolden(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	p := rlRule("SELECT temp, topic(2) AS room FROM 'home/+/temperature' WHERE temp > 30", rlRepublish("alerts/${topic(2)}", 0))
	p.AwsIotSqlVersion = aws.String("2016-03-23")
	p.ErrorAction = &types.Action{Republish: &types.RepublishAction{Topic: aws.String("errors/too_hot"), RoleArn: aws.String(rlRole)}}
	_, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String("too_hot"), TopicRulePayload: p})
	mustOK(t, err)
	tests := []struct{ name, method, path string }{
		{"get_topic_rule", "GET", "/rules/too_hot"},
		{"get_topic_rule_missing", "GET", "/rules/nope"},
		{"list_topic_rules", "GET", "/rules"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.Srv.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			got := rawResponse(rec)
			path := filepath.Join("testdata", "rules_"+tc.name+".golden")
			if updateGolden() {
				mustOK(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("response differs from %s (run with -update after checking):\n got:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}
