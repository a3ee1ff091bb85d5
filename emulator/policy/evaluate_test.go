package policy

import (
	"slices"
	"strconv"
	"testing"
)

// allow and deny build one statement.
func allow(action, resource string) string {
	return `{"Effect":"Allow","Action":` + action + `,"Resource":` + resource + `}`
}

func deny(action, resource string) string {
	return `{"Effect":"Deny","Action":` + action + `,"Resource":` + resource + `}`
}

func q(s string) string { return strconv.Quote(s) }

// policies parses docs into Policy values named p1, p2, … at version "1".
func policies(t testing.TB, docs ...string) []Policy {
	t.Helper()
	out := make([]Policy, len(docs))
	for i, d := range docs {
		out[i] = Policy{Name: "p" + strconv.Itoa(i+1), Version: "1", Doc: mustParse(t, d)}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	thing := &Thing{Name: "lamp-1", TypeName: "lamp", Attributes: map[string]string{"room": "hall"}, IsAttached: true}
	device := &Context{ClientID: "lamp-1", HasClientID: true, DomainName: "iot.local", SourceIP: "192.0.2.10", Thing: thing,
		Cert: &CertInfo{SerialNumber: "42", Subject: CertName{
			Attributes:       map[string][]string{"CommonName": {"lamp-1"}, "OrganizationalUnit": {"lights", "hall"}},
			AlternativeNames: map[string][]string{"DNSName": {"lamp-1.example.com"}}}}}
	tests := []struct {
		name          string
		docs          []string
		action        string
		resource      string
		ctx           *Context
		want          Effect
		wantPolicy    string
		wantStatement int
	}{
		{name: "default deny without policies", action: "iot:Connect", resource: arn + "client/c1", want: ImplicitDeny},
		{name: "default deny when nothing matches",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/a")))},
			action: "iot:Publish", resource: arn + "topic/b", want: ImplicitDeny},
		{name: "allow exact",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/a")))},
			action: "iot:Publish", resource: arn + "topic/a", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "explicit deny wins in the same policy",
			docs:   []string{doc(allow(q("iot:*"), q("*")), deny(q("iot:Publish"), q(arn+"topic/secret")))},
			action: "iot:Publish", resource: arn + "topic/secret", want: ExplicitDeny, wantPolicy: "p1", wantStatement: 2},
		{name: "explicit deny in a later policy wins over an earlier allow",
			docs:   []string{doc(allow(q("iot:*"), q("*"))), doc(allow(q("iot:Connect"), q("*"))), doc(deny(q("iot:Publish"), q(arn+"topic/*")))},
			action: "iot:Publish", resource: arn + "topic/x", want: ExplicitDeny, wantPolicy: "p3", wantStatement: 1},
		{name: "deny for another action does not deny",
			docs:   []string{doc(allow(q("iot:*"), q("*")), deny(q("iot:Subscribe"), q("*")))},
			action: "iot:Publish", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "first allowing statement is named",
			docs:   []string{doc(allow(q("iot:Connect"), q("*"))), doc(allow(q("iot:Connect"), q("*")), allow(q("iot:Publish"), q("*")))},
			action: "iot:Publish", resource: arn + "topic/x", want: Allowed, wantPolicy: "p2", wantStatement: 2},
		{name: "action is case-insensitive",
			docs:   []string{doc(allow(q("IOT:publish"), q("*")))},
			action: "iot:Publish", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "action iot star",
			docs:   []string{doc(allow(q("iot:*"), q("*")))},
			action: "iot:GetRetainedMessage", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "action star alone",
			docs:   []string{doc(allow(q("*"), q("*")))},
			action: "iot:UpdateThingShadow", resource: arn + "thing/t", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "action prefix wildcard",
			docs:   []string{doc(allow(q("iot:Pub*"), q("*")))},
			action: "iot:Publish", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "action prefix wildcard does not match another action",
			docs:   []string{doc(allow(q("iot:Pub*"), q("*")))},
			action: "iot:Subscribe", resource: arn + "topicfilter/x", want: ImplicitDeny},
		{name: "action question mark",
			docs:   []string{doc(allow(q("iot:?etThingShadow"), q("*")))},
			action: "iot:GetThingShadow", resource: arn + "thing/t", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "action list",
			docs:   []string{doc(allow(`["iot:Connect","iot:Receive"]`, q("*")))},
			action: "iot:Receive", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "resource list",
			docs:   []string{doc(allow(q("iot:Publish"), `["`+arn+`topic/a","`+arn+`topic/b"]`))},
			action: "iot:Publish", resource: arn + "topic/b", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "resource star matches any resource",
			docs:   []string{doc(allow(q("iot:ListRetainedMessages"), q("*")))},
			action: "iot:ListRetainedMessages", resource: "*", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "resource star crosses topic levels",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/home/*")))},
			action: "iot:Publish", resource: arn + "topic/home/hall/temp", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "resource is case-sensitive",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/Home")))},
			action: "iot:Publish", resource: arn + "topic/home", want: ImplicitDeny},
		{name: "mqtt plus is literal in a resource",
			docs:   []string{doc(allow(q("iot:Subscribe"), q(arn+"topicfilter/some/+/topic")))},
			action: "iot:Subscribe", resource: arn + "topicfilter/some/abc/topic", want: ImplicitDeny},
		{name: "mqtt plus matches the same filter",
			docs:   []string{doc(allow(q("iot:Subscribe"), q(arn+"topicfilter/some/+/topic")))},
			action: "iot:Subscribe", resource: arn + "topicfilter/some/+/topic", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "mqtt hash is literal",
			docs:   []string{doc(allow(q("iot:Subscribe"), q(arn+"topicfilter/a/#")))},
			action: "iot:Subscribe", resource: arn + "topicfilter/a/b", want: ImplicitDeny},
		{name: "deny on restricted filter does not stop a wider literal filter (AWS pub-sub-policy)",
			docs:   []string{doc(allow(q("iot:Subscribe"), q(arn+"topicfilter/a/*")), deny(q("iot:Subscribe"), q(arn+"topicfilter/a/restricted/*")))},
			action: "iot:Subscribe", resource: arn + "topicfilter/a/#", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "not resource excludes",
			docs:   []string{doc(`{"Effect":"Allow","Action":"iot:Receive","NotResource":"` + arn + `topic/a/restricted/*"}`)},
			action: "iot:Receive", resource: arn + "topic/a/restricted/x", want: ImplicitDeny},
		{name: "not resource allows the rest",
			docs:   []string{doc(`{"Effect":"Allow","Action":"iot:Receive","NotResource":"` + arn + `topic/a/restricted/*"}`)},
			action: "iot:Receive", resource: arn + "topic/a/open", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "not action allows other actions",
			docs:   []string{doc(`{"Effect":"Allow","NotAction":"iot:Connect","Resource":"*"}`)},
			action: "iot:Publish", resource: arn + "topic/x", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "not action excludes its action",
			docs:   []string{doc(`{"Effect":"Allow","NotAction":["iot:Connect","iot:Sub*"],"Resource":"*"}`)},
			action: "iot:Subscribe", resource: arn + "topicfilter/x", want: ImplicitDeny},

		// Policy variables.
		{name: "client id variable",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:ClientId}")))},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "client id variable for another client",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:ClientId}/*")))},
			action: "iot:Publish", resource: arn + "topic/lamp-2/state", ctx: device, want: ImplicitDeny},
		{name: "variable names are case-insensitive",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${IOT:clientid}")))},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "domain name variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:DomainName}")))},
			action: "iot:Publish", resource: arn + "topic/iot.local", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "source ip variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/ip/${aws:SourceIp}")))},
			action: "iot:Publish", resource: arn + "topic/ip/192.0.2.10", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "thing name variable",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Connection.Thing.ThingName}")))},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "thing type variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.ThingTypeName}/*")))},
			action: "iot:Publish", resource: arn + "topic/lamp/x", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "thing attribute variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.Attributes[room]}/*")))},
			action: "iot:Publish", resource: arn + "topic/hall/x", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "missing thing attribute stays unresolved",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.Attributes[floor]}/*")))},
			action: "iot:Publish", resource: arn + "topic/hall/x", ctx: device, want: ImplicitDeny},
		{name: "is attached variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/attached/${iot:Connection.Thing.IsAttached}")))},
			action: "iot:Publish", resource: arn + "topic/attached/true", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "is attached is false without a thing",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/attached/${iot:Connection.Thing.IsAttached}")))},
			action: "iot:Publish", resource: arn + "topic/attached/false", ctx: &Context{ClientID: "c", HasClientID: true}, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "thing name unresolved when the certificate is not attached",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Connection.Thing.ThingName}")))},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: &Context{ClientID: "lamp-1", HasClientID: true, Thing: &Thing{Name: "lamp-1"}}, want: ImplicitDeny},
		{name: "certificate common name variable",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Certificate.Subject.CommonName}")))},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "certificate attribute index selects the second value",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Certificate.Subject.OrganizationalUnit.1}")))},
			action: "iot:Publish", resource: arn + "topic/hall", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "certificate attribute index out of range stays unresolved",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Certificate.Subject.OrganizationalUnit.2}")))},
			action: "iot:Publish", resource: arn + "topic/hall", ctx: device, want: ImplicitDeny},
		{name: "certificate alternative name variable",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:Certificate.Subject.AlternativeName.DNSName}")))},
			action: "iot:Publish", resource: arn + "topic/lamp-1.example.com", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "certificate serial number variable",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Certificate.SerialNumber}")))},
			action: "iot:Connect", resource: arn + "client/42", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "certificate value with a wildcard is not substituted",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Certificate.Subject.CommonName}")))},
			action: "iot:Connect", resource: arn + "client/lamp*",
			ctx:  &Context{Cert: &CertInfo{Subject: CertName{Attributes: map[string][]string{"CommonName": {"lamp*"}}}}},
			want: ImplicitDeny},
		{name: "unresolved variable matches only its literal text",
			docs:   []string{doc(allow(q("iot:Connect"), q(arn+"client/${iot:Connection.Thing.ThingName}")))},
			action: "iot:Connect", resource: arn + "client/${iot:Connection.Thing.ThingName}", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "unresolved variable in a deny denies nothing (documented caveat)",
			docs:   []string{doc(allow(q("iot:Publish"), q("*")), deny(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.ThingName}/secret")))},
			action: "iot:Publish", resource: arn + "topic/lamp-1/secret", ctx: &Context{ClientID: "lamp-1", HasClientID: true}, want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "client id without one stays unresolved",
			docs:   []string{doc(allow(q("iot:GetThingShadow"), q(arn+"thing/${iot:ClientId}")))},
			action: "iot:GetThingShadow", resource: arn + "thing/lamp-1", ctx: &Context{}, want: ImplicitDeny},
		{name: "substituted client id is literal, not a wildcard",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/${iot:ClientId}")))},
			action: "iot:Publish", resource: arn + "topic/anything", ctx: &Context{ClientID: "*", HasClientID: true}, want: ImplicitDeny},
		{name: "escaped star is literal",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/a${*}")))},
			action: "iot:Publish", resource: arn + "topic/a*", want: Allowed, wantPolicy: "p1", wantStatement: 1},
		{name: "escaped star does not match other text",
			docs:   []string{doc(allow(q("iot:Publish"), q(arn+"topic/a${*}")))},
			action: "iot:Publish", resource: arn + "topic/abc", want: ImplicitDeny},
		{name: "legacy version has no variables",
			docs:   []string{`{"Version":"2008-10-17","Statement":[` + allow(q("iot:Connect"), q(arn+"client/${iot:ClientId}")) + `]}`},
			action: "iot:Connect", resource: arn + "client/lamp-1", ctx: device, want: ImplicitDeny},
		{name: "legacy version keeps the text",
			docs:   []string{`{"Version":"2008-10-17","Statement":[` + allow(q("iot:Connect"), q(arn+"client/${iot:ClientId}")) + `]}`},
			action: "iot:Connect", resource: arn + "client/${iot:ClientId}", ctx: device, want: Allowed, wantPolicy: "p1", wantStatement: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Action: tt.action, Resource: tt.resource, Policies: policies(t, tt.docs...), Context: tt.ctx}
			got := Evaluate(req)
			if got.Effect != tt.want {
				t.Fatalf("Effect: got %v, want %v (%s)", got.Effect, tt.want, got.Explain())
			}
			if got.Policy != tt.wantPolicy || got.Statement != tt.wantStatement {
				t.Errorf("decided by: got %q statement %d, want %q statement %d", got.Policy, got.Statement, tt.wantPolicy, tt.wantStatement)
			}
			if fast := Decide(req); fast.Effect != got.Effect || fast.Policy != got.Policy || fast.Statement != got.Statement {
				t.Errorf("Decide: got %v %q %d, want Evaluate's %v %q %d", fast.Effect, fast.Policy, fast.Statement, got.Effect, got.Policy, got.Statement)
			}
		})
	}
}

func TestEvaluateLists(t *testing.T) {
	ps := policies(t,
		doc(allow(q("iot:Publish"), q("*"))),                                         // p1 allows
		doc(allow(q("iot:Connect"), q("*"))),                                         // p2 not involved
		doc(deny(q("iot:Publish"), q(arn+"topic/x")), allow(q("iot:*"), q("*"))),     // p3 both
		doc(deny(q("iot:*"), q("*"))),                                                // p4 denies
		doc(allow(q("iot:Pub*"), q("*")), allow(q("iot:Publish"), q(arn+"topic/*"))), // p5 allows twice, listed once
	)
	ps[3].Version = "7"
	got := Evaluate(Request{Action: "iot:Publish", Resource: arn + "topic/x", Policies: ps})
	if got.Effect != ExplicitDeny || got.Policy != "p3" || got.Statement != 1 {
		t.Fatalf("decision: got %v %q %d, want EXPLICIT_DENY p3 1", got.Effect, got.Policy, got.Statement)
	}
	if want := []PolicyRef{{"p1", "1"}, {"p3", "1"}, {"p5", "1"}}; !slices.Equal(got.Allowing, want) {
		t.Errorf("Allowing: got %v, want %v", got.Allowing, want)
	}
	if want := []PolicyRef{{"p3", "1"}, {"p4", "7"}}; !slices.Equal(got.Denying, want) {
		t.Errorf("Denying: got %v, want %v", got.Denying, want)
	}
	if fast := Decide(Request{Action: "iot:Publish", Resource: arn + "topic/x", Policies: ps}); fast.Allowing != nil || fast.Denying != nil {
		t.Errorf("Decide lists: got %v %v, want nil", fast.Allowing, fast.Denying)
	}

	none := Evaluate(Request{Action: "iot:Receive", Resource: arn + "topic/x", Policies: ps[1:2]})
	if none.Allowing != nil || none.Denying != nil {
		t.Errorf("implicit deny lists: got %v %v, want nil", none.Allowing, none.Denying)
	}
}

func TestEvaluateSkipsPolicyWithoutDocument(t *testing.T) {
	ps := append([]Policy{{Name: "empty", Version: "1"}}, policies(t, doc(allow(q("iot:Connect"), q("*"))))...)
	got := Evaluate(Request{Action: "iot:Connect", Resource: arn + "client/c", Policies: ps})
	if got.Effect != Allowed || got.Policy != "p1" || len(got.Allowing) != 1 {
		t.Errorf("got %v by %q, allowing %v; want ALLOWED by p1 only", got.Effect, got.Policy, got.Allowing)
	}
}

func TestEvaluateUnknownAction(t *testing.T) {
	ps := policies(t, doc(allow(q("greengrass:*"), q("*")), allow(q("iot:Pub*"), q("*"))))
	tests := []struct {
		name   string
		action string
		want   Effect
	}{
		{"other service by wildcard", "greengrass:Discover", Allowed},
		{"other service spelled in another case", "GreenGrass:discover", Allowed},
		{"iot action not in the known list", "iot:PublishSomething", Allowed},
		{"known action spelled in another case", "IOT:PUBLISH", Allowed},
		{"not allowed", "iot:Connect", ImplicitDeny},
		{"empty action", "", ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(Request{Action: tt.action, Resource: arn + "topic/x", Policies: ps}).Effect; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluateManyPolicies(t *testing.T) {
	var docs []string
	for i := 0; i < 40; i++ {
		docs = append(docs, doc(allow(q("iot:Connect"), q("*"))))
	}
	docs = append(docs, doc(allow(q("iot:Publish"), q("*"))))
	got := Evaluate(Request{Action: "iot:Publish", Resource: arn + "topic/x", Policies: policies(t, docs...)})
	if got.Effect != Allowed || got.Policy != "p41" || len(got.Allowing) != 1 || got.Allowing[0].Name != "p41" {
		t.Errorf("got %v %q %v, want ALLOWED by p41", got.Effect, got.Policy, got.Allowing)
	}
}

func TestEffectString(t *testing.T) {
	tests := []struct {
		e    Effect
		want string
	}{
		{Allowed, "ALLOWED"}, {ExplicitDeny, "EXPLICIT_DENY"}, {ImplicitDeny, "IMPLICIT_DENY"}, {Effect(9), "Effect(9)"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("Effect(%d).String(): got %q, want %q", int(tt.e), got, tt.want)
		}
	}
	var zero Decision
	if zero.Effect != ImplicitDeny {
		t.Errorf("zero Decision: got %v, want IMPLICIT_DENY", zero.Effect)
	}
}

func TestExplain(t *testing.T) {
	ps := policies(t,
		doc(`{"Sid":"Pub","Effect":"Allow","Action":"iot:Publish","Resource":"*"}`, deny(q("iot:Publish"), q(arn+"topic/secret"))),
	)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"allowed with sid", Request{Action: "iot:Publish", Resource: arn + "topic/a", Policies: ps},
			`ALLOWED by policy "p1" v1 statement 1 (Sid "Pub")`},
		{"explicit deny without sid", Request{Action: "iot:Publish", Resource: arn + "topic/secret", Policies: ps},
			`EXPLICIT_DENY by policy "p1" v1 statement 2`},
		{"implicit deny", Request{Action: "iot:Subscribe", Resource: arn + "topicfilter/a/#", Policies: ps},
			`IMPLICIT_DENY: no statement allows iot:Subscribe on topicfilter/a/#`},
		{"implicit deny without policies", Request{Action: "iot:Connect", Resource: arn + "client/c1"},
			`IMPLICIT_DENY: no policy is attached, so nothing allows iot:Connect on client/c1`},
		{"resource that is not an arn", Request{Action: "iot:ListRetainedMessages", Resource: "*", Policies: ps},
			`IMPLICIT_DENY: no statement allows iot:ListRetainedMessages on *`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.req).Explain(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
