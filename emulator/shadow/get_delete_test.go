package shadow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	classic := ID{Thing: "lamp"}
	named := ID{Thing: "lamp", Shadow: "config"}
	tests := []struct {
		name    string
		id      ID
		current string
		request string
		want    string // accepted document
		wantErr string // rejected document
	}{
		{
			name: "the whole document with delta, without metadata for the delta", id: classic, current: full,
			want: `{"state":{"desired":{"color":"red","engine":"ON","lights":{"r":1,"g":2}},"reported":{"color":"green","temp":20},
				"delta":{"color":"red","engine":"ON","lights":{"r":1,"g":2}}},
				"metadata":{"desired":{"color":{"timestamp":1600000000},"engine":{"timestamp":1600000000},"lights":{"r":{"timestamp":1600000000},"g":{"timestamp":1600000000}}},
				"reported":{"color":{"timestamp":1600000000},"temp":{"timestamp":1600000000}}},"version":7,"timestamp":1700000000}`,
		},
		{
			name: "no delta when desired and reported agree", id: classic,
			current: `{"state":{"desired":{"a":1},"reported":{"a":1,"b":2}},"metadata":{"desired":{"a":{"timestamp":1}},"reported":{"a":{"timestamp":1},"b":{"timestamp":1}}},"version":2}`,
			want:    `{"state":{"desired":{"a":1},"reported":{"a":1,"b":2}},"metadata":{"desired":{"a":{"timestamp":1}},"reported":{"a":{"timestamp":1},"b":{"timestamp":1}}},"version":2,"timestamp":1700000000}`,
		},
		{
			name: "an empty shadow", id: classic, current: `{"state":{},"metadata":{},"version":3}`,
			want: `{"state":{},"metadata":{},"version":3,"timestamp":1700000000}`,
		},
		{
			name: "the SDK's clientToken is echoed", id: named, current: redOnly, request: `{"clientToken":"sdk-1"}`,
			want: `{"state":{"desired":{"color":"red"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}}},"version":1,"timestamp":1700000000,"clientToken":"sdk-1"}`,
		},
		{
			name: "any other payload is ignored", id: classic, current: redOnly, request: "not json \xff",
			want: `{"state":{"desired":{"color":"red"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1600000000}}},"version":1,"timestamp":1700000000}`,
		},
		{
			name: "a classic shadow that never existed (checklist 87)", id: classic,
			wantErr: `{"code":404,"message":"No shadow exists with name: 'lamp'"}`,
		},
		{
			name: "a named shadow that never existed", id: named, request: `{"clientToken":"sdk-2"}`,
			wantErr: `{"code":404,"message":"No shadow exists with name: 'lamp~config'","clientToken":"sdk-2"}`,
		},
		{
			name: "a deleted shadow", id: classic, current: `{"version":4,"deleted":true,"deletedAt":1699999999}`,
			wantErr: `{"code":404,"message":"No shadow exists with name: 'lamp'"}`,
		},
		{
			name: "a clientToken over 64 bytes", id: classic, current: redOnly, request: `{"clientToken":"` + strings.Repeat("x", 65) + `"}`,
			wantErr: `{"code":400,"message":"Invalid clientToken","timestamp":1700000000}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, rej := Get(tc.id, stored(t, tc.current), []byte(tc.request), now)
			if tc.wantErr != "" {
				if rej == nil {
					t.Fatalf("got %s, want rejection %s", got, tc.wantErr)
				}
				checkJSON(t, "rejected", rej.JSON(), tc.wantErr)
				return
			}
			if rej != nil {
				t.Fatalf("got rejection %s", rej.JSON())
			}
			checkJSON(t, "get/accepted", got, tc.want)
		})
	}
}

func TestDelete(t *testing.T) {
	id := ID{Thing: "lamp"}
	tests := []struct {
		name      string
		current   string
		request   string
		want      string // delete/accepted
		wantStore string
		wantErr   string
	}{
		{
			name: "deletes and answers with the deleted version (checklist 88)", current: full,
			want: `{"version":7,"timestamp":1700000000}`, wantStore: `{"version":7,"deleted":true,"deletedAt":1700000000}`,
		},
		{
			name: "echoes the SDK's clientToken, ignores the rest", current: full, request: `{"clientToken":"d1","version":3,"state":null}`,
			want: `{"version":7,"timestamp":1700000000,"clientToken":"d1"}`, wantStore: `{"version":7,"deleted":true,"deletedAt":1700000000}`,
		},
		{
			name: "a shadow that doesn't exist", request: `{"clientToken":"d2"}`,
			wantErr: `{"code":404,"message":"No shadow exists with name: 'lamp'","clientToken":"d2"}`,
		},
		{
			name: "a shadow already deleted", current: `{"version":7,"deleted":true,"deletedAt":1690000000}`,
			wantErr: `{"code":404,"message":"No shadow exists with name: 'lamp'"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tomb, got, rej := Delete(id, stored(t, tc.current), []byte(tc.request), now)
			if tc.wantErr != "" {
				if rej == nil {
					t.Fatalf("got %s, want rejection %s", got, tc.wantErr)
				}
				checkJSON(t, "rejected", rej.JSON(), tc.wantErr)
				return
			}
			if rej != nil {
				t.Fatalf("got rejection %s", rej.JSON())
			}
			checkJSON(t, "delete/accepted", got, tc.want)
			checkJSON(t, "stored", persisted(t, tomb), tc.wantStore)
			if tomb.Exists() {
				t.Error("the tombstone exists")
			}
		})
	}
}

