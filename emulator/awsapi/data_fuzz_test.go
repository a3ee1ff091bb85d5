package awsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzUpdateThingShadowHTTP sends arbitrary names and documents to UpdateThingShadow through
// ServeHTTP, then reads the shadow back: the API must never answer 5xx (a rejection is a 4xx) and
// every 200 carries a JSON document.
func FuzzUpdateThingShadowHTTP(f *testing.F) {
	seeds := []struct{ thing, name, body string }{
		{"lamp", "", `{"state":{"desired":{"color":"red"}}}`},
		{"lamp", "cfg", `{"state":{"reported":{"a":[1,2,{"b":null}]}},"clientToken":"x","version":1}`},
		{"lamp", "", `{"state":null}`},
		{"lamp", "", `{"state":{"desired":null,"reported":{"x":{"y":{"z":{"w":{"v":{"u":{"t":1}}}}}}}}}`},
		{"a:b_c-d", "$x", `{"state":{"delta":{"q":1},"desired":{"":""}}}`},
		{"lamp", "", "{\"state\":{\"desired\":{\"s\":\"\\ud800\"}}}"},
		{"lamp", "", "\xff\xfe"},
		{"lamp", "", `[]`},
		{"la/mp", "", `{}`},
		{"", "", `{}`},
		{"lamp", "a.b", `{"state":{}}`},
		{"lamp", "", `{"state":{"desired":{"n":1e999}}}`},
		{"lamp", "", `{"state":{"desired":{"n":-0.0}},"version":9223372036854775807}`},
	}
	for _, s := range seeds {
		f.Add(s.thing, s.name, []byte(s.body))
	}
	e := newDataEnv(f)
	f.Fuzz(func(t *testing.T, thing, name string, body []byte) {
		e.Pub.reset() // the shadow service's messages aren't checked here; don't let them pile up
		path := "/things/" + url.PathEscape(thing) + "/shadow"
		if name != "" {
			path += "?name=" + url.QueryEscape(name)
		}
		for _, method := range []string{"POST", "GET", "DELETE"} {
			req := httptest.NewRequest(method, "http://iotlab"+path, strings.NewReader(string(body)))
			if method != "POST" {
				req = httptest.NewRequest(method, "http://iotlab"+path, http.NoBody)
			}
			w := httptest.NewRecorder()
			e.Srv.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", method, path, body, w.Code, w.Body.Bytes())
			}
			if w.Code == 200 && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: 200 with a body that isn't JSON: %q", method, path, w.Body.Bytes())
			}
		}
	})
}
