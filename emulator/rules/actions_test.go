package rules

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hook is an httptest server that records each request and answers with a status.
type hook struct {
	*httptest.Server
	reqs chan hookRequest
}

type hookRequest struct {
	Path   string
	Body   string
	Header http.Header
}

func newHook(t *testing.T, status int, header ...string) *hook {
	t.Helper()
	h := &hook{reqs: make(chan hookRequest, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.reqs <- hookRequest{Path: r.URL.Path, Body: string(b), Header: r.Header.Clone()}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"answer":"from the hook"}`)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case r := <-h.reqs:
		return r
	case <-time.After(waitFor):
		t.Fatal("the hook was not called")
		return hookRequest{}
	}
}

const fnARN = "arn:aws:lambda:eu-west-1:123456789012:function:alarm"

// TestLambdaAction runs lambda actions against local functions: commands and HTTP endpoints, success
// and every kind of failure, which reaches the error action with AWS's document (checklist 96).
func TestLambdaAction(t *testing.T) {
	ok := newHook(t, http.StatusAccepted)
	failing := newHook(t, http.StatusInternalServerError)
	unhandled := newHook(t, http.StatusOK, "X-Amz-Function-Error", "Unhandled")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	event := `{"temp":31,"room":"hall"}`

	tests := []struct {
		name string
		fn   Function
		arn  string // default fnARN
		// wantFailure is a substring of the error action's errorMessage; "" when the action succeeds.
		wantFailure string
		hook        *hook // called with the event on success
	}{
		{name: "HTTP function", fn: Function{URL: ok.URL + "/2015-03-31/functions/alarm/invocations"}, hook: ok},
		{name: "HTTP function by name and qualifier", fn: Function{URL: ok.URL}, arn: fnARN + ":prod", hook: ok},
		{name: "HTTP function answers 500", fn: Function{URL: failing.URL}, wantFailure: "function alarm answered HTTP 500"},
		{name: "HTTP function reports a function error", fn: Function{URL: unhandled.URL}, wantFailure: "function alarm failed (Unhandled)"},
		{name: "HTTP function unreachable", fn: Function{URL: closed.URL}, wantFailure: "function alarm could not be invoked"},
		{name: "command exits 0", fn: Function{Command: []string{"sh", "-c", "cat >/dev/null"}}},
		{name: "command exits non-zero", fn: Function{Command: []string{"sh", "-c", "cat >/dev/null; echo 'boom: no alarm' >&2; exit 3"}},
			wantFailure: "function alarm failed: exit status 3: boom: no alarm"},
		{name: "command cannot start", fn: Function{Command: []string{"/nonexistent/iotlab-fn"}}, wantFailure: "function alarm could not be started"},
		{name: "command times out", fn: Function{Command: []string{"sh", "-c", "exec sleep 30"}, Timeout: 100 * time.Millisecond},
			wantFailure: "function alarm timed out after 100ms"},
		{name: "unknown function", fn: Function{URL: ok.URL}, arn: "arn:aws:lambda:eu-west-1:123456789012:function:other",
			wantFailure: "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arn := tc.arn
			if arn == "" {
				arn = fnARN
			}
			pub := newPublisher()
			errAction := republishTo("errors/${topic()}", 0)
			e, _ := newTestEngine(t, &staticRules{rules: []Rule{
				{Name: "alarm", SQL: "SELECT temp, topic(2) AS room FROM 'home/+/temp'", Actions: []Action{invokeFn(arn)}, ErrorAction: &errAction},
			}}, pub, func(o *Options) { o.Functions = map[string]Function{"alarm:prod": tc.fn, fnARN: tc.fn} })
			e.Handle(Message{Topic: "home/hall/temp", Payload: []byte(`{"temp":31}`), ClientID: "sensor"})

			if tc.wantFailure == "" {
				if tc.hook != nil {
					r := tc.hook.next(t)
					if r.Body != event || r.Header.Get("Content-Type") != "application/json" {
						t.Fatalf("the function got %q (%s), want %s", r.Body, r.Header.Get("Content-Type"), event)
					}
				}
				if s := waitStats(t, e, "the rule run", func(s Stats) bool { return s.Executed == 1 }); s.ActionFailures != 0 || len(pub.ch) != 0 {
					t.Fatalf("stats %+v, %d publishes; want a success", s, len(pub.ch))
				}
				return
			}
			doc := decodeJSON(t, pub.expect(t, "errors/home/hall/temp").Payload)
			f := doc["failures"].([]any)[0].(map[string]any)
			if f["failedAction"] != "LambdaAction" || f["failedResource"] != arn || !strings.Contains(f["errorMessage"].(string), tc.wantFailure) {
				t.Fatalf("failure %v, want LambdaAction on %s with %q", f, arn, tc.wantFailure)
			}
			if doc["ruleName"] != "alarm" || doc["clientId"] != "sensor" || doc["topic"] != "home/hall/temp" {
				t.Fatalf("error document %v", doc)
			}
		})
	}
}

// TestLambdaCommandReadsTheEvent: a command function gets the SELECT result on stdin and the function
// name in its environment.
func TestLambdaCommandReadsTheEvent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "event.json")
	pub := newPublisher()
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "save", SQL: "SELECT * FROM 'save'", Actions: []Action{invokeFn("arn:aws:lambda:eu-west-1:123456789012:function:saver")}},
	}}, pub, func(o *Options) {
		o.Functions = map[string]Function{"saver": {Command: []string{"sh", "-c", `{ cat; echo; echo "$AWS_LAMBDA_FUNCTION_NAME $AWS_REGION"; } > "$0"`, out}}}
	})
	e.Handle(Message{Topic: "save", Payload: []byte(`{"n":1}`)})
	logs.wait(t, "function ran")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "{\"n\":1}\nsaver eu-west-1\n"; got != want {
		t.Fatalf("the command wrote %q, want %q", got, want)
	}
}

// TestFunctionErrorsAsAWS: with the quirk off, a function's own failure stays with the function, as
// with AWS's asynchronous invocation; a function that cannot be found still fails the action.
func TestFunctionErrorsAsAWS(t *testing.T) {
	pub := newPublisher()
	errAction := republishTo("errors", 0)
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "f", SQL: "SELECT * FROM 'f/+'", Actions: []Action{invokeFn("arn:aws:lambda:eu-west-1:123456789012:function:${topic(2)}")}, ErrorAction: &errAction},
	}}, pub, func(o *Options) {
		o.Functions = map[string]Function{"fails": {Command: []string{"sh", "-c", "exit 1"}}}
		o.Quirks.FunctionErrorsAsAWS = true
	})
	e.Handle(Message{Topic: "f/fails", Payload: []byte(`{}`)})
	logs.wait(t, "as on AWS, the rule does not see it")
	e.Handle(Message{Topic: "f/missing", Payload: []byte(`{}`)})
	doc := decodeJSON(t, pub.expect(t, "errors").Payload)
	if f := doc["failures"].([]any)[0].(map[string]any); !strings.Contains(f["errorMessage"].(string), "Function not found") {
		t.Fatalf("failure %v", f)
	}
	if s := waitStats(t, e, "both rule runs", func(s Stats) bool { return s.Executed == 2 }); s.ActionFailures != 1 || s.ErrorActions != 1 {
		t.Fatalf("stats %+v, want only the missing function's failure", s)
	}
}

func TestHTTPAction(t *testing.T) {
	ok := newHook(t, http.StatusOK)
	failing := newHook(t, http.StatusServiceUnavailable)
	redirect := newHook(t, http.StatusFound, "Location", "http://192.0.2.1/elsewhere")
	tests := []struct {
		name        string
		url         string
		wantFailure string
		hook        *hook
	}{
		{name: "POST to a loopback URL with templated headers", url: ok.URL + "/hook/${topic(2)}", hook: ok},
		{name: "localhost is loopback", url: strings.Replace(ok.URL, "127.0.0.1", "localhost", 1) + "/hook/${topic(2)}", hook: ok},
		{name: "5xx fails", url: failing.URL, wantFailure: "answered HTTP 503"},
		{name: "redirects are not followed", url: redirect.URL, wantFailure: "answered HTTP 302"},
		{name: "a non-loopback URL is refused", url: "http://192.0.2.1/hook", wantFailure: "was not called"},
		{name: "not HTTP", url: "ftp://127.0.0.1/x", wantFailure: "not an http or https URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := newPublisher()
			errAction := republishTo("errors", 0)
			e, _ := newTestEngine(t, &staticRules{rules: []Rule{
				{Name: "web", SQL: "SELECT temp FROM 'web/+'", Actions: []Action{postTo(tc.url, "X-Device", "${clientid()}", "Content-Type", "application/vnd.iot+json")}, ErrorAction: &errAction},
			}}, pub)
			e.Handle(Message{Topic: "web/d1", Payload: []byte(`{"temp":31,"x":1}`), ClientID: "c1"})
			if tc.wantFailure == "" {
				r := tc.hook.next(t)
				if r.Path != "/hook/d1" || r.Body != `{"temp":31}` || r.Header.Get("X-Device") != "c1" || r.Header.Get("Content-Type") != "application/vnd.iot+json" {
					t.Fatalf("the hook got %+v", r)
				}
				if s := waitStats(t, e, "the rule run", func(s Stats) bool { return s.Executed == 1 }); s.ActionFailures != 0 {
					t.Fatalf("stats %+v", s)
				}
				return
			}
			doc := decodeJSON(t, pub.expect(t, "errors").Payload)
			f := doc["failures"].([]any)[0].(map[string]any)
			if f["failedAction"] != "HttpAction" || !strings.Contains(f["errorMessage"].(string), tc.wantFailure) {
				t.Fatalf("failure %v, want HttpAction with %q", f, tc.wantFailure)
			}
		})
	}
}

func TestAllowedURL(t *testing.T) {
	e := &Engine{opt: Options{HTTPAllow: []string{"http://192.168.1.20:8080/", ""}}}
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/x", true},
		{"https://127.0.0.2/x", true},
		{"http://localhost/x", true},
		{"http://LOCALHOST:1/x", true},
		{"http://[::1]:9000/x", true},
		{"http://[::ffff:127.0.0.1]/x", true},
		{"http://192.168.1.20:8080/hook", true},
		{"http://192.168.1.20:8081/hook", false},
		{"http://localhost.example.com/x", false},
		{"https://example.com/x", false},
		{"http://10.0.0.1/x", false},
		{"file:///etc/passwd", false},
		{"127.0.0.1/x", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if err := e.allowedURL(tc.url); (err == nil) != tc.ok {
				t.Fatalf("allowedURL(%q) = %v, want allowed %v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestFunctionLookup(t *testing.T) {
	e := &Engine{opt: Options{Functions: map[string]Function{
		"arn:aws:lambda:eu-west-1:123456789012:function:exact": {URL: "http://127.0.0.1/exact"},
		"byname":      {URL: "http://127.0.0.1/byname"},
		"alias:live":  {URL: "http://127.0.0.1/alias-live"},
		"alias":       {URL: "http://127.0.0.1/alias"},
		"plain-local": {URL: "http://127.0.0.1/plain"},
	}}}
	tests := []struct {
		arn, wantURL, wantName string
	}{
		{"arn:aws:lambda:eu-west-1:123456789012:function:exact", "http://127.0.0.1/exact", "exact"},
		{"arn:aws:lambda:us-east-1:999999999999:function:byname", "http://127.0.0.1/byname", "byname"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:alias:live", "http://127.0.0.1/alias-live", "alias"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:alias:3", "http://127.0.0.1/alias", "alias"},
		{"plain-local", "http://127.0.0.1/plain", "plain-local"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:missing", "", "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.arn, func(t *testing.T) {
			name, f, ok := e.function(tc.arn)
			if ok != (tc.wantURL != "") || f.URL != tc.wantURL || name != tc.wantName {
				t.Fatalf("function(%q) = %q %+v %v, want %q %q", tc.arn, name, f, ok, tc.wantName, tc.wantURL)
			}
		})
	}
}

// TestCloseCancelsRunningActions: Close does not wait for a slow function or web server; it cancels
// them and returns once every goroutine has ended.
func TestCloseCancelsRunningActions(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices a closed connection only once the body is read
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(waitFor):
		}
	}))
	defer slow.Close()
	pub := newPublisher()
	e, _ := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "slow", SQL: "SELECT * FROM 'slow'", Actions: []Action{
			invokeFn("arn:aws:lambda:eu-west-1:123456789012:function:sleeper"),
			postTo(slow.URL),
		}},
	}}, pub, func(o *Options) {
		o.Functions = map[string]Function{"sleeper": {Command: []string{"sh", "-c", "exec sleep 30"}, Timeout: time.Minute}}
	})
	e.Handle(Message{Topic: "slow", Payload: []byte(`{}`)})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close waited for the slow actions")
	}
	select {
	case <-cancelled:
	case <-ctx.Done():
		t.Fatal("the web server's request was not cancelled")
	}
}
