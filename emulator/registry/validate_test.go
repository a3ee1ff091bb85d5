package registry

import (
	"strings"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, value, wantMsg string
	}{
		{"ok", "my_thing-1:a", ""},
		{"128 characters", strings.Repeat("a", 128), ""},
		{"empty", "", "1 validation error detected: Value '' at 'thingName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"129 characters", strings.Repeat("a", 129), "1 validation error detected: Value '" + strings.Repeat("a", 129) + "' at 'thingName' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"slash", "a/b", "1 validation error detected: Value 'a/b' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"},
		{"space", "a b", "1 validation error detected: Value 'a b' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"},
		{"non-ASCII", "café", "1 validation error detected: Value 'café' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkName("thingName", tt.value)
			if tt.wantMsg == "" {
				must(t, err)
				return
			}
			wantCode(t, err, awserr.InvalidRequest)
			if got := err.(*awserr.Error).Message; got != tt.wantMsg {
				t.Fatalf("got %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestCheckAttributes(t *testing.T) {
	tests := []struct {
		name    string
		attrs   map[string]string
		wantErr bool
	}{
		{"typical", map[string]string{"serial": "A-12", "loc": "eu/lyon#3", "cfg": "[a=b]"}, false},
		{"empty value", map[string]string{"a": ""}, false},
		{"value with a space", map[string]string{"a": "b c"}, true},
		{"value of 800", map[string]string{"a": strings.Repeat("v", 800)}, false},
		{"value of 801", map[string]string{"a": strings.Repeat("v", 801)}, true},
		{"name of 128", map[string]string{strings.Repeat("n", 128): "v"}, false},
		{"name of 129", map[string]string{strings.Repeat("n", 129): "v"}, true},
		{"name with =", map[string]string{"a=b": "v"}, true},
		{"empty name", map[string]string{"": "v"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkAttributes("attributePayload.attributes", tt.attrs)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("got %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestCheckDescription(t *testing.T) {
	tests := []struct {
		name, value string
		wantErr     bool
	}{
		{"printable ASCII and spaces", "Temperature sensor, v2 (indoor) #1!", false},
		{"2028 characters", strings.Repeat("d", 2028), false},
		{"2029 characters", strings.Repeat("d", 2029), true},
		{"newline", "a\nb", true},
		{"non-ASCII", "température", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDescription("thingTypeProperties.thingTypeDescription", tt.value)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("got %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestResolveName(t *testing.T) {
	sc := Scope{Account: "123456789012", Region: "eu-west-1"}
	tests := []struct {
		name, byName, byARN string
		want, wantErr       string
	}{
		{"name wins", "g", "arn:aws:iot:eu-west-1:123456789012:thinggroup/other", "g", ""},
		{"ARN", "", "arn:aws:iot:eu-west-1:123456789012:thinggroup/g", "g", ""},
		{"neither", "", "", "", awserr.InvalidRequest},
		{"other region", "", "arn:aws:iot:us-east-1:123456789012:thinggroup/g", "", awserr.ResourceNotFound},
		{"other type", "", "arn:aws:iot:eu-west-1:123456789012:thing/g", "", awserr.ResourceNotFound},
		{"garbage", "", "thinggroup/g", "", awserr.ResourceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveName(sc, "thinggroup", tt.byName, tt.byARN, "thingGroup")
			if tt.wantErr != "" {
				wantCode(t, err, tt.wantErr)
				return
			}
			must(t, err)
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
