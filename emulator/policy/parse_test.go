package policy

import (
	"errors"
	"strings"
	"testing"
)

const arn = "arn:aws:iot:eu-west-1:123456789012:"

// doc wraps statements (JSON objects) in a 2012-10-17 document.
func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func mustParse(t testing.TB, d string) *Compiled {
	t.Helper()
	c, err := Parse(d)
	if err != nil {
		t.Fatalf("Parse(%s): %v", d, err)
	}
	return c
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name           string
		doc            string
		wantStatements int
	}{
		{"minimal", doc(`{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}`), 1},
		{"statement as a single object", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, 1},
		{"legacy version", `{"Version":"2008-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`, 1},
		{"id sid lists", `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["` + arn + `topic/a","` + arn + `topic/b"]},{"Effect":"Deny","Action":"*","Resource":"*"}]}`, 2},
		{"not action and not resource", doc(`{"Effect":"Allow","NotAction":"iot:Connect","NotResource":"` + arn + `topic/a/restricted/*"}`), 1},
		{"greengrass actions", doc(`{"Effect":"Allow","Action":["greengrass:*","iot:Pub*"],"Resource":"*"}`), 1},
		{"conditions of every shape", doc(`{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{
			"Bool":{"iot:Connection.Thing.IsAttached":true},
			"NumericLessThan":{"aws:Foo":5},
			"ForAnyValue:StringLike":{"iot:ConnectAttributes":["Persistent*","LastWill"]},
			"StringEqualsIfExists":{"iot:ClientId":"c1"},
			"Null":{"iot:Certificate.SerialNumber":"false"}}}`), 1},
		{"whitespace does not count toward the size", doc(`{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}`) + strings.Repeat(" \n\t", 3000), 1},
		{"exactly 2048 characters", sizedDoc(2048), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.doc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := len(c.Statements()); got != tt.wantStatements {
				t.Errorf("statements: got %d, want %d", got, tt.wantStatements)
			}
			if got := c.Document(); got != tt.doc {
				t.Errorf("Document: got %q, want the input", got)
			}
		})
	}
}

