package sql

import (
	"errors"
	"strings"
	"testing"
)

func TestSubstitute(t *testing.T) {
	devicePayload := `{"deviceid":"iot123","temp":54.98,"humidity":32.43,"coords":{"latitude":47.615694,"longitude":-122.3359976},"n":null,"list":[1,"a"]}`
	tests := []struct {
		name     string
		template string
		payload  string
		topic    string // Env.Topic when not ""
		want     string
	}{
		// AWS: iot-substitution-templates.
		{"topic function", "${topic()}/republish", devicePayload, "my/iot/topic", "my/iot/topic/republish"},
		{"topic level", "alerts/${topic(2)}", devicePayload, "", "alerts/d1"},
		{"client id", "clients/${clientid()}", devicePayload, "", "clients/c1"},
		{"payload field", "devices/${deviceid}/temp", devicePayload, "", "devices/iot123/temp"},
		{"decimal field", "${temp}", devicePayload, "", "54.98"},
		{"nested field", "${coords.latitude},${coords.longitude}", devicePayload, "", "47.615694,-122.3359976"},
		{"object as JSON", "${coords}", devicePayload, "", `{"latitude":47.615694,"longitude":-122.3359976}`},
		{"array as JSON", "${list}", devicePayload, "", `[1,"a"]`},
		{"operators", "${temp > 50}/${humidity * 2}/${'a' + 1}", devicePayload, "", "true/64.86/a1"},
		{"undefined is empty", "x${missing}y", devicePayload, "", "xy"},
		{"null is empty", "x${n}y", devicePayload, "", "xy"},
		{"several expressions", "${topic(1)}-${topic(3)}-${timestamp()}", devicePayload, "", "sensors-data-1704164645000"},
		// AWS: republish-rule-action — $$ targets a reserved topic.
		{"dollar escape", "$$aws/things/${clientid()}/shadow/update", devicePayload, "", "$aws/things/c1/shadow/update"},
		{"lone dollar", "price $5 and $", devicePayload, "", "price $5 and $"},
		{"no expressions", "plain/topic", devicePayload, "", "plain/topic"},
		{"empty template", "", devicePayload, "", ""},
		{"braces inside the expression", "${ {'a': '}'}.a }", devicePayload, "", "}"},
		{"nested templates are literal", "${'${x}'}", devicePayload, "", "${x}"},
		{"case", "${CASE temp WHEN 54.98 THEN 'warm' ELSE 'cold' END}", devicePayload, "", "warm"},
		// AWS: binary-payloads — "device/${device_id}" is allowed with a binary payload.
		{"binary payload field", "device/${device_id}", "\x00\x01", "", "device/"},
		{"binary payload encoded", "${encode(*, 'base64')}", "\x00\x01", "", "AAE="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv()
			if tc.topic != "" {
				env.Topic = tc.topic
			}
			got, err := Substitute(tc.template, []byte(tc.payload), env)
			if err != nil {
				t.Fatalf("Substitute: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTemplateInvalid(t *testing.T) {
	tests := []struct{ name, template, want string }{
		{"unterminated", "alerts/${topic(2)", "unterminated ${"},
		{"unterminated at end", "alerts/${", "unexpected end of statement"},
		{"empty", "a/${}", "empty ${}"},
		{"unknown function", "${foo()}", "unknown function 'foo'"},
		{"two expressions", "${a b}", "expected '}' to end the ${…} expression but found 'b'"},
		{"bad string", "${'abc}", "unterminated string literal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.template)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if !strings.Contains(pe.Message, tc.want) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.want)
			}
		})
	}
}

func TestTemplateExpandErrors(t *testing.T) {
	tmpl, err := ParseTemplate("x/${aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:f', *).topic}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Expand([]byte(`{}`), testEnv()); !errors.Is(err, ErrNotLocal) {
		t.Errorf("err = %v, want ErrNotLocal", err)
	}
}

func TestTemplateAccessors(t *testing.T) {
	for _, tc := range []struct {
		text string
		has  bool
	}{{"a/b", false}, {"a/$$b", false}, {"a/${topic()}", true}} {
		tmpl, err := ParseTemplate(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if tmpl.String() != tc.text || tmpl.HasExpressions() != tc.has {
			t.Errorf("%q: String()=%q HasExpressions()=%v", tc.text, tmpl.String(), tmpl.HasExpressions())
		}
	}
}
