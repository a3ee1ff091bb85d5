package policy

import (
	"strings"
	"testing"
)

func TestMatchResource(t *testing.T) {
	tests := []struct {
		name     string
		pattern  string
		resource string
		want     bool
	}{
		{"equal", "topic/a/b", "topic/a/b", true},
		{"different", "topic/a/b", "topic/a/c", false},
		{"prefix only", "topic/a", "topic/a/b", false},
		{"empty pattern and resource", "", "", true},
		{"empty pattern", "", "x", false},
		{"star alone", "*", "anything/at/all", true},
		{"star matches empty", "topic/*", "topic/", true},
		{"star crosses levels", "topic/*", "topic/a/b/c", true},
		{"star in the middle", "topic/*/temp", "topic/home/hall/temp", true},
		{"star in the middle no match", "topic/*/temp", "topic/home/hall/hum", false},
		{"two stars", "a*b*c", "axxbyyc", true},
		{"two stars backtrack", "a*b*c", "abcbc", true},
		{"two stars no match", "a*b*c", "acb", false},
		{"consecutive stars", "a**b", "ab", true},
		{"question mark", "room?", "room1", true},
		{"question mark needs a character", "room?", "room", false},
		{"question marks for one level", "topic/???/x", "topic/abc/x", true},
		{"question mark is one rune", "t/?", "t/é", true},
		{"question marks count runes", "t/??", "t/é", false},
		{"plus is literal", "some/+/topic", "some/x/topic", false},
		{"plus equals itself", "some/+/topic", "some/+/topic", true},
		{"hash is literal", "a/#", "a/b", false},
		{"escaped star", "a/${*}", "a/*", true},
		{"escaped star is not a wildcard", "a/${*}", "a/b", false},
		{"escaped question mark", "a${?}", "a?", true},
		{"escaped dollar", "${$}{x}", "${x}", true},
		{"unknown group is literal", "client/${iot:ClientId}", "client/${iot:ClientId}", true},
		{"unknown group does not match a value", "client/${iot:ClientId}", "client/c1", false},
		{"star inside a group is literal", "a${b*c}", "a${bxc}", false},
		{"unclosed group", "a${b*", "a${bcd", true},
		{"dollar alone", "a$b", "a$b", true},
		{"case-sensitive", "Topic", "topic", false},
		{"arn", arn + "topic/home/*", arn + "topic/home/hall", true},
		{"arn other account", arn + "topic/*", "arn:aws:iot:eu-west-1:999999999999:topic/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchResource(tt.pattern, tt.resource); got != tt.want {
				t.Errorf("MatchResource(%q, %q): got %v, want %v", tt.pattern, tt.resource, got, tt.want)
			}
			p := compilePattern(tt.pattern, true, true)
			if got := p.match(tt.resource, nil, false); got != tt.want {
				t.Errorf("compiled match(%q, %q): got %v, want %v", tt.pattern, tt.resource, got, tt.want)
			}
		})
	}
}

