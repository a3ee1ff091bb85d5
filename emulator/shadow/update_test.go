package shadow

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Fixtures in the persisted form. Their metadata is from 1600000000; the tests run at 1700000000.
const (
	redOnly = `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}}},"version":1}`
	full    = `{"state":{
		"desired":{"color":"red","engine":"ON","lights":{"r":1,"g":2}},
		"reported":{"color":"green","temp":20}},
	  "metadata":{
		"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000},"g":{"timestamp":1600000000}}},
		"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},
	  "version":7}`
	fullDoc = `{"state":{"desired":{"color":"red","engine":"ON","lights":{"r":1,"g":2}},"reported":{"color":"green","temp":20}},
	  "metadata":{"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000},"g":{"timestamp":1600000000}}},
		"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":7}`
)

func TestUpdateAccepted(t *testing.T) {
	tests := []struct {
		name    string
		current string // persisted form; "" for a shadow that never existed
		request string
		now     time.Time // zero: now

		accepted, delta, documents string // "" not checked; delta "none": no delta
		stored                     string // persisted form of the new shadow; "" to skip
	}{
		{
			name:      "creates the shadow at version 1 with a delta (checklist 81)",
			request:   `{"state":{"desired":{"color":"red"}}}`,
			accepted:  `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
			delta:     `{"version":1,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1700000000}}}`,
			documents: `{"previous":null,"current":{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000}`,
			stored:    `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1}`,
		},
		{
			name:      "reported equal to desired gives no delta (checklist 82)",
			delta:     "none",
			current:   redOnly,
			request:   `{"state":{"reported":{"color":"red"}},"clientToken":"dev"}`,
			accepted:  `{"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":1700000000}}},"version":2,"timestamp":1700000000,"clientToken":"dev"}`,
			documents: `{"previous":` + redOnly + `,"current":{"state":{"desired":{"color":"red"},"reported":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}},"reported":{"color":{"timestamp":1700000000}}},"version":2},"timestamp":1700000000,"clientToken":"dev"}`,
		},
		{
			name:     "a reported update that leaves differences publishes the whole delta",
			current:  full,
			request:  `{"state":{"reported":{"temp":21}}}`,
			accepted: `{"state":{"reported":{"temp":21}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":8,"timestamp":1700000000}`,
			delta: `{"version":8,"timestamp":1700000000,"state":{"color":"red","engine":"ON","lights":{"r":1,"g":2}},
				"metadata":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000},"g":{"timestamp":1600000000}}}}`,
		},
		{
			name:     "null removes a member and its metadata (checklist 86)",
			current:  full,
			request:  `{"state":{"desired":{"engine":null,"lights":{"g":null}}}}`,
			accepted: `{"state":{"desired":{"engine":null,"lights":{"g":null}}},"metadata":{"desired":{"engine":{"timestamp":1700000000},"lights":{"g":{"timestamp":1700000000}}}},"version":8,"timestamp":1700000000}`,
			delta:    `{"version":8,"timestamp":1700000000,"state":{"color":"red","lights":{"r":1}},"metadata":{"color":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000}}}}`,
			stored: `{"state":{"desired":{"color":"red","lights":{"r":1}},"reported":{"color":"green","temp":20}},
				"metadata":{"desired":{"color":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000}}},"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:     "desired null removes the section and is echoed with a timestamp (device-shadow-data-flow)",
			delta:    "none",
			current:  full,
			request:  `{"state":{"reported":{"color":"red"},"desired":null}}`,
			accepted: `{"state":{"reported":{"color":"red"},"desired":null},"metadata":{"reported":{"color":{"timestamp":1700000000}},"desired":{"timestamp":1700000000}},"version":8,"timestamp":1700000000}`,
			stored:   `{"state":{"reported":{"color":"red","temp":20}},"metadata":{"reported":{"color":{"timestamp":1700000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:      "state null clears both sections and keeps the shadow",
			delta:     "none",
			current:   full,
			request:   `{"state":null,"clientToken":"c"}`,
			accepted:  `{"state":null,"metadata":{"timestamp":1700000000},"version":8,"timestamp":1700000000,"clientToken":"c"}`,
			documents: `{"previous":` + fullDoc + `,"current":{"state":{},"metadata":{},"version":8},"timestamp":1700000000,"clientToken":"c"}`,
			stored:    `{"state":{},"metadata":{},"version":8}`,
		},
		{
			name:     "an empty state changes only the version",
			current:  redOnly,
			request:  `{"state":{}}`,
			accepted: `{"state":{},"metadata":{},"version":2,"timestamp":1700000000}`,
			delta:    `{"version":2,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1600000000}}}`,
			stored:   `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}}},"version":2}`,
		},
		{
			name:     "arrays replace whole and get one timestamp per element",
			current:  `{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}},"metadata":{"desired":{"colors":[{"timestamp":1600000000},{"timestamp":1600000000},{"timestamp":1600000000}]}},"version":10}`,
			request:  `{"state":{"desired":{"colors":["RED"]}}}`,
			accepted: `{"state":{"desired":{"colors":["RED"]}},"metadata":{"desired":{"colors":[{"timestamp":1700000000}]}},"version":11,"timestamp":1700000000}`,
			delta:    `{"version":11,"timestamp":1700000000,"state":{"colors":["RED"]},"metadata":{"colors":[{"timestamp":1700000000}]}}`,
			stored:   `{"state":{"desired":{"colors":["RED"]}},"metadata":{"desired":{"colors":[{"timestamp":1700000000}]}},"version":11}`,
		},
		{
			name:    "objects merge and keep the timestamps of untouched members",
			current: full,
			request: `{"state":{"desired":{"lights":{"b":3}}}}`,
			stored: `{"state":{"desired":{"color":"red","engine":"ON","lights":{"r":1,"g":2,"b":3}},"reported":{"color":"green","temp":20}},
				"metadata":{"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000},"g":{"timestamp":1600000000},"b":{"timestamp":1700000000}}},
				"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:    "a leaf becomes an object and an object a leaf",
			current: full,
			request: `{"state":{"desired":{"color":{"r":255},"lights":"off"}}}`,
			stored: `{"state":{"desired":{"color":{"r":255},"engine":"ON","lights":"off"},"reported":{"color":"green","temp":20}},
				"metadata":{"desired":{"color":{"r":{"timestamp":1700000000}},"engine":{"timestamp":1600000000},"lights":{"timestamp":1700000000}},
				"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:     "an empty object removes a member like null",
			current:  full,
			request:  `{"state":{"desired":{"lights":{}}}}`,
			accepted: `{"state":{"desired":{"lights":{}}},"metadata":{"desired":{"lights":{}}},"version":8,"timestamp":1700000000}`,
			stored: `{"state":{"desired":{"color":"red","engine":"ON"},"reported":{"color":"green","temp":20}},
				"metadata":{"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000}},"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:    "an object emptied by nulls disappears",
			current: full,
			request: `{"state":{"desired":{"lights":{"r":null,"g":null}}}}`,
			stored: `{"state":{"desired":{"color":"red","engine":"ON"},"reported":{"color":"green","temp":20}},
				"metadata":{"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000}},"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":8}`,
		},
		{
			name:      "an empty object for a missing member stores nothing",
			delta:     "none",
			request:   `{"state":{"reported":{"config":{}}}}`,
			accepted:  `{"state":{"reported":{"config":{}}},"metadata":{"reported":{"config":{}}},"version":1,"timestamp":1700000000}`,
			documents: `{"previous":null,"current":{"state":{},"metadata":{},"version":1},"timestamp":1700000000}`,
			stored:    `{"state":{},"metadata":{},"version":1}`,
		},
		{
			name:    "a section emptied by nulls disappears",
			delta:   "none",
			current: redOnly,
			request: `{"state":{"desired":{"color":null}}}`,
			stored:  `{"state":{},"metadata":{},"version":2}`,
		},
		{
			name:     "a delta member in the request state is ignored",
			delta:    "none",
			request:  `{"state":{"reported":{"a":1},"delta":{"a":2}}}`,
			accepted: `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
			stored:   `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1}`,
		},
		{
			name:     "members outside state are ignored (diagnosing-shadows)",
			request:  `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1}}},"timestamp":5,"foo":"bar"}`,
			accepted: `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
		},
		{
			name:     "the current version is accepted",
			current:  full,
			request:  `{"state":{"reported":{"temp":1}},"version":7}`,
			accepted: `{"state":{"reported":{"temp":1}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":8,"timestamp":1700000000}`,
		},
		{
			name:     "a null version is no version",
			current:  full,
			request:  `{"state":{"reported":{"temp":1}},"version":null}`,
			accepted: `{"state":{"reported":{"temp":1}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":8,"timestamp":1700000000}`,
		},
		{
			name:     "a whole-number version written with a fraction",
			current:  full,
			request:  `{"state":{"reported":{"temp":1}},"version":7.0}`,
			accepted: `{"state":{"reported":{"temp":1}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":8,"timestamp":1700000000}`,
		},
		{
			name: "arrays are compared as whole values in the delta",
			current: `{"state":{"desired":{"a":[1,2],"b":[1,2]},"reported":{"a":[1,2],"b":[2,1]}},
				"metadata":{"desired":{"a":[{"timestamp":1600000000},{"timestamp":1600000000}],"b":[{"timestamp":1600000000},{"timestamp":1600000000}]},
				"reported":{"a":[{"timestamp":1600000000},{"timestamp":1600000000}],"b":[{"timestamp":1600000000},{"timestamp":1600000000}]}},"version":3}`,
			request: `{"state":{"reported":{"c":true}}}`,
			delta:   `{"version":4,"timestamp":1700000000,"state":{"b":[1,2]},"metadata":{"b":[{"timestamp":1600000000},{"timestamp":1600000000}]}}`,
		},
		{
			name:    "numbers compare by value in the delta",
			delta:   "none",
			current: `{"state":{"desired":{"n":1,"m":1.5,"x":[2]}},"metadata":{"desired":{"n":{"timestamp":1},"m":{"timestamp":1},"x":[{"timestamp":1}]}},"version":1}`,
			request: `{"state":{"reported":{"n":1.0,"m":15e-1,"x":[2.00]}}}`,
		},
		{
			name:    "a member deleted from reported comes back in the delta (device-shadow-mqtt)",
			current: `{"state":{"desired":{"color":"red"},"reported":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}},"reported":{"color":{"timestamp":1600000000}}},"version":2}`,
			request: `{"state":{"reported":{"color":null}}}`,
			delta:   `{"version":3,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1600000000}}}`,
		},
		{
			name:    "a type change is a difference",
			current: `{"state":{"desired":{"a":{"b":1},"c":"1"},"reported":{"a":1,"c":1}},"metadata":{"desired":{"a":{"b":{"timestamp":1}},"c":{"timestamp":1}},"reported":{"a":{"timestamp":1},"c":{"timestamp":1}}},"version":1}`,
			request: `{"state":{}}`,
			delta:   `{"version":2,"timestamp":1700000000,"state":{"a":{"b":1},"c":"1"},"metadata":{"a":{"b":{"timestamp":1}},"c":{"timestamp":1}}}`,
		},
		{
			name:    "nulls inside objects inside arrays are part of the array value",
			request: `{"state":{"reported":{"list":[{"a":null,"b":1}]}}}`,
			stored:  `{"state":{"reported":{"list":[{"a":null,"b":1}]}},"metadata":{"reported":{"list":[{"a":{"timestamp":1700000000},"b":{"timestamp":1700000000}}]}},"version":1}`,
		},
		{
			name:     "a repeated key keeps its last value",
			request:  `{"state":{"reported":{"a":1,"a":2}}}`,
			accepted: `{"state":{"reported":{"a":2}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
		},
		{
			name:      "recreated within 48 hours, the version continues",
			current:   `{"version":5,"deleted":true,"deletedAt":1699900000}`,
			request:   `{"state":{"reported":{"a":1}}}`,
			documents: `{"previous":null,"current":{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":6},"timestamp":1700000000}`,
		},
		{
			name:      "recreated after 48 hours, the version starts over",
			current:   `{"version":5,"deleted":true,"deletedAt":1699000000}`,
			request:   `{"state":{"reported":{"a":1}}}`,
			documents: `{"previous":null,"current":{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000}`,
		},
		{
			name:     "the deepest nesting allowed",
			request:  `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1,"g":[],"h":{}}}}}}}}}`,
			accepted: `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1,"g":[],"h":{}}}}}}}},"metadata":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"timestamp":1700000000},"g":[],"h":{}}}}}}}},"version":1,"timestamp":1700000000}`,
			stored:   `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1,"g":[]}}}}}}},"metadata":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"timestamp":1700000000},"g":[]}}}}}}},"version":1}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			cur := stored(t, tc.current)
			before := ""
			if cur != nil {
				before = string(persisted(t, cur))
			}
			next, resp, rej := Update(cur, []byte(tc.request), at)
			if rej != nil {
				t.Fatalf("got rejection %s, want acceptance", rej.JSON())
			}
			if tc.accepted != "" {
				checkJSON(t, "accepted", resp.Accepted, tc.accepted)
			}
			switch tc.delta {
			case "":
			case "none":
				checkJSON(t, "delta", resp.Delta, "")
			default:
				checkJSON(t, "delta", resp.Delta, tc.delta)
			}
			if tc.documents != "" {
				checkJSON(t, "documents", resp.Documents, tc.documents)
			}
			if tc.stored != "" {
				checkJSON(t, "stored", persisted(t, next), tc.stored)
			}
			if cur != nil && string(persisted(t, cur)) != before {
				t.Errorf("Update modified its argument:\n got %s\nwant %s", persisted(t, cur), before)
			}
		})
	}
}

func TestUpdateRejected(t *testing.T) {
	tooDeepDoc := `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}`
	tests := []struct {
		name    string
		current string
		request string
		want    string // the /rejected document
	}{
		{"payload not UTF-8", full, "{\"state\":{\"reported\":{\"a\":\"\xff\"}}}",
			`{"code":415,"message":"Unsupported documented encoding; supported encoding is UTF-8","timestamp":1700000000}`},
		{"payload not JSON (checklist 85)", full, `{"state":`, `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"empty payload", full, ``, `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"data after the JSON value", full, `{"state":{}} {}`, `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"payload an array", full, `[{"state":{}}]`, `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"payload null", full, `null`, `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"clientToken over 64 bytes (checklist 84)", full, `{"state":{},"clientToken":"` + strings.Repeat("x", 65) + `"}`,
			`{"code":400,"message":"Invalid clientToken","timestamp":1700000000}`},
		{"clientToken not a string", full, `{"state":{},"clientToken":5}`, `{"code":400,"message":"Invalid clientToken","timestamp":1700000000}`},
		{"version a string", full, `{"state":{},"version":"7","clientToken":"c"}`,
			`{"code":400,"message":"Invalid version","timestamp":1700000000,"clientToken":"c"}`},
		{"version negative", full, `{"state":{},"version":-1}`, `{"code":400,"message":"Invalid version","timestamp":1700000000}`},
		{"version a fraction", full, `{"state":{},"version":6.5}`, `{"code":400,"message":"Invalid version","timestamp":1700000000}`},
		{"missing state (checklist 85)", full, `{"clientToken":"c"}`,
			`{"code":400,"message":"Missing required node: state","timestamp":1700000000,"clientToken":"c"}`},
		{"state a string", full, `{"state":"on"}`, `{"code":400,"message":"State node must be an object","timestamp":1700000000}`},
		{"state an array", full, `{"state":[]}`, `{"code":400,"message":"State node must be an object","timestamp":1700000000}`},
		{"desired a number", full, `{"state":{"desired":1}}`, `{"code":400,"message":"Desired node must be an object","timestamp":1700000000}`},
		{"reported an array", full, `{"state":{"reported":[1]}}`, `{"code":400,"message":"Reported node must be an object","timestamp":1700000000}`},
		{"another node in state", full, `{"state":{"desired":{"a":1},"foo":{}}}`,
			`{"code":400,"message":"State contains an invalid node: 'foo'","timestamp":1700000000}`},
		{"array holding null (checklist 85)", full, `{"state":{"reported":{"colors":[null,"RED"]}}}`,
			`{"code":400,"message":"State contains an invalid node","timestamp":1700000000}`},
		{"nested array holding null", full, `{"state":{"desired":{"m":[[1],[null]]}}}`,
			`{"code":400,"message":"State contains an invalid node","timestamp":1700000000}`},
		{"objects nested too deep (checklist 85)", full, tooDeepDoc,
			`{"code":400,"message":"JSON contains too many levels of nesting; maximum is 6","timestamp":1700000000}`},
		{"arrays nested too deep", full, `{"state":{"reported":{"a":[[[[[[1]]]]]]}}}`,
			`{"code":400,"message":"JSON contains too many levels of nesting; maximum is 6","timestamp":1700000000}`},
		{"stale version (checklist 83)", full, `{"state":{"desired":{"a":1}},"version":6,"clientToken":"c"}`,
			`{"code":409,"message":"Version conflict","clientToken":"c"}`},
		{"newer version", full, `{"state":{"desired":{"a":1}},"version":8}`, `{"code":409,"message":"Version conflict"}`},
		{"version for a shadow that never existed", "", `{"state":{"desired":{"a":1}},"version":1}`, `{"code":409,"message":"Version conflict"}`},
		{"version for a deleted shadow", `{"version":5,"deleted":true,"deletedAt":1699999999}`, `{"state":{"desired":{"a":1}},"version":5}`,
			`{"code":409,"message":"Version conflict"}`},
		{"validation before the version check", full, `{"state":{"desired":1},"version":1}`,
			`{"code":400,"message":"Desired node must be an object","timestamp":1700000000}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, resp, rej := Update(stored(t, tc.current), []byte(tc.request), now)
			if rej == nil {
				t.Fatalf("got acceptance %s, want %s", resp.Accepted, tc.want)
			}
			if next != nil || resp.Accepted != nil {
				t.Errorf("a rejection returned a shadow or documents")
			}
			checkJSON(t, "rejected", rej.JSON(), tc.want)
		})
	}
}

func TestUpdateStateSizeLimit(t *testing.T) {
	// {"k":"…"} is 8 bytes plus the value.
	doc := func(section string, n int) string {
		return `{"state":{"` + section + `":{"k":"` + strings.Repeat("x", n) + `"}}}`
	}
	s, _, rej := Update(nil, []byte(doc("desired", MaxStateBytes-8)), now)
	if rej != nil {
		t.Fatalf("a state of exactly %d bytes: got %s, want acceptance", MaxStateBytes, rej.JSON())
	}
	if got := stateSize(s); got != MaxStateBytes {
		t.Fatalf("stateSize: got %d, want %d", got, MaxStateBytes)
	}
	// Metadata doesn't count, so nothing else fits; the limit applies to the merged document, so a
	// small update is refused (observed: a 44-byte update got 413, repost.aws/questions/QUYss-BCU1Tne7vyFQTdLRzA).
	_, _, rej = Update(s, []byte(`{"state":{"reported":{"a":1}},"clientToken":"c"}`), now)
	if rej == nil {
		t.Fatal("a small update over a full shadow was accepted")
	}
	checkJSON(t, "rejected", rej.JSON(), `{"code":413,"message":"The payload exceeds the maximum size allowed","timestamp":1700000000,"clientToken":"c"}`)
	// Shrinking is fine, and so is an update that removes as much as it adds.
	if _, _, rej := Update(s, []byte(`{"state":{"desired":{"k":"x"}}}`), now); rej != nil {
		t.Errorf("shrinking a full shadow: got %s", rej.JSON())
	}
	// Characters that encoding/json would escape count as themselves, as AWS counts them.
	if _, _, rej := Update(nil, []byte(`{"state":{"reported":{"k":"`+strings.Repeat("<", MaxStateBytes-8)+`"}}}`), now); rej != nil {
		t.Errorf("8192 bytes of '<': got %s", rej.JSON())
	}
	if _, _, rej := Update(nil, []byte(doc("reported", MaxStateBytes-7)), now); rej == nil || rej.Code != 413 {
		t.Errorf("8193 bytes: got %v, want 413", rej)
	}
}

func TestUpdateClientTokenLimit(t *testing.T) {
	tok := strings.Repeat("t", MaxClientTokenBytes)
	_, resp, rej := Update(nil, []byte(`{"state":{},"clientToken":"`+tok+`"}`), now)
	if rej != nil {
		t.Fatalf("a 64-byte clientToken: got %s", rej.JSON())
	}
	checkJSON(t, "accepted", resp.Accepted, `{"state":{},"metadata":{},"version":1,"timestamp":1700000000,"clientToken":"`+tok+`"}`)
	// Bytes, not characters: 32 two-byte characters fit, 33 don't.
	if _, _, rej := Update(nil, []byte(`{"state":{},"clientToken":"`+strings.Repeat("é", 32)+`"}`), now); rej != nil {
		t.Errorf("32 × é: got %s", rej.JSON())
	}
	if _, _, rej := Update(nil, []byte(`{"state":{},"clientToken":"`+strings.Repeat("é", 33)+`"}`), now); rej == nil {
		t.Errorf("33 × é: accepted")
	}
}

func TestUpdateKeepsMemberOrder(t *testing.T) {
	s, resp, _ := Update(nil, []byte(`{"clientToken":"c","state":{"reported":{"z":1,"a":{"y":true,"b":"<&>"}},"desired":{"m":[1.50,2]}}}`), now)
	want := `{"state":{"reported":{"z":1,"a":{"y":true,"b":"<&>"}},"desired":{"m":[1.50,2]}},` +
		`"metadata":{"reported":{"z":{"timestamp":1700000000},"a":{"y":{"timestamp":1700000000},"b":{"timestamp":1700000000}}},"desired":{"m":[{"timestamp":1700000000},{"timestamp":1700000000}]}},` +
		`"version":1,"timestamp":1700000000,"clientToken":"c"}`
	if string(resp.Accepted) != want {
		t.Errorf("accepted bytes:\n got %s\nwant %s", resp.Accepted, want)
	}
	// New members go last; replaced ones keep their place.
	_, resp, _ = Update(s, []byte(`{"state":{"reported":{"new":0,"z":2}}}`), now)
	want = `{"previous":{"state":{"desired":{"m":[1.50,2]},"reported":{"z":1,"a":{"y":true,"b":"<&>"}}},` +
		`"metadata":{"desired":{"m":[{"timestamp":1700000000},{"timestamp":1700000000}]},"reported":{"z":{"timestamp":1700000000},"a":{"y":{"timestamp":1700000000},"b":{"timestamp":1700000000}}}},"version":1},` +
		`"current":{"state":{"desired":{"m":[1.50,2]},"reported":{"z":2,"a":{"y":true,"b":"<&>"},"new":0}},` +
		`"metadata":{"desired":{"m":[{"timestamp":1700000000},{"timestamp":1700000000}]},"reported":{"z":{"timestamp":1700000000},"a":{"y":{"timestamp":1700000000},"b":{"timestamp":1700000000}},"new":{"timestamp":1700000000}}},"version":2},` +
		`"timestamp":1700000000}`
	if string(resp.Documents) != want {
		t.Errorf("documents bytes:\n got %s\nwant %s", resp.Documents, want)
	}
}

func TestUpdateErrorsMatchByCode(t *testing.T) {
	_, _, rej := Update(stored(t, full), []byte(`{"state":{},"version":1}`), now)
	var err error = rej
	if !errors.Is(err, &Error{Code: 409}) || errors.Is(err, &Error{Code: 400}) {
		t.Errorf("errors.Is by code: %v", err)
	}
	if !errors.Is(err, &Error{Code: 409, Message: MsgVersionConflict}) || errors.Is(err, &Error{Code: 409, Message: "x"}) {
		t.Errorf("errors.Is by code and message: %v", err)
	}
	if got, want := err.Error(), "shadow: 409 Version conflict"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}
