package policy

import (
	"strconv"
	"testing"
)

// tenPolicies is a principal with ten policies of three statements each, none using variables; the
// request is allowed by the last one, so every statement is looked at.
func tenPolicies(b *testing.B) []Policy {
	b.Helper()
	var docs []string
	for i := 0; i < 9; i++ {
		n := strconv.Itoa(i)
		docs = append(docs, doc(
			allow(q("iot:Connect"), q(arn+"client/device-"+n)),
			allow(`["iot:Subscribe","iot:Receive"]`, `["`+arn+`topicfilter/fleet/`+n+`/*","`+arn+`topic/fleet/`+n+`/*"]`),
			deny(q("iot:Publish"), q(arn+"topic/fleet/"+n+"/admin/*")),
		))
	}
	docs = append(docs, doc(
		allow(q("iot:Connect"), q(arn+"client/*")),
		allow(q("iot:Publish"), q(arn+"topic/home/*/telemetry")),
		deny(q("iot:Publish"), q(arn+"topic/home/*/admin")),
	))
	return policies(b, docs...)
}

func BenchmarkEvaluate10Policies(b *testing.B) {
	req := Request{Action: "iot:Publish", Resource: arn + "topic/home/hall/telemetry", Policies: tenPolicies(b)}
	if d := Evaluate(req); d.Effect != Allowed {
		b.Fatalf("setup: %s", d.Explain())
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req)
	}
}

func BenchmarkDecide10Policies(b *testing.B) {
	req := Request{Action: "iot:Publish", Resource: arn + "topic/home/hall/telemetry", Policies: tenPolicies(b)}
	b.ReportAllocs()
	for b.Loop() {
		Decide(req)
	}
}

// variablePolicies is ten policies whose resources use client, thing and certificate variables and a
// condition; the request is allowed by the last one.
func variablePolicies(b *testing.B) ([]Policy, *Context) {
	b.Helper()
	var docs []string
	for i := 0; i < 9; i++ {
		n := strconv.Itoa(i)
		docs = append(docs, doc(
			allow(q("iot:Connect"), q(arn+"client/${iot:Connection.Thing.ThingName}")),
			allow(`["iot:Subscribe","iot:Receive"]`, q(arn+"topic/"+n+"/${iot:ClientId}/*")),
			deny(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.Attributes[room]}/"+n+"/admin")),
		))
	}
	docs = append(docs, doc(
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}`,
		`{"Effect":"Allow","Action":"iot:Publish","Resource":"`+arn+`topic/${iot:Certificate.Subject.Organization}/${iot:Connection.Thing.ThingName}/*",
		  "Condition":{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}}`,
		deny(q("iot:Publish"), q(arn+"topic/${iot:Connection.Thing.Attributes[room]}/admin")),
	))
	ctx := &Context{ClientID: "lamp-1", HasClientID: true,
		Thing: &Thing{Name: "lamp-1", Attributes: map[string]string{"room": "hall"}, IsAttached: true},
		Cert:  &CertInfo{Subject: CertName{Attributes: map[string][]string{"Organization": {"acme"}}}}}
	return policies(b, docs...), ctx
}

func BenchmarkEvaluateWithVariables(b *testing.B) {
	ps, ctx := variablePolicies(b)
	req := Request{Action: "iot:Publish", Resource: arn + "topic/acme/lamp-1/telemetry", Policies: ps, Context: ctx}
	if d := Evaluate(req); d.Effect != Allowed || d.Policy != "p10" {
		b.Fatalf("setup: %s", d.Explain())
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req)
	}
}

func BenchmarkDecideWithVariables(b *testing.B) {
	ps, ctx := variablePolicies(b)
	req := Request{Action: "iot:Publish", Resource: arn + "topic/acme/lamp-1/telemetry", Policies: ps, Context: ctx}
	b.ReportAllocs()
	for b.Loop() {
		Decide(req)
	}
}

func BenchmarkMatchResource(b *testing.B) {
	pattern, resource := arn+"topic/home/*/sensors/??/temp", arn+"topic/home/hall/floor/sensors/07/temp"
	if !MatchResource(pattern, resource) {
		b.Fatal("setup: no match")
	}
	b.ReportAllocs()
	for b.Loop() {
		MatchResource(pattern, resource)
	}
}

func BenchmarkParse(b *testing.B) {
	d := doc(
		allow(q("iot:Connect"), q(arn+"client/${iot:Connection.Thing.ThingName}")),
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"`+arn+`topic/${iot:ClientId}/*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}`,
	)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(d); err != nil {
			b.Fatal(err)
		}
	}
}
