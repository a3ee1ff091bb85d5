package sql

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	valid := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e-3`, `-12E+2`, `"x"`, `true`, `false`, `null`, ` {"a" : [1, {"b":null}] } `,
		`"\u00e9\ud83d\ude00\n\"\\\/"`, `"\ud800"`, `"\ud800\u0041"`, `{"a":1,"a":2}`, "\"\xff\"",
		`12345678901234567890123`, `1e400`,
	}
	for _, s := range valid {
		v, ok := parseJSON(s)
		if !ok {
			t.Errorf("parseJSON(%q) failed", s)
			continue
		}
		// Re-encoding gives JSON that encoding/json reads as the same value.
		out := appendJSON(nil, v)
		var want, got any
		if json.Unmarshal([]byte(s), &want) != nil {
			continue // 1e400: out of float64 range for encoding/json; we keep the text
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("re-encoding of %q is not JSON: %q: %v", s, out, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: round trip gives %q", s, out)
		}
	}
	invalid := []string{
		``, ` `, `{`, `}`, `[1,]`, `{"a":}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `+1`, `-`, `tru`, `nul`,
		`"abc`, "\"\x01\"", `"\x"`, `"\u12"`, `[1 2]`, `{} {}`, `NaN`, `'x'`, "\xef\xbb\xbf{}",
		strings.Repeat("[", maxJSONDepth+2) + strings.Repeat("]", maxJSONDepth+2),
	}
	for _, s := range invalid {
		if _, ok := parseJSON(s); ok {
			t.Errorf("parseJSON(%q) succeeded, want failure", s)
		}
	}
}

func FuzzPayloadJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\ud83d\ude00"`, `1e5`, `{"a":1,"a":2}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := parseJSON(string(data))
		std := json.Valid(data)
		if ok && !std {
			t.Fatalf("parseJSON accepted %q, which encoding/json rejects", data)
		}
		if !ok && std && maxDepth(data) <= maxJSONDepth {
			t.Fatalf("parseJSON rejected %q, which encoding/json accepts", data)
		}
		if !ok {
			return
		}
		out := appendJSON(nil, v)
		if !json.Valid(out) {
			t.Fatalf("appendJSON wrote invalid JSON %q for %q", out, data)
		}
		again, ok := parseJSON(string(out))
		if !ok || !equal(v, again) {
			t.Fatalf("round trip of %q changed the value: %q", data, out)
		}
	})
}

// maxDepth is the bracket depth of a JSON text, ignoring strings (valid JSON only).
func maxDepth(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == '[' || c == '{'):
			depth++
			deepest = max(deepest, depth)
		case !inString && (c == ']' || c == '}'):
			depth--
		}
	}
	return deepest
}

func TestParseJSONManyKeys(t *testing.T) {
	// Objects with many keys are indexed: parsing stays linear and lookups find every key.
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 5000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	b.WriteString(`,"k7":"last"}`)
	v, ok := parseJSON(b.String())
	if !ok || len(v.obj.members) != 5000 {
		t.Fatalf("parse failed or wrong size")
	}
	if got, _ := v.obj.get("k4999"); got.i != 4999 {
		t.Errorf("k4999 = %v", got)
	}
	if got, _ := v.obj.get("k7"); got.s != "last" || v.obj.members[7].key != "k7" {
		t.Errorf("duplicate key: got %v at position of %q", got, v.obj.members[7].key)
	}
	c := v.obj.clone()
	c.set("k1", vInt(-1))
	if got, _ := v.obj.get("k1"); got.i != 1 {
		t.Errorf("clone shares its index with the original")
	}
}