func TestMatchFold(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		s       string
		want    bool
	}{
		{"ascii", "Lamp-1", "lAMP-1", true},
		{"unicode", "Ärger", "äRGER", true},
		{"kelvin sign folds to k", "k", "\u212a", true},
		{"different", "lamp", "lamb", false},
		{"invalid bytes match only themselves", "\xff", "\xfe", false},
		{"invalid bytes equal", "a\xff", "A\xff", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compilePattern(tt.pattern, false, false)
			if got := p.match(tt.s, nil, true); got != tt.want {
				t.Errorf("fold match(%q, %q): got %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestSubstituteVariables(t *testing.T) {
	ctx := &Context{
		ClientID: "dev-1", HasClientID: true, DomainName: "iot.local", SourceIP: "192.0.2.1",
		Thing: &Thing{Name: "lamp", TypeName: "light", Attributes: map[string]string{"room": "hall"}, IsAttached: true},
		Cert: &CertInfo{SerialNumber: "42", Subject: CertName{
			Attributes:       map[string][]string{"CommonName": {"dev-1"}, "Organization": {"A", "B"}, "Title": {"a*b"}, "Pseudonym": {strings.Repeat("x", 1025)}},
			AlternativeNames: map[string][]string{"DNSName": {"d.example.com"}}},
			Issuer:        CertName{Attributes: map[string][]string{"CommonName": {"Local CA"}}},
			AvailableKeys: []string{"iot:Certificate.SerialNumber"}},
	}
	tests := []struct {
		name    string
		in      string
		ctx     *Context
		want    string
		wantAll bool
	}{
		{"no variables", "topic/a", ctx, "topic/a", true},
		{"client id", "client/${iot:ClientId}", ctx, "client/dev-1", true},
		{"domain and ip", "${iot:DomainName}/${aws:SourceIp}", ctx, "iot.local/192.0.2.1", true},
		{"thing", "${iot:Connection.Thing.ThingName}/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.Attributes[room]}/${iot:Connection.Thing.IsAttached}", ctx, "lamp/light/hall/true", true},
		{"certificate", "${iot:Certificate.Subject.CommonName}/${iot:Certificate.Issuer.CommonName}/${iot:Certificate.SerialNumber}", ctx, "dev-1/Local CA/42", true},
		{"certificate index", "${iot:Certificate.Subject.Organization}/${iot:Certificate.Subject.Organization.0}/${iot:Certificate.Subject.Organization.1}", ctx, "A/A/B", true},
		{"certificate alternative name", "${iot:Certificate.Subject.AlternativeName.DNSName}", ctx, "d.example.com", true},
		{"certificate available keys index", "${iot:Certificate.AvailableKeys.0}", ctx, "iot:Certificate.SerialNumber", true},
		{"certificate index out of range", "${iot:Certificate.Subject.Organization.2}", ctx, "${iot:Certificate.Subject.Organization.2}", false},
		{"certificate list is not a string", "${iot:Certificate.Subject.Organization.List}", ctx, "${iot:Certificate.Subject.Organization.List}", false},
		{"certificate value with a wildcard", "${iot:Certificate.Subject.Title}", ctx, "${iot:Certificate.Subject.Title}", false},
		{"certificate value over 1024 characters", "${iot:Certificate.Subject.Pseudonym}", ctx, "${iot:Certificate.Subject.Pseudonym}", false},
		{"missing attribute", "${iot:Certificate.Subject.Country}", ctx, "${iot:Certificate.Subject.Country}", false},
		{"unknown variable", "${iot:Thing.ThingName}", ctx, "${iot:Thing.ThingName}", false},
		{"nil context", "client/${iot:ClientId}", nil, "client/${iot:ClientId}", false},
		{"mixed resolved and unresolved", "${iot:ClientId}/${iot:Connection.Thing.Attributes[x]}", ctx, "dev-1/${iot:Connection.Thing.Attributes[x]}", false},
		{"escapes kept", "a${*}/${iot:ClientId}", ctx, "a${*}/dev-1", true},
		{"value wildcards escaped", "client/${iot:ClientId}", &Context{ClientID: "a*?$", HasClientID: true}, "client/a${*}${?}${$}", true},
		{"unclosed", "client/${iot:ClientId", ctx, "client/${iot:ClientId", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, all := SubstituteVariables(tt.in, tt.ctx)
			if got != tt.want || all != tt.wantAll {
				t.Errorf("SubstituteVariables(%q): got %q, %v, want %q, %v", tt.in, got, all, tt.want, tt.wantAll)
			}
		})
	}
}

// TestSubstituteThenMatchAgreesWithCompiled pins that SubstituteVariables + MatchResource decide as
// the compiled pattern does, so TestAuthorization-style displays never disagree with Evaluate.
func TestSubstituteThenMatchAgreesWithCompiled(t *testing.T) {
	ctxs := []*Context{
		nil,
		{ClientID: "c1", HasClientID: true},
		{ClientID: "a*", HasClientID: true},
		{ClientID: "x${*}y", HasClientID: true, Thing: &Thing{Name: "t?", IsAttached: true}},
	}
	patterns := []string{"client/${iot:ClientId}", "topic/${iot:ClientId}/*", "t/${iot:Connection.Thing.ThingName}?", "a${*}${iot:ClientId}", "${iot:ClientId"}
	resources := []string{"client/c1", "client/a*", "client/ab", "topic/c1/x", "topic/a*/x", "topic/ab/x", "t/t?z", "t/tzz", "a*c1", "a*a*", "client/${iot:ClientId}", "x${*}y", "client/x${*}y"}
	for _, ctx := range ctxs {
		for _, p := range patterns {
			compiled := compilePattern(p, true, true)
			sub, _ := SubstituteVariables(p, ctx)
			for _, r := range resources {
				if got, want := MatchResource(sub, r), compiled.match(r, ctx, false); got != want {
					t.Errorf("ctx %+v pattern %q resource %q: substituted %q matches %v, compiled %v", ctx, p, r, sub, got, want)
				}
			}
		}
	}
}
