package policy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[]`, `{"Version":"2012-10-17"}`,
		doc(allow(q("iot:*"), q("*"))),
		doc(`{"Sid":"s","Effect":"Deny","NotAction":["iot:Pub*"],"NotResource":"` + arn + `topic/${iot:ClientId}/${*}"}`),
		withCondition(`{"ForAnyValue:StringLikeIfExists":{"iot:Certificate.Subject.Organization.List":["a*",1,true]},"Null":{"x:y":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"ArnLike":{"k:k":"arn:*:*:*:*:*"},"DateLessThan":{"k:d":"2024-01-01"},"NumericEquals":{"k:n":"1e3"}}`),
		`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:ClientId"}}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	ctx := &Context{ClientID: "c", HasClientID: true, SourceIP: "10.1.2.3", Thing: &Thing{Name: "t", IsAttached: true},
		Cert: &CertInfo{Subject: CertName{Attributes: map[string][]string{"Organization": {"a", "b"}}}}, ConnectAttributes: []string{"LastWill"}}
	f.Fuzz(func(t *testing.T, d string) {
		c, err := Parse(d)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned both a document and an error")
			}
			if _, ok := err.(*MalformedError); !ok {
				t.Fatalf("error type: got %T, want *MalformedError", err)
			}
			return
		}
		if countNonSpace(d) > MaxDocumentChars {
			t.Fatalf("accepted a document over the size limit")
		}
		if len(c.statements) == 0 {
			t.Fatalf("accepted a document without statements")
		}
		// Evaluating anything must not panic.
		for _, action := range []string{"iot:Connect", "iot:Publish", ""} {
			req := Request{Action: action, Resource: arn + "topic/t/x", Policies: []Policy{{Name: "p", Doc: c}}, Context: ctx}
			_ = Evaluate(req).Explain()
			req.Context = nil
			_ = Decide(req)
		}
		_ = c.Statements()
	})
}

func FuzzMatchResource(f *testing.F) {
	seeds := [][2]string{
		{"topic/*", "topic/a/b"}, {"a?c", "abc"}, {"a${*}", "a*"}, {"${iot:ClientId}", "${iot:ClientId}"},
		{"a*b*c", "abcbc"}, {"t/?", "t/é"}, {"${", "${"}, {"x${?}y", "x?y"}, {"**", ""}, {"a\xff*", "a\xffb"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, resource string) {
		got := MatchResource(pattern, resource)
		// Without wildcards and escapes, matching is string equality.
		if !strings.ContainsAny(pattern, "*?$") {
			if want := pattern == resource; got != want {
				t.Fatalf("MatchResource(%q, %q): got %v, want equality %v", pattern, resource, got, want)
			}
		}
		if !MatchResource(pattern, pattern) && !strings.ContainsAny(pattern, "*?$") {
			t.Fatalf("a plain pattern does not match itself: %q", pattern)
		}
		// The compiled matcher agrees.
		p := compilePattern(pattern, true, true)
		if c := p.match(resource, nil, false); c != got {
			t.Fatalf("compiled match(%q, %q): got %v, MatchResource %v", pattern, resource, c, got)
		}
		// A resource escaped into a pattern matches itself.
		var b strings.Builder
		writeEscaped(&b, resource)
		if !MatchResource(b.String(), resource) {
			t.Fatalf("escaped %q does not match itself (pattern %q)", resource, b.String())
		}
		// "*" matches everything, and "?" per rune.
		if !MatchResource("*", resource) {
			t.Fatalf(`"*" does not match %q`, resource)
		}
		if utf8.ValidString(resource) && !MatchResource(strings.Repeat("?", utf8.RuneCountInString(resource)), resource) {
			t.Fatalf("one '?' per rune does not match %q", resource)
		}
	})
}
