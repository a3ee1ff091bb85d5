package awsapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fakeDeviceAuth allows the (action, resource) pairs it holds and records every question. The real
// decision (identity, policies) is the broker's, tested there and end to end.
type fakeDeviceAuth struct {
	mu    sync.Mutex // guards asked
	allow map[deviceCheck]bool
	asked []deviceCheck
}

func (f *fakeDeviceAuth) AuthorizeDevice(_ *http.Request, action, resource string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := deviceCheck{action, resource}
	f.asked = append(f.asked, c)
	return f.allow[c]
}

func (f *fakeDeviceAuth) take() []deviceCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.asked
	f.asked = nil
	return a
}

// TestDeviceHandler: each iot-data operation served to devices asks for AWS's action and resource
// before it runs, and answers refusals as AWS's device gateway does. AWS: iot-action-resources
func TestDeviceHandler(t *testing.T) {
	e := newDataEnv(t)
	e.Retained.put(RetainedMessage{Topic: "home/lamp/state", Payload: []byte("on"), QoS: 1})
	auth := &fakeDeviceAuth{allow: map[deviceCheck]bool{
		{"iot:Publish", "topic/home/lamp/state"}:                   true,
		{"iot:Publish", "topic/home/lamp/retained"}:                true,
		{"iot:RetainPublish", "topic/home/lamp/retained"}:          true,
		{"iot:Publish", "topic/home/lamp/noretain"}:                true,
		{"iot:UpdateThingShadow", "thing/lamp"}:                    true,
		{"iot:GetThingShadow", "thing/lamp/config"}:                true,
		{"iot:GetRetainedMessage", "topic/home/lamp/state"}:        true,
		{"iot:ListRetainedMessages", "*"}:                          true,
		{"iot:ListNamedShadowsForThing", "*"}:                      true,
		{"iot:DeleteConnection", "client/lamp-1"}:                  true,
		{"iot:Publish", "topic/$aws/things/lamp/shadow/update"}:    true,
		{"iot:GetThingShadow", "thing/lamp"}:                       true,
		{"iot:DeleteThingShadow", "thing/lamp"}:                    false,
		{"iot:Publish", "topic/home/door/state"}:                   false,
		{"iot:GetRetainedMessage", "topic/home/door/state"}:        false,
		{"iot:UpdateThingShadow", "thing/door"}:                    false,
		{"iot:ListNamedShadowsForThing", "thing/lamp"}:             false,
		{"iot:GetThingShadow", "thing/lamp/secret"}:                false,
		{"iot:RetainPublish", "topic/home/lamp/state"}:             false,
		{"iot:Publish", "topic/home/lamp/state/with/many/levels"}:  true,
		{"iot:GetRetainedMessage", "topic/home/lamp/state/levels"}: true,
	}}
	e.Data.clients["lamp-1"] = true
	hs := httptest.NewServer(e.Srv.DeviceHandler(auth))
	t.Cleanup(hs.Close)

	cases := []struct {
		name, method, path, body string
		checks                   []deviceCheck
		status                   int
		contains                 string
	}{
		{"publish", "POST", "/topics/home%2Flamp%2Fstate?qos=1", "on",
			[]deviceCheck{{"iot:Publish", "topic/home/lamp/state"}}, 200, `"message":"OK"`},
		{"publish with the topic unescaped", "POST", "/topics/home/lamp/state/with/many/levels", "on",
			[]deviceCheck{{"iot:Publish", "topic/home/lamp/state/with/many/levels"}}, 200, `"message":"OK"`},
		{"retained publish asks for both", "POST", "/topics/home/lamp/retained?retain=true", "x",
			[]deviceCheck{{"iot:Publish", "topic/home/lamp/retained"}, {"iot:RetainPublish", "topic/home/lamp/retained"}}, 200, `"traceId"`},
		{"retain=false asks for iot:Publish only", "POST", "/topics/home/lamp/noretain?retain=false", "x",
			[]deviceCheck{{"iot:Publish", "topic/home/lamp/noretain"}}, 200, `"message":"OK"`},
		{"retained publish without iot:RetainPublish", "POST", "/topics/home/lamp/state?retain=true", "x",
			[]deviceCheck{{"iot:Publish", "topic/home/lamp/state"}, {"iot:RetainPublish", "topic/home/lamp/state"}}, 403, `"message":"Forbidden"`},
		{"publish refused", "POST", "/topics/home/door/state", "x",
			[]deviceCheck{{"iot:Publish", "topic/home/door/state"}}, 403, `"message":"Forbidden"`},
		{"publish to a shadow topic", "POST", "/topics/$aws/things/lamp/shadow/update", `{"state":{"reported":{"on":true}}}`,
			[]deviceCheck{{"iot:Publish", "topic/$aws/things/lamp/shadow/update"}}, 200, `"message":"OK"`},
		{"update classic shadow", "POST", "/things/lamp/shadow", `{"state":{"desired":{"on":true}}}`,
			[]deviceCheck{{"iot:UpdateThingShadow", "thing/lamp"}}, 200, `"desired":{"on":true}`},
		{"get named shadow", "GET", "/things/lamp/shadow?name=config", "",
			[]deviceCheck{{"iot:GetThingShadow", "thing/lamp/config"}}, 404, "No shadow exists with name"},
		{"get named shadow refused", "GET", "/things/lamp/shadow?name=secret", "",
			[]deviceCheck{{"iot:GetThingShadow", "thing/lamp/secret"}}, 403, `"traceId"`},
		{"delete shadow refused", "DELETE", "/things/lamp/shadow", "",
			[]deviceCheck{{"iot:DeleteThingShadow", "thing/lamp"}}, 403, `"message":"Forbidden"`},
		{"update another thing's shadow", "POST", "/things/door/shadow", `{}`,
			[]deviceCheck{{"iot:UpdateThingShadow", "thing/door"}}, 403, `"message":"Forbidden"`},
		{"list named shadows asks for *", "GET", "/api/things/shadow/ListNamedShadowsForThing/lamp", "",
			[]deviceCheck{{"iot:ListNamedShadowsForThing", "*"}}, 200, `"results":[]`},
		{"get retained message", "GET", "/retainedMessage/home%2Flamp%2Fstate", "",
			[]deviceCheck{{"iot:GetRetainedMessage", "topic/home/lamp/state"}}, 200, `"payload":"b24="`},
		{"get retained message, topic unescaped", "GET", "/retainedMessage/home/lamp/state/levels", "",
			[]deviceCheck{{"iot:GetRetainedMessage", "topic/home/lamp/state/levels"}}, 404, "No retained message"},
		{"get retained message refused", "GET", "/retainedMessage/home/door/state", "",
			[]deviceCheck{{"iot:GetRetainedMessage", "topic/home/door/state"}}, 403, `"message":"Forbidden"`},
		{"list retained messages asks for *", "GET", "/retainedMessage", "",
			[]deviceCheck{{"iot:ListRetainedMessages", "*"}}, 200, `"home/lamp/state"`},
		{"delete connection", "DELETE", "/connections/lamp-1", "",
			[]deviceCheck{{"iot:DeleteConnection", "client/lamp-1"}}, 200, ""},
		{"control plane", "GET", "/things", "", nil, 404, `"message":"Not Found"`},
		{"control plane create", "POST", "/things/lamp", `{}`, nil, 404, `"message":"Not Found"`},
		{"STS", "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", nil, 404, `"message":"Not Found"`},
		{"wrong method", "PUT", "/things/lamp/shadow", "", nil, 405, "MethodNotAllowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, hs.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if got := auth.take(); !reflect.DeepEqual(got, tc.checks) {
				t.Errorf("checks: got %v, want %v", got, tc.checks)
			}
			if tc.contains != "" && !strings.Contains(body, tc.contains) && !strings.Contains(resp.Header.Get("x-amzn-ErrorType"), tc.contains) {
				t.Errorf("body %s: want %s in it", body, tc.contains)
			}
			if tc.status == 403 || (tc.status == 404 && tc.checks == nil) {
				var m map[string]string
				if json.Unmarshal(b, &m) != nil || m["traceId"] == "" || m["traceId"] != resp.Header.Get("x-amzn-RequestId") {
					t.Errorf("front-end error %s: want {message, traceId = x-amzn-RequestId}", body)
				}
			}
		})
	}
	// The publishes that were allowed reached the broker; the refused ones did not.
	var topics []string
	for _, m := range e.Data.published() {
		topics = append(topics, m.Topic)
	}
	want := []string{"home/lamp/state", "home/lamp/state/with/many/levels", "home/lamp/retained", "home/lamp/noretain", "$aws/things/lamp/shadow/update"}
	if !reflect.DeepEqual(topics, want) {
		t.Errorf("published: got %q, want %q", topics, want)
	}
}