// sizedDoc returns a valid document of exactly n non-whitespace characters.
func sizedDoc(n int) string {
	base := doc(`{"Sid":"","Effect":"Allow","Action":"iot:Connect","Resource":"*"}`)
	pad := n - countNonSpace(base)
	return strings.Replace(base, `"Sid":""`, `"Sid":"`+strings.Repeat("x", pad)+`"`, 1)
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name          string
		doc           string
		wantInMessage string
		wantStatement int
	}{
		{"empty", ``, "Invalid policy syntax", 0},
		{"not json", `./policy.json`, "Invalid policy syntax", 0},
		{"json syntax error", `{"Version":"2012-10-17",}`, "JSON syntax error at offset", 0},
		{"truncated", `{"Version":"2012-10-17","Statement":[`, "Invalid policy syntax", 0},
		{"array at top", `[]`, "must be a JSON object", 0},
		{"null at top", `null`, "must be a JSON object", 0},
		{"trailing data", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*"}`) + `{}`, "Unexpected data after", 0},
		{"missing version", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`, "must have a Version", 0},
		{"unknown version", `{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`, `Invalid Version "2012-10-18"`, 0},
		{"version not a string", `{"Version":2012,"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`, "Invalid Version 2012", 0},
		{"unknown top-level element", `{"Version":"2012-10-17","Statements":[]}`, `Unknown element "Statements"`, 0},
		{"lower-case element name", `{"version":"2012-10-17","Statement":[]}`, `Unknown element "version"`, 0},
		{"missing statement", `{"Version":"2012-10-17"}`, "must have a Statement", 0},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, "at least one Statement", 0},
		{"statement is a string", `{"Version":"2012-10-17","Statement":"x"}`, "Statement must be an object", 0},
		{"statement list holds a string", `{"Version":"2012-10-17","Statement":["x"]}`, "Statement 1 must be an object", 1},
		{"missing effect", doc(`{"Action":"iot:*","Resource":"*"}`), "must contain an Effect", 1},
		{"effect in lower case", doc(`{"Effect":"allow","Action":"iot:*","Resource":"*"}`), `Invalid Effect "allow"`, 1},
		{"missing action", doc(`{"Effect":"Allow","Resource":"*"}`), "must contain actions", 1},
		{"missing resource", doc(`{"Effect":"Allow","Action":"iot:*"}`), "must contain resources", 1},
		{"action and not action", doc(`{"Effect":"Allow","Action":"iot:*","NotAction":"iot:Connect","Resource":"*"}`), "both Action and NotAction", 1},
		{"resource and not resource", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","NotResource":"*"}`), "both Resource and NotResource", 1},
		{"action is a number", doc(`{"Effect":"Allow","Action":5,"Resource":"*"}`), "Action must be a string or a list", 1},
		{"resource list holds a number", doc(`{"Effect":"Allow","Action":"iot:*","Resource":["*",5]}`), "Resource must be a string or a list", 1},
		{"empty action list", doc(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "Action must not be empty", 1},
		{"empty resource list", doc(`{"Effect":"Allow","Action":"iot:*","Resource":[]}`), "Resource must not be empty", 1},
		{"action without service", doc(`{"Effect":"Allow","Action":"Publish","Resource":"*"}`), `Invalid action "Publish"`, 1},
		{"action with two colons", doc(`{"Effect":"Allow","Action":"iot:Pub:lish","Resource":"*"}`), `Invalid action "iot:Pub:lish"`, 1},
		{"resource not an arn", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"topic/a"}`), "The resource topic/a is not in valid ARN format", 1},
		{"resource stringified list", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"[\"` + arn + `client/x\"]"}`), "is not in valid ARN format", 1},
		{"principal", doc(`{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}`), "Principal is not supported", 1},
		{"unknown statement element", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Conditions":{}}`), `Unknown element "Conditions"`, 1},
		{"sid not a string", doc(`{"Sid":1,"Effect":"Allow","Action":"iot:*","Resource":"*"}`), "Sid must be a string", 1},
		{"second statement is bad", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*"}`, `{"Effect":"Deny","Action":"iot:*"}`), "must contain resources (statement 2)", 2},
		{"condition not an object", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":[]}`), "Condition must be an object", 1},
		{"unknown condition operator", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEqual":{"iot:ClientId":"a"}}}`), "Invalid Condition type : StringEqual", 1},
		{"null if exists", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"NullIfExists":{"iot:ClientId":"true"}}}`), "Invalid Condition type : NullIfExists", 1},
		{"condition keys not an object", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":"a"}}`), "must be an object of condition keys", 1},
		{"condition value is an object", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":{}}}}`), "must have a string, number or boolean value", 1},
		{"condition value is null", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":null}}}`), "must have a string, number or boolean value", 1},
		{"condition value list is empty", doc(`{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":[]}}}`), "non-empty list", 1},
		{"one character too many", sizedDoc(2049), "2049 characters (excluding whitespace) exceeds the maximum of 2048", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.doc)
			if err == nil {
				t.Fatalf("Parse: got %d statements, want an error", len(c.statements))
			}
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error type: got %T, want *MalformedError", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(err, ErrMalformed): got false, want true")
			}
			if !strings.HasPrefix(me.Message, "Policy document is Malformed: ") {
				t.Errorf("message: got %q, want AWS's prefix", me.Message)
			}
			if !strings.Contains(me.Message, tt.wantInMessage) {
				t.Errorf("message: got %q, want it to contain %q", me.Message, tt.wantInMessage)
			}
			if me.Statement != tt.wantStatement {
				t.Errorf("statement: got %d, want %d", me.Statement, tt.wantStatement)
			}
			if got, want := err.Error(), "policy: "+me.Message; got != want {
				t.Errorf("Error(): got %q, want %q", got, want)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	c := mustParse(t, doc(
		`{"Sid":"Pub","Effect":"Allow","Action":["iot:Publish"],"Resource":"`+arn+`topic/a"}`,
		`{"Effect":"Deny","NotAction":"iot:Connect","NotResource":["*"],"Condition":{"StringEquals":{"iot:ClientId":["a","b"],"iot:DomainName":"d"}}}`,
	))
	got := c.Statements()
	if len(got) != 2 {
		t.Fatalf("statements: got %d, want 2", len(got))
	}
	if g := got[0]; g.Index != 1 || g.Sid != "Pub" || g.Effect != "Allow" || g.NotAction || len(g.Actions) != 1 || g.Actions[0] != "iot:Publish" || g.Resources[0] != arn+"topic/a" {
		t.Errorf("statement 1: got %+v", g)
	}
	if g := got[1]; g.Index != 2 || g.Sid != "" || g.Effect != "Deny" || !g.NotAction || !g.NotResource || g.Conditions != 2 {
		t.Errorf("statement 2: got %+v", g)
	}
	if got, want := c.Version(), "2012-10-17"; got != want {
		t.Errorf("Version: got %q, want %q", got, want)
	}
}
