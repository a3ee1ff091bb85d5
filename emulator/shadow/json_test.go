package shadow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // re-encoded by appendJSON; "" for an error
	}{
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t\u00e9"`, `"a\"b\\c/d\b\f\n\r\té"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"lone high surrogate", `"\ud83dx"`, `"` + "\uFFFD" + `x"`},
		{"high surrogate then non-surrogate escape", `"\ud83d\u0041"`, `"` + "\uFFFD" + `A"`},
		{"lone low surrogate", `"\ude00"`, `"` + "\uFFFD" + `"`},
		{"invalid UTF-8 becomes U+FFFD per byte", "\"a\xff\xfeb\"", `"a` + "\uFFFD\uFFFD" + `b"`},
		{"numbers keep their text", `[0,-0,1.50,-2e+3,3E-4,12345678901234567890123]`, `[0,-0,1.50,-2e+3,3E-4,12345678901234567890123]`},
		{"whitespace", " \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\r\n", `{"a":[1,2],"b":{}}`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"repeated key keeps first position, last value", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"leading zero", `01`, ``},
		{"bare minus", `-`, ``},
		{"fraction without digits", `1.`, ``},
		{"exponent without digits", `1e+`, ``},
		{"plus sign", `+1`, ``},
		{"control character in string", "\"a\nb\"", ``},
		{"bad escape", `"\x"`, ``},
		{"short unicode escape", `"\u12"`, ``},
		{"bad hex", `"\u12G4"`, ``},
		{"unterminated string", `"abc`, ``},
		{"unterminated escape", `"abc\`, ``},
		{"trailing comma in array", `[1,]`, ``},
		{"trailing comma in object", `{"a":1,}`, ``},
		{"missing colon", `{"a" 1}`, ``},
		{"non-string key", `{1:2}`, ``},
		{"unclosed object", `{"a":1`, ``},
		{"unclosed array", `[1`, ``},
		{"two values", `{} {}`, ``},
		{"truncated literal", `tru`, ``},
		{"empty", ``, ``},
		{"too deep", strings.Repeat("[", maxDecodeDepth+1) + strings.Repeat("]", maxDecodeDepth+1), ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeJSON([]byte(tc.in))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", appendJSON(nil, v))
				}
				if json.Valid([]byte(tc.in)) && tc.name != "too deep" {
					t.Fatalf("encoding/json accepts %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got := string(appendJSON(nil, v)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAppendStringEscapes(t *testing.T) {
	var in strings.Builder
	for c := range 0x20 {
		in.WriteByte(byte(c))
	}
	in.WriteString("\"\\/<>&\u2028é")
	want := `"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f` +
		`\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f` +
		`\"\\/<>&` + "\u2028é" + `"`
	got := string(appendString(nil, in.String()))
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil || back != in.String() {
		t.Errorf("encoding/json reads back %q, %v", back, err)
	}
}

func TestNumbersEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1", "1.0", true},
		{"1e2", "100", true},
		{"0.1", "0.10", true},
		{"-0", "0", true},
		{"0.0e5", "0", true},
		{"1", "2", false},
		{"12345678901234567890", "12345678901234567891", false}, // the same float64
		{"1e999", "1e999", true},
		{"1e999", "2e999", false},
		{"1e-999", "0", false},
		{"1e-999", "1e-998", false},
		{"1e-999", "10e-1000", true},
	}
	for _, tc := range tests {
		if got := numbersEqual(json.Number(tc.a), json.Number(tc.b)); got != tc.want {
			t.Errorf("numbersEqual(%s, %s): got %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLargeObject covers objects past indexAt members, which find members through an index.
func TestLargeObject(t *testing.T) {
	o := newObject()
	for i := range 3 * indexAt {
		o.set(fmt.Sprintf("k%02d", i), i)
	}
	if o.index == nil {
		t.Fatal("no index past indexAt members")
	}
	o.set("k05", "five") // replaced in place
	o.del("k00")
	o.del("k30")
	o.del("missing")
	o.set("new", true)
	c := cloneObject(o)
	for _, obj := range []*object{o, c} {
		if obj.len() != 3*indexAt-1 || obj.keys[0] != "k01" || obj.keys[obj.len()-1] != "new" {
			t.Fatalf("order after edits: %v", obj.keys)
		}
		for _, k := range []string{"k01", "k05", "k31", "new"} {
			if _, ok := obj.get(k); !ok {
				t.Errorf("%s missing", k)
			}
		}
		for _, k := range []string{"k00", "k30"} {
			if _, ok := obj.get(k); ok {
				t.Errorf("%s still there", k)
			}
		}
		if v, _ := obj.get("k05"); v != "five" {
			t.Errorf("k05: got %v", v)
		}
	}
	c.set("only-in-clone", 1)
	if _, ok := o.get("only-in-clone"); ok {
		t.Error("the clone shares its index with the original")
	}
	// A large section through Update: members deleted by null, order kept.
	var req strings.Builder
	req.WriteString(`{"state":{"reported":{`)
	for i := range 40 {
		fmt.Fprintf(&req, `"k%02d":%d,`, i, i)
	}
	req.WriteString(`"last":0}}}`)
	s, _, rej := Update(nil, []byte(req.String()), now)
	if rej != nil {
		t.Fatal(rej)
	}
	s, _, _ = Update(s, []byte(`{"state":{"reported":{"k03":null,"k39":null,"k00":"zero"}}}`), now)
	if got := s.reported.keys; got[0] != "k00" || got[2] != "k02" || got[3] != "k04" || got[len(got)-1] != "last" || len(got) != 39 {
		t.Errorf("keys: %v", got)
	}
}
