package policy

import "testing"

// withCondition is a document allowing iot:Connect on everything under the given Condition block.
func withCondition(condition string) string {
	return doc(`{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":` + condition + `}`)
}

func TestConditions(t *testing.T) {
	full := &Context{
		ClientID: "lamp-1", HasClientID: true, DomainName: "abc-ats.iot.eu-west-1.amazonaws.com", SourceIP: "192.0.2.10",
		Thing: &Thing{Name: "lamp-1", TypeName: "lamp", Attributes: map[string]string{"floor": "3"}, IsAttached: true},
		Cert: &CertInfo{SerialNumber: "10525622389124227206", Subject: CertName{
			Attributes: map[string][]string{"Organization": {"Example Corp", "AnyCompany"}, "CommonName": {"lamp-1"}},
		}},
		ConnectAttributes: []string{"PersistentConnect", "LastWill"},
	}
	bare := &Context{ClientID: "lamp-1", HasClientID: true}
	tests := []struct {
		name      string
		condition string
		ctx       *Context
		want      bool
	}{
		// String operators.
		{"StringEquals matches", `{"StringEquals":{"iot:ClientId":"lamp-1"}}`, full, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"iot:ClientId":"LAMP-1"}}`, full, false},
		{"StringEquals star is literal", `{"StringEquals":{"iot:ClientId":"lamp-*"}}`, full, false},
		{"StringEquals values are OR", `{"StringEquals":{"iot:ClientId":["a","lamp-1"]}}`, full, true},
		{"StringNotEquals with a match", `{"StringNotEquals":{"iot:ClientId":["a","lamp-1"]}}`, full, false},
		{"StringNotEquals without a match", `{"StringNotEquals":{"iot:ClientId":["a","b"]}}`, full, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"iot:ClientId":"LAMP-1"}}`, full, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"iot:ClientId":"LAMP-1"}}`, full, false},
		{"StringLike star", `{"StringLike":{"iot:ClientId":"lamp-*"}}`, full, true},
		{"StringLike question mark", `{"StringLike":{"iot:ClientId":"lamp-?"}}`, full, true},
		{"StringLike no match", `{"StringLike":{"iot:ClientId":"door-*"}}`, full, false},
		{"StringNotLike", `{"StringNotLike":{"iot:ClientId":"door-*"}}`, full, true},
		{"value with a variable", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`, full, true},
		{"StringLike value with a variable", `{"StringLike":{"iot:DomainName":"*.iot.${iot:Connection.Thing.Attributes[region]}.amazonaws.com"}}`,
			&Context{DomainName: "x.iot.eu-west-1.amazonaws.com", Thing: &Thing{Name: "t", Attributes: map[string]string{"region": "eu-west-1"}, IsAttached: true}}, true},
		{"thing attribute key", `{"StringEquals":{"iot:Connection.Thing.Attributes[floor]":"3"}}`, full, true},
		{"thing type key", `{"StringEquals":{"iot:Connection.Thing.ThingTypeName":"lamp"}}`, full, true},
		{"key names are case-insensitive", `{"StringEquals":{"IOT:CLIENTID":"lamp-1"}}`, full, true},

		// Multiple keys and operators are AND.
		{"two keys both hold", `{"StringEquals":{"iot:ClientId":"lamp-1","iot:Connection.Thing.ThingName":"lamp-1"}}`, full, true},
		{"two keys one fails", `{"StringEquals":{"iot:ClientId":"lamp-1","iot:Connection.Thing.ThingName":"other"}}`, full, false},
		{"two operators one fails", `{"StringEquals":{"iot:ClientId":"lamp-1"},"StringLike":{"iot:DomainName":"nope*"}}`, full, false},

		// Bool and IsAttached. AWS: thing-policy-variables
		{"IsAttached true", `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`, full, true},
		{"IsAttached JSON boolean", `{"Bool":{"iot:Connection.Thing.IsAttached":true}}`, full, true},
		{"IsAttached without a thing", `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`, bare, false},
		{"IsAttached false without a thing", `{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}`, bare, true},
		{"IsAttached false for a thing not attached", `{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}`, &Context{Thing: &Thing{Name: "t"}}, true},
		{"Bool ignores case of the value", `{"Bool":{"iot:Connection.Thing.IsAttached":"TRUE"}}`, full, true},

		// IP addresses.
		{"IpAddress in range", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, full, true},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"192.0.2.10"}}`, full, true},
		{"IpAddress out of range", `{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`, full, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`, full, true},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, &Context{SourceIP: "2001:db8::1"}, true},
		{"IpAddress v4-mapped source", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, &Context{SourceIP: "::ffff:192.0.2.7"}, true},
		{"IpAddress invalid policy value", `{"IpAddress":{"aws:SourceIp":"not-an-ip"}}`, full, false},

		// Numeric and date.
		{"NumericEquals", `{"NumericEquals":{"iot:Connection.Thing.Attributes[floor]":3}}`, full, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[floor]":"3"}}`, full, false},
		{"NumericLessThan", `{"NumericLessThan":{"iot:Connection.Thing.Attributes[floor]":"4"}}`, full, true},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"iot:Connection.Thing.Attributes[floor]":"3"}}`, full, true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"iot:Connection.Thing.Attributes[floor]":"3"}}`, full, false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[floor]":"2.5"}}`, full, true},
		{"Numeric on a non-number", `{"NumericEquals":{"iot:ClientId":"1"}}`, full, false},
		{"DateLessThan", `{"DateLessThan":{"iot:Connection.Thing.Attributes[since]":"2025-01-01T00:00:00Z"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01"}}}, true},
		{"DateGreaterThan epoch", `{"DateGreaterThan":{"iot:Connection.Thing.Attributes[since]":"1700000000"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01T10:00:00Z"}}}, true},

		{"DateEquals", `{"DateEquals":{"iot:Connection.Thing.Attributes[since]":"2024-06-01T00:00:00Z"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01"}}}, true},
		{"DateNotEquals", `{"DateNotEquals":{"iot:Connection.Thing.Attributes[since]":"2024-06-02"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01"}}}, true},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"iot:Connection.Thing.Attributes[since]":"2024-06-01"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01"}}}, true},
		{"DateGreaterThanEquals on a non-date", `{"DateGreaterThanEquals":{"iot:Connection.Thing.Attributes[since]":"2024-06-01"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "soon"}}}, false},
		{"Date value with a variable", `{"DateGreaterThanEquals":{"iot:Connection.Thing.Attributes[since]":"${iot:Connection.Thing.Attributes[min]}"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"since": "2024-06-01", "min": "2024-01-01"}}}, true},
		{"Numeric value with a variable", `{"NumericLessThan":{"iot:Connection.Thing.Attributes[floor]":"${iot:Connection.Thing.Attributes[max]}"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"floor": "3", "max": "10"}}}, true},
		{"IpAddress value with a variable", `{"IpAddress":{"aws:SourceIp":"${iot:Connection.Thing.Attributes[net]}"}}`,
			&Context{SourceIP: "10.1.2.3", Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"net": "10.0.0.0/8"}}}, true},
		{"Bool value with a variable", `{"Bool":{"iot:Connection.Thing.IsAttached":"${iot:Connection.Thing.Attributes[want]}"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"want": "true"}}}, true},
		{"BinaryEquals", `{"BinaryEquals":{"iot:Connection.Thing.Attributes[blob]":"QmluYXJ5"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"blob": "QmluYXJ5"}}}, true},
		{"StringEquals with an unresolved variable compares the text", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`,
			&Context{ClientID: "${iot:Connection.Thing.ThingName}", HasClientID: true}, true},

		// ARNs.
		{"ArnLike", `{"ArnLike":{"iot:Connection.Thing.Attributes[role]":"arn:aws:iam::*:role/dev-*"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::123456789012:role/dev-lamp"}}}, true},
		{"ArnLike pattern with too few components does not match an ARN", `{"ArnLike":{"iot:Connection.Thing.Attributes[role]":"arn:aws:*:role/dev"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::123456789012:role/dev"}}}, false},
		{"ArnLike star does not cross components", `{"ArnLike":{"iot:Connection.Thing.Attributes[role]":"arn:aws:iam::*"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::123456789012:role/dev"}}}, false},
		{"ArnLike star alone", `{"ArnLike":{"iot:Connection.Thing.Attributes[role]":"*"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::123456789012:role/dev"}}}, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"iot:Connection.Thing.Attributes[role]":"arn:aws:iam::*:role/prod"}}`,
			&Context{Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::1:role/dev"}}}, true},
		{"ArnEquals with a variable", `{"ArnEquals":{"iot:Connection.Thing.Attributes[role]":"arn:aws:iam::1:role/${iot:ClientId}"}}`,
			&Context{ClientID: "dev", HasClientID: true, Thing: &Thing{Name: "t", IsAttached: true, Attributes: map[string]string{"role": "arn:aws:iam::1:role/dev"}}}, true},

		// Absent keys. IAM: a missing key makes an operator false and a negated operator true.
		{"missing key StringEquals", `{"StringEquals":{"iot:Connection.Thing.ThingName":"lamp-1"}}`, bare, false},
		{"missing key StringNotEquals", `{"StringNotEquals":{"iot:Connection.Thing.ThingName":"lamp-1"}}`, bare, true},
		{"unknown key StringEquals", `{"StringEquals":{"iot:NoSuchKey":"x"}}`, full, false},
		{"unknown key StringNotLike", `{"StringNotLike":{"aws:PrincipalTag/team":"x"}}`, full, true},
		{"nil context", `{"StringEquals":{"iot:ClientId":"lamp-1"}}`, nil, false},
		{"IfExists missing key", `{"StringEqualsIfExists":{"iot:Connection.Thing.ThingName":"lamp-1"}}`, bare, true},
		{"IfExists present key mismatch", `{"StringEqualsIfExists":{"iot:Connection.Thing.ThingName":"other"}}`, full, false},
		{"IfExists present key match", `{"StringLikeIfExists":{"iot:Connection.Thing.ThingName":"lamp*"}}`, full, true},

		// Null. AWS: use-policy-variables
		{"Null false present", `{"Null":{"iot:Certificate.SerialNumber":"false","iot:Certificate.Subject.CommonName":"false"}}`, full, true},
		{"Null false absent", `{"Null":{"iot:Certificate.SerialNumber":"false"}}`, bare, false},
		{"Null true absent", `{"Null":{"iot:Connection.Thing.ThingName":"true"}}`, bare, true},
		{"Null true present", `{"Null":{"iot:ClientId":"true"}}`, full, false},
		{"Null JSON boolean", `{"Null":{"iot:ClientId":false}}`, full, true},
		{"Null on an unknown key", `{"Null":{"iot:NoSuchKey":"true"}}`, full, true},

		// Multi-valued keys and set operators. AWS: cert-policy-variables, connect-policy
		{"ForAllValues cert list all allowed", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp","AnyCompany","Other"]}}`, full, true},
		{"ForAllValues cert list one not allowed", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp"]}}`, full, false},
		{"ForAllValues on an empty set", `{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp"]}}`, bare, true},
		{"ForAnyValue on an empty set", `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, bare, false},
		{"ForAnyValue connect attributes", `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, full, true},
		{"ForAnyValue StringLike", `{"ForAnyValue:StringLike":{"iot:ConnectAttributes":"Last*"}}`, full, true},
		{"ForAllValues StringEquals connect attributes subset fails", `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`, full, false},
		{"ForAllValues StringNotEquals", `{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"CleanSession"}}`, full, true},
		{"ForAllValues StringNotEquals with one hit", `{"ForAllValues:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}`, full, false},
		{"ForAnyValue StringNotEquals", `{"ForAnyValue:StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}`, full, true},
		{"ForAllValues IfExists missing", `{"ForAllValues:StringEqualsIfExists":{"iot:ConnectAttributes":"LastWill"}}`, bare, true},
		{"multi-valued key without a set operator", `{"StringEquals":{"iot:ConnectAttributes":"LastWill"}}`, full, true},
		{"multi-valued key negated without a set operator", `{"StringNotEquals":{"iot:ConnectAttributes":"LastWill"}}`, full, false},
		{"cert attribute without List is its first value", `{"StringEquals":{"iot:Certificate.Subject.Organization":"AnyCompany"}}`, full, false},
		{"cert attribute index", `{"StringEquals":{"iot:Certificate.Subject.Organization.1":"AnyCompany"}}`, full, true},
		{"cert serial number", `{"StringEquals":{"iot:Certificate.SerialNumber":"10525622389124227206"}}`, full, true},
		{"cert available keys", `{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.CommonName"}}`,
			&Context{Cert: &CertInfo{AvailableKeys: []string{"iot:Certificate.SerialNumber", "iot:Certificate.Subject.CommonName"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, withCondition(tt.condition))
			got := Evaluate(Request{Action: "iot:Connect", Resource: arn + "client/lamp-1", Policies: []Policy{{Name: "p", Version: "1", Doc: c}}, Context: tt.ctx})
			if (got.Effect == Allowed) != tt.want {
				t.Errorf("condition holds: got %v, want %v", got.Effect == Allowed, tt.want)
			}
		})
	}
}

func TestConditionLegacyVersionHasNoVariables(t *testing.T) {
	c := mustParse(t, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
		"Condition":{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}}]}`)
	ctx := &Context{ClientID: "t", HasClientID: true, Thing: &Thing{Name: "t", IsAttached: true}}
	if got := Evaluate(Request{Action: "iot:Connect", Resource: arn + "client/t", Policies: []Policy{{Name: "p", Doc: c}}, Context: ctx}).Effect; got != ImplicitDeny {
		t.Errorf("got %v, want IMPLICIT_DENY: 2008-10-17 documents do not substitute", got)
	}
}
