package awsapi

import (
	"bytes"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/store"
)

// regMemStore is an in-memory store.Store, so a fuzzer's thousands of writes don't each wait for fsync.
type regMemStore struct {
	mu sync.Mutex // guards kv
	kv map[string][]byte
}

func (m *regMemStore) Scan(prefix string, fn func(key string, val []byte) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.kv))
	for k := range m.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = bytes.Clone(m.kv[k])
	}
	m.mu.Unlock()
	for i, k := range keys {
		if err := fn(k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *regMemStore) Apply(ops ...store.Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range ops {
		if op.Value == nil {
			delete(m.kv, op.Key)
		} else {
			m.kv[op.Key] = bytes.Clone(op.Value)
		}
	}
	return nil
}

func (m *regMemStore) Close() error { return nil }

// FuzzCreateThingRequest sends arbitrary thing names and bodies to CreateThing (and, with the same
// name, DescribeThing and DeleteThing) through the real ServeHTTP. Whatever arrives, the answer is never
// a 5xx, and an error is always an AWS-shaped JSON body with a message and an x-amzn-ErrorType.
func FuzzCreateThingRequest(f *testing.F) {
	seeds := []struct{ name, body string }{
		{"lamp", ``},
		{"lamp", `{}`},
		{"lamp", `{"attributePayload":{"attributes":{"room":"kitchen"}}}`},
		{"lamp", `{"thingTypeName":"sensor","attributePayload":{"attributes":{"a":"1","b":"2","c":"3","d":"4"}}}`},
		{"lamp", `{"billingGroupName":"bg","attributePayload":{"merge":true}}`},
		{"lamp", `{"thingTypeName":"nope"}`},
		{"lamp", `{"attributePayload":{"attributes":{"a b":"c d"}}}`},
		{"lamp", `{"attributePayload":{"attributes":null}}`},
		{"lamp", `{"attributePayload":[]}`},
		{"lamp", `{"attributePayload":{"attributes":{"a":7}}}`},
		{"lamp", `[1,2,3]`},
		{"lamp", `{"thingName":"other"}`},
		{"lamp", `not json`},
		{"lamp", "{\"attributePayload\":{\"attributes\":{\"\u00e9\":\"\u0000\"}}}"},
		{"a/b", `{}`},
		{"", `{}`},
		{"..", `{}`},
		{"%zz", `{}`},
		{strings.Repeat("n", 129), `{}`},
		{"caf\u00e9", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.name, []byte(s.body))
	}
	reg, err := registry.Open(registry.Options{Store: &regMemStore{kv: map[string][]byte{}}, Rand: mrand.NewChaCha8([32]byte{'f'})})
	if err != nil {
		f.Fatal(err)
	}
	srv := New(Config{Registry: reg, Account: "123456789012", Region: "eu-west-1"})
	var mu sync.Mutex // the seeded randomness is not safe for concurrent use; fuzz workers share srv
	serve := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://iot.local"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mu.Lock()
		srv.ServeHTTP(rec, req)
		mu.Unlock()
		return rec
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		path := "/things/" + url.PathEscape(name) // as an SDK escapes a URI label
		for _, call := range []struct {
			method string
			body   []byte
		}{{"POST", body}, {"GET", nil}, {"DELETE", nil}} {
			rec := serve(call.method, path, call.body)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: got %d %s, want no 5xx", call.method, path, call.body, rec.Code, rec.Body.Bytes())
			}
			if rec.Code < 400 {
				if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s %s: 2xx body is not JSON: %q", call.method, path, rec.Body.Bytes())
				}
				continue
			}
			var e struct {
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == nil || *e.Message == "" {
				t.Fatalf("%s %s: error body %q has no message (%v)", call.method, path, rec.Body.Bytes(), err)
			}
			if rec.Header().Get("x-amzn-ErrorType") == "" {
				t.Fatalf("%s %s: error %d without x-amzn-ErrorType", call.method, path, rec.Code)
			}
		}
	})
}
