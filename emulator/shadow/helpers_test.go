package shadow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// now is the clock of the tests: 1700000000 in the expected documents. Stored documents in the
// tables carry the older timestamp 1600000000, so that kept and fresh metadata are told apart.
var now = time.Unix(1700000000, 0)

// stored decodes a Stored from its persisted form; "" is a shadow that never existed.
func stored(t testing.TB, js string) *Stored {
	t.Helper()
	if js == "" {
		return nil
	}
	var s Stored
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("decoding stored %s: %v", js, err)
	}
	return &s
}

// persisted is the persisted form of s.
func persisted(t testing.TB, s *Stored) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("encoding stored: %v", err)
	}
	return b
}

// checkJSON compares JSON structurally (member order aside); want "" means got must be nil.
func checkJSON(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("%s: got %s, want none", what, got)
		}
		return
	}
	if got == nil {
		t.Errorf("%s: got none, want %s", what, want)
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: got invalid JSON %q: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the test's want is invalid JSON %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, compact(want))
	}
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
