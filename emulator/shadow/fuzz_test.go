package shadow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzUpdate(f *testing.F) {
	seeds := []struct {
		setup, request string
		mode           byte
	}{
		{``, `{"state":{"desired":{"color":"red"}}}`, 0},
		{`{"state":{"desired":{"a":{"b":[1,{"c":null}]}},"reported":{"a":1}}}`, `{"state":{"reported":{"a":{"b":[1,{"c":null}]}},"desired":null},"clientToken":"t"}`, 0},
		{`{"state":{"reported":{"x":1}}}`, `{"state":{"reported":{"x":{}}},"version":1}`, 0},
		{`{"state":{"reported":{"x":1}}}`, `{"state":null}`, 1},
		{`{"state":{"reported":{"x":1}}}`, `{"state":{"desired":{"x":1.0,"y":[[]]}},"version":2}`, 2},
		{``, `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}`, 0},
		{``, `{"state":{"desired":{"a":"` + strings.Repeat("x", MaxStateBytes) + `"}}}`, 0},
		{``, "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", 0},
		{``, `{"state":{"delta":1,"reported":{"a":[null]}}}`, 0},
		{``, `[1,2,{"state":{}}]`, 0},
	}
	for _, s := range seeds {
		f.Add(s.setup, s.request, s.mode, uint32(60))
	}
	f.Fuzz(func(t *testing.T, setup, request string, mode byte, dt uint32) {
		t0 := time.Unix(1700000000, 0)
		at := t0.Add(time.Duration(dt) * time.Second)
		var cur *Stored
		if s, _, rej := Update(nil, []byte(setup), t0); rej == nil {
			cur = s
			checkInvariants(t, "setup", s)
			switch mode % 3 {
			case 1:
				cur, _, _ = Delete(ID{Thing: "t"}, s, nil, t0)
			case 2:
				cur = stored(t, string(persisted(t, s))) // through the persisted form
			}
		}
		before := ""
		if cur != nil {
			before = string(persisted(t, cur))
		}
		next, resp, rej := Update(cur, []byte(request), at)
		if cur != nil && string(persisted(t, cur)) != before {
			t.Fatalf("Update modified its argument")
		}
		if rej != nil {
			if next != nil || resp.Accepted != nil || resp.Documents != nil || resp.Delta != nil {
				t.Fatalf("a rejection came with a shadow or documents")
			}
			switch rej.Code {
			case 400, 409, 413, 415:
			default:
				t.Fatalf("unexpected code %d", rej.Code)
			}
			if !json.Valid(rej.JSON()) {
				t.Fatalf("rejected document is not JSON: %s", rej.JSON())
			}
			if len(rej.ClientToken) > MaxClientTokenBytes {
				t.Fatalf("echoed an invalid clientToken")
			}
			return
		}
		if !utf8.ValidString(request) {
			t.Fatalf("accepted a request that isn't UTF-8")
		}
		if !next.Exists() {
			t.Fatalf("an accepted update left no shadow")
		}
		if cur.Exists() && next.Version() <= cur.Version() {
			t.Fatalf("version went from %d to %d", cur.Version(), next.Version())
		}
		if next.Version() < 1 {
			t.Fatalf("version %d", next.Version())
		}
		checkInvariants(t, "next", next)
		for name, doc := range map[string][]byte{"accepted": resp.Accepted, "documents": resp.Documents} {
			if !json.Valid(doc) {
				t.Fatalf("%s is not JSON: %s", name, doc)
			}
		}
		got, rej := Get(ID{Thing: "t"}, next, nil, at)
		if rej != nil {
			t.Fatalf("Get after an accepted update: %s", rej.JSON())
		}
		// The delta published equals the one Get computes.
		var g struct {
			State struct {
				Delta json.RawMessage `json:"delta"`
			} `json:"state"`
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("get/accepted is not JSON: %v", err)
		}
		var d struct {
			State json.RawMessage `json:"state"`
		}
		if resp.Delta != nil {
			if err := json.Unmarshal(resp.Delta, &d); err != nil {
				t.Fatalf("delta is not JSON: %v", err)
			}
		}
		if string(g.State.Delta) != string(d.State) {
			t.Fatalf("delta %s, but Get shows %s", d.State, g.State.Delta)
		}
		// Merging is idempotent: the same request again changes nothing but the version.
		again, _, rej := Update(next, []byte(request), at)
		if rej == nil {
			if a, b := appendJSON(appendJSON(nil, again.desired), again.reported), appendJSON(appendJSON(nil, next.desired), next.reported); string(a) != string(b) {
				t.Fatalf("the same update twice:\n%s\n%s", a, b)
			}
		}
	})
}

