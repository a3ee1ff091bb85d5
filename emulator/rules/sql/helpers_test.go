package sql

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// testTime is the rules engine clock in tests: 2024-01-02T03:04:05Z = 1704164645000 ms.
var testTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// testEnv is a message published by MQTT client c1 (certificate thumbprint "a1b2…") to sensors/d1/data.
func testEnv() Env {
	return Env{
		Topic:     "sensors/d1/data",
		ClientID:  "c1",
		Principal: "a1b2c3d4",
		Timestamp: testTime,
		NewUUID:   func() string { return "123e4567-e89b-12d3-a456-426614174000" },
		Rand:      func() float64 { return 0.25 },
		AccountID: "123456789012",
		SourceIP:  "192.0.2.7",
		TraceID:   "7e146a2c-95b5-6caf-98b9-50e3969734c7",
	}
}

func mustParse(t testing.TB, sql string) *Statement {
	t.Helper()
	st, err := Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return st
}

// jsonEqual compares two JSON texts structurally (key order and spacing ignored).
func jsonEqual(t testing.TB, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("output is not JSON: %q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}