// TestVersionAcrossDeletes pins the version rules of device-shadow-data-flow: deleting doesn't
// reset the version; a shadow recreated within 48 hours follows the deleted one; after that the
// tombstone expires and the version starts over.
func TestVersionAcrossDeletes(t *testing.T) {
	id := ID{Thing: "lamp"}
	at := now
	s, _, _ := Update(nil, []byte(`{"state":{"reported":{"a":1}}}`), at)
	s, _, _ = Update(s, []byte(`{"state":{"reported":{"a":2}}}`), at)
	tomb, _, _ := Delete(id, s, nil, at)
	if tomb.Version() != 2 || tomb.Expired(at.Add(VersionRetention)) || !tomb.Expired(at.Add(VersionRetention+time.Second)) {
		t.Fatalf("tombstone: version %d, expired at 48h %v, at 48h+1s %v", tomb.Version(), tomb.Expired(at.Add(VersionRetention)), tomb.Expired(at.Add(VersionRetention+time.Second)))
	}
	again, _, _ := Update(tomb, []byte(`{"state":{"reported":{"a":3}}}`), at.Add(VersionRetention))
	if again.Version() != 3 {
		t.Errorf("recreated at 48h: version %d, want 3", again.Version())
	}
	fresh, _, _ := Update(tomb, []byte(`{"state":{"reported":{"a":3}}}`), at.Add(VersionRetention+time.Second))
	if fresh.Version() != 1 {
		t.Errorf("recreated after 48h: version %d, want 1", fresh.Version())
	}
	if (*Stored)(nil).Exists() || (*Stored)(nil).Version() != 0 || (*Stored)(nil).Expired(at) {
		t.Error("a nil shadow exists, has a version or is a tombstone")
	}
}

func TestStoredRoundTrip(t *testing.T) {
	s := stored(t, "")
	for _, req := range []string{
		`{"state":{"desired":{"color":"red","list":[{"x":null},[1,2]],"deep":{"a":{"b":{"c":"<&>"}}}}}}`,
		`{"state":{"reported":{"color":"green","n":1.50}}}`,
		`{"state":{"desired":{"deep":{"a":{"z":1}}}}}`,
	} {
		var rej *Error
		s, _, rej = Update(s, []byte(req), now)
		if rej != nil {
			t.Fatalf("%s: %s", req, rej.JSON())
		}
	}
	b := persisted(t, s)
	back := stored(t, string(b))
	if got := persisted(t, back); string(got) != string(b) {
		t.Fatalf("persisted form changed on a round trip:\n got %s\nwant %s", got, b)
	}
	g1, _ := Get(ID{Thing: "t"}, s, nil, now)
	g2, _ := Get(ID{Thing: "t"}, back, nil, now)
	if string(g1) != string(g2) {
		t.Errorf("Get differs after a round trip:\n got %s\nwant %s", g2, g1)
	}
}

func TestStoredUnmarshal(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "metadata that doesn't mirror the state is rebuilt",
			in:   `{"state":{"reported":{"a":{"b":1},"c":[1]}},"metadata":{"reported":{"a":{"timestamp":5}}},"version":2}`,
			want: `{"state":{"reported":{"a":{"b":1},"c":[1]}},"metadata":{"reported":{"a":{"b":{"timestamp":0}},"c":[{"timestamp":0}]}},"version":2}`},
		{name: "empty sections are dropped",
			in:   `{"state":{"desired":{}},"metadata":{"desired":{}},"version":2}`,
			want: `{"state":{},"metadata":{},"version":2}`},
		{name: "a tombstone", in: `{"version":2,"deleted":true,"deletedAt":7}`, want: `{"version":2,"deleted":true,"deletedAt":7}`},
		{name: "a section that isn't an object", in: `{"state":{"desired":[1]},"version":1}`, wantErr: "not a JSON object"},
		{name: "a negative version", in: `{"version":-1}`, wantErr: "negative"},
		{name: "not JSON", in: `{`, wantErr: "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stored
			err := json.Unmarshal([]byte(tc.in), &s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkJSON(t, "persisted", persisted(t, &s), tc.want)
		})
	}
}

func TestClientToken(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{"a token", `{"clientToken":"abc","state":{}}`, "abc"},
		{"empty payload", ``, ""},
		{"not JSON", `{"clientToken":"abc"`, ""},
		{"not an object", `["abc"]`, ""},
		{"not a string", `{"clientToken":1}`, ""},
		{"too long", `{"clientToken":"` + strings.Repeat("x", 65) + `"}`, ""},
		{"not UTF-8", "{\"clientToken\":\"\xff\"}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientToken([]byte(tc.payload)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestListNamedShadows(t *testing.T) {
	checkJSON(t, "page", ListNamedShadows([]string{"a", "b"}, "tok", now), `{"results":["a","b"],"nextToken":"tok","timestamp":1700000000}`)
	checkJSON(t, "last page", ListNamedShadows(nil, "", now), `{"results":[],"timestamp":1700000000}`)
}