// checkInvariants checks what every stored shadow satisfies.
func checkInvariants(t *testing.T, what string, s *Stored) {
	t.Helper()
	if n := stateSize(s); n > MaxStateBytes {
		t.Fatalf("%s: state of %d bytes", what, n)
	}
	for _, sec := range []struct {
		state, meta *object
	}{{s.desired, s.desiredMeta}, {s.reported, s.reportedMeta}} {
		if sec.state == nil {
			if sec.meta != nil {
				t.Fatalf("%s: metadata without state", what)
			}
			continue
		}
		if tooDeep(sec.state, 1) {
			t.Fatalf("%s: nesting too deep: %s", what, appendJSON(nil, sec.state))
		}
		if !mirrors(sec.state, sec.meta) {
			t.Fatalf("%s: metadata %s doesn't mirror %s", what, appendJSON(nil, sec.meta), appendJSON(nil, sec.state))
		}
		if bad := emptyOrNull(sec.state); bad {
			t.Fatalf("%s: stored an empty object or a null: %s", what, appendJSON(nil, sec.state))
		}
	}
	back := stored(t, string(persisted(t, s)))
	if !reflect.DeepEqual(persisted(t, back), persisted(t, s)) {
		t.Fatalf("%s: persisted form doesn't round-trip", what)
	}
}

// emptyOrNull reports an empty object or a null member anywhere outside arrays.
func emptyOrNull(o *object) bool {
	if o.len() == 0 {
		return true
	}
	for _, x := range o.vals {
		switch v := x.(type) {
		case nil:
			return true
		case *object:
			if emptyOrNull(v) {
				return true
			}
		}
	}
	return false
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"$aws/things/lamp/shadow/update", "$aws/things/lamp/shadow/name/cfg/get/accepted",
		"$aws/things/lamp/shadow/update/delta", "$aws/things/lamp/shadow/name//get", "$aws/things/+/shadow/#",
		"$aws/things/lamp/shadow/name/name/name/get", "$aws/things/lamp/shadow/delete/documents",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		tp, ok := ParseTopic(topic)
		if !ok {
			if tp != (Topic{}) {
				t.Fatalf("not ok, but got %+v", tp)
			}
			return
		}
		if tp.String() != topic {
			t.Fatalf("String: got %q, want %q", tp.String(), topic)
		}
		if !tp.Valid() {
			t.Fatalf("invalid names accepted: %+v", tp)
		}
		if tp.Op != OpGet && tp.Op != OpUpdate && tp.Op != OpDelete {
			t.Fatalf("op %q", tp.Op)
		}
		for _, kind := range []string{KindAccepted, KindRejected} {
			r, ok := ParseTopic(tp.Response(kind))
			if !ok || r.ID != tp.ID || r.Op != tp.Op || r.Kind != kind {
				t.Fatalf("response topic %q parsed as %+v, %v", tp.Response(kind), r, ok)
			}
		}
	})
}

// FuzzJSON checks the ordered JSON reader and writer against encoding/json.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"],"c":{"d":1.5e3}}`, `"\u00e9\n<&>"`, `[]`, `{"a":1,"a":2}`, `1e999`, `{"a" 1}`, "\"\xff\"", `[1,]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeJSON([]byte(s))
		if ok := json.Valid([]byte(s)); ok != (err == nil) {
			t.Fatalf("json.Valid %v, decodeJSON error %v", ok, err)
		}
		if err != nil {
			return
		}
		out := appendJSON(nil, v)
		var want, got any
		if err := unmarshalNumbers([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalNumbers(out, &got); err != nil {
			t.Fatalf("appendJSON wrote invalid JSON %q: %v", out, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q gave %q", s, out)
		}
		if !equal(v, clone(v)) {
			t.Fatalf("a value differs from its clone: %q", s)
		}
	})
}

// unmarshalNumbers is json.Unmarshal keeping numbers as json.Number (1e999 is valid JSON).
func unmarshalNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
