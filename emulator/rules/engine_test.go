package rules

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRepublish(t *testing.T) {
	temperature := Rule{Name: "hot", SQL: "SELECT temp, topic(2) AS room FROM 'home/+/temperature' WHERE temp > 30",
		Actions: []Action{republishTo("alerts/${topic(2)}", 0)}}
	tests := []struct {
		name  string
		rules []Rule
		msg   Message
		want  []published
	}{
		{
			name:  "WHERE true republishes the SELECT result to the expanded topic",
			rules: []Rule{temperature},
			msg:   Message{Topic: "home/livingroom/temperature", Payload: []byte(`{"temp":31}`), ClientID: "sensor1"},
			want:  []published{{Topic: "alerts/livingroom", Payload: `{"temp":31,"room":"livingroom"}`}},
		},
		{
			name:  "WHERE false runs nothing",
			rules: []Rule{temperature},
			msg:   Message{Topic: "home/livingroom/temperature", Payload: []byte(`{"temp":20}`), ClientID: "sensor1"},
		},
		{
			name:  "another topic runs nothing",
			rules: []Rule{temperature},
			msg:   Message{Topic: "home/livingroom/humidity", Payload: []byte(`{"temp":31}`), ClientID: "sensor1"},
		},
		{
			name: "checklist 94: payload, topic(2), clientid() and timestamp()",
			rules: []Rule{{Name: "c94", SQL: "SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30",
				Actions: []Action{republishTo("alerts/${topic(2)}", 0)}}},
			msg:  Message{Topic: "sensors/d1/data", Payload: []byte(`{"temp":31}`), ClientID: "c1"},
			want: []published{{Topic: "alerts/d1", Payload: fmt.Sprintf(`{"temp":31,"dev":"d1","cid":"c1","ts":%d}`, testEpoch.UnixMilli())}},
		},
		{
			name: "the message's own timestamp wins over the engine clock",
			rules: []Rule{{Name: "ts", SQL: "SELECT timestamp() AS ts FROM 'clock'",
				Actions: []Action{republishTo("clock/out", 0)}}},
			msg:  Message{Topic: "clock", Payload: []byte(`{}`), Timestamp: time.UnixMilli(1700000000123)},
			want: []published{{Topic: "clock/out", Payload: `{"ts":1700000000123}`}},
		},
		{
			name: "$$ targets a reserved topic (checklist 95)",
			rules: []Rule{{Name: "shadow", SQL: "SELECT state FROM 'lamp/+/set'",
				Actions: []Action{republishTo("$$aws/things/${topic(2)}/shadow/update", 1)}}},
			msg:  Message{Topic: "lamp/kitchen/set", Payload: []byte(`{"state":{"desired":{"on":true}}}`)},
			want: []published{{Topic: "$aws/things/kitchen/shadow/update", Payload: `{"state":{"desired":{"on":true}}}`, QoS: 1}},
		},
		{
			name: "every action of a rule runs, every matching rule runs",
			rules: []Rule{
				{Name: "a", SQL: "SELECT * FROM 'fan/#'", Actions: []Action{republishTo("out/1", 0), republishTo("out/2", 1)}},
				{Name: "b", SQL: "SELECT VALUE speed FROM 'fan/+'", Actions: []Action{republishTo("out/3", 0)}},
			},
			msg: Message{Topic: "fan/f1", Payload: []byte(`{"speed":3}`)},
			want: []published{
				{Topic: "out/1", Payload: `{"speed":3}`}, {Topic: "out/2", Payload: `{"speed":3}`, QoS: 1}, {Topic: "out/3", Payload: `3`},
			},
		},
		{
			name: "Basic Ingest reaches the named rule only, whatever its FROM, and topic() loses the prefix",
			rules: []Rule{
				{Name: "ingest", SQL: "SELECT *, topic() AS t FROM 'elsewhere'", Actions: []Action{republishTo("bi/${topic(1)}", 0)}},
				{Name: "other", SQL: "SELECT * FROM '$aws/rules/#'", Actions: []Action{republishTo("wrong", 0)}},
			},
			msg:  Message{Topic: "$aws/rules/ingest/buildings/b5", Payload: []byte(`{"on":1}`), ClientID: "c"},
			want: []published{{Topic: "bi/buildings", Payload: `{"on":1,"t":"buildings/b5"}`}},
		},
		{
			name: "Basic Ingest for a rule that does not exist runs nothing",
			rules: []Rule{
				{Name: "other", SQL: "SELECT * FROM '$aws/rules/#'", Actions: []Action{republishTo("wrong", 0)}},
			},
			msg: Message{Topic: "$aws/rules/missing/x", Payload: []byte(`{}`)},
		},
		{
			name: "a rule without FROM runs only through Basic Ingest",
			rules: []Rule{
				{Name: "nofrom", SQL: "SELECT *", Actions: []Action{republishTo("nofrom/out", 0)}},
			},
			msg: Message{Topic: "nofrom", Payload: []byte(`{}`)},
		},
		{
			name: "a binary payload passes SELECT * unchanged (checklist 98)",
			rules: []Rule{
				{Name: "cam", SQL: "SELECT * FROM 'cam/+'", Actions: []Action{republishTo("cam/copy", 0)}},
			},
			msg:  Message{Topic: "cam/1", Payload: []byte{0xca, 0xfe}},
			want: []published{{Topic: "cam/copy", Payload: "\xca\xfe"}},
		},
		{
			name: "clientid() is n/a for a message from no MQTT client",
			rules: []Rule{
				{Name: "http", SQL: "SELECT clientid() AS cid, traceid() AS tr FROM 'api/+'", Actions: []Action{republishTo("api/out", 0)}},
			},
			msg:  Message{Topic: "api/1", Payload: []byte(`{}`)},
			want: []published{{Topic: "api/out", Payload: `{"cid":"n/a"}`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := newPublisher()
			e, _ := newTestEngine(t, &staticRules{rules: append(tc.rules, markerRule)}, pub)
			e.Handle(tc.msg)
			e.Handle(Message{Topic: "marker", Payload: []byte(`{}`)})
			var got []published
			for {
				m := pub.next(t)
				if m.Topic == "marker/done" {
					break
				}
				got = append(got, m)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("published\n got %v\nwant %v", got, tc.want)
			}
			if s := e.Stats(); s.ActionFailures != 0 || s.SQLErrors != 0 {
				t.Fatalf("stats %+v, want no failures", s)
			}
		})
	}
}

func TestRepublishHeaders(t *testing.T) {
	rule := Rule{Name: "h", SQL: "SELECT * FROM 'req/+'", Actions: []Action{rawAction("republish", `{
		"topic": "resp/${topic(2)}", "roleArn": "arn:aws:iam::123456789012:role/r",
		"headers": {
			"contentType": "application/json",
			"correlationData": "Y29ycmVsYXRpb24=",
			"messageExpiry": "${ttl}",
			"payloadFormatIndicator": "UTF8_DATA",
			"responseTopic": "reply/${clientid()}",
			"userProperties": [{"key": "device", "value": "${topic(2)}"}, {"key": "fixed", "value": "v"}]
		}}`)}}

	t.Run("MQTT 5 properties through a HeaderPublisher", func(t *testing.T) {
		rec := newPublisher()
		e, _ := newTestEngine(t, &staticRules{rules: []Rule{rule}}, headerPublisher{rec})
		e.Handle(Message{Topic: "req/d1", Payload: []byte(`{"ttl":60}`), ClientID: "c1"})
		m := rec.expect(t, "resp/d1")
		h := m.Headers
		if h.ContentType != "application/json" || string(h.CorrelationData) != "correlation" || h.MessageExpiry == nil || *h.MessageExpiry != 60 ||
			h.PayloadUTF8 == nil || !*h.PayloadUTF8 || h.ResponseTopic != "reply/c1" ||
			fmt.Sprint(h.UserProperties) != "[{device d1} {fixed v}]" {
			t.Fatalf("headers %+v", h)
		}
	})
	t.Run("a plain Publisher publishes without them and says so once", func(t *testing.T) {
		pub := newPublisher()
		e, logs := newTestEngine(t, &staticRules{rules: []Rule{rule, markerRule}}, pub)
		for range 2 {
			e.Handle(Message{Topic: "req/d1", Payload: []byte(`{"ttl":60}`), ClientID: "c1"})
			if m := pub.expect(t, "resp/d1"); !m.Headers.empty() {
				t.Fatalf("headers %+v", m.Headers)
			}
		}
		pub.settle(t, e)
		if n := len(logs.matching("headers not applied")); n != 1 {
			t.Fatalf("%d log lines about dropped headers, want 1", n)
		}
	})
	t.Run("a bad header value fails the action", func(t *testing.T) {
		pub := newPublisher()
		bad := rule
		bad.ErrorAction = &[]Action{republishTo("errors", 0)}[0]
		e, _ := newTestEngine(t, &staticRules{rules: []Rule{bad}}, headerPublisher{pub})
		e.Handle(Message{Topic: "req/d1", Payload: []byte(`{"ttl":"soon"}`), ClientID: "c1"})
		doc := decodeJSON(t, pub.expect(t, "errors").Payload)
		f := doc["failures"].([]any)[0].(map[string]any)
		if f["failedAction"] != "RepublishAction" || !strings.Contains(f["errorMessage"].(string), "messageExpiry") {
			t.Fatalf("failure %v", f)
		}
	})
}

// TestErrorActionDocument pins the error action's message: one per rule and message, AWS's members in
// AWS's order, every failure listed (research §9.4, checklist 96).
func TestErrorActionDocument(t *testing.T) {
	pub := newPublisher()
	pub.fail = map[string]error{"blocked/a": errors.New("broker: not running"), "blocked/b": errors.New("broker: topic too long")}
	errAction := republishTo("errors/${topic()}", 1)
	rule := Rule{Name: "two_fail", SQL: "SELECT * FROM 'in/+'",
		Actions:     []Action{republishTo("blocked/a", 0), republishTo("ok", 0), republishTo("blocked/b", 0)},
		ErrorAction: &errAction}
	e, _ := newTestEngine(t, &staticRules{rules: []Rule{rule, markerRule}}, pub)
	payload := []byte(`{"message":"hello"}`)
	e.Handle(Message{Topic: "in/x", Payload: payload, ClientID: "dev1"})

	pub.expect(t, "ok")
	m := pub.expect(t, "errors/in/x")
	want := `{"ruleName":"two_fail","topic":"in/x","cloudwatchTraceId":"00000000-0000-4000-8000-000000000001","clientId":"dev1",` +
		`"base64OriginalPayload":"` + base64.StdEncoding.EncodeToString(payload) + `","failures":[` +
		`{"failedAction":"RepublishAction","failedResource":"blocked/a","errorMessage":"republish to blocked/a failed: broker: not running"},` +
		`{"failedAction":"RepublishAction","failedResource":"blocked/b","errorMessage":"republish to blocked/b failed: broker: topic too long"}]}`
	if m.Payload != want || m.QoS != 1 {
		t.Fatalf("error action message\n got %s (QoS %d)\nwant %s", m.Payload, m.QoS, want)
	}
	pub.settle(t, e)
	if s := e.Stats(); s.ActionFailures != 2 || s.ErrorActions != 1 || s.Fired != 2 {
		t.Fatalf("stats %+v, want 2 failures, 1 error action, 2 rules fired (with the marker)", s)
	}
}

func TestErrorActionThatFailsIsLogged(t *testing.T) {
	pub := newPublisher()
	pub.fail = map[string]error{"blocked": errors.New("no"), "errors": errors.New("no either")}
	errAction := republishTo("errors", 0)
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "r", SQL: "SELECT * FROM 'in'", Actions: []Action{republishTo("blocked", 0)}, ErrorAction: &errAction}, markerRule,
	}}, pub)
	e.Handle(Message{Topic: "in", Payload: []byte(`{}`)})
	pub.settle(t, e)
	rec := logs.wait(t, "the error action failed too")
	if rec.Attrs["rule"] != "r" || rec.Attrs["resource"] != "errors" {
		t.Fatalf("log %+v", rec)
	}
	if s := e.Stats(); s.ErrorActions != 0 || s.ActionFailures != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestSQLErrorRunsNoAction: AWS's error action covers actions; a statement that fails is logged.
// AWS: rule-error-handling ("To debug SQL issues … set up AWS IoT logging")
func TestSQLErrorRunsNoAction(t *testing.T) {
	pub := newPublisher()
	errAction := republishTo("errors", 0)
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "cam", SQL: "SELECT temp FROM 'cam/+'", Actions: []Action{republishTo("cam/temp", 0)}, ErrorAction: &errAction},
		{Name: "shadow", SQL: "SELECT get_thing_shadow('t', 'arn:aws:iam::1:role/r') AS s FROM 'cam/+'", Actions: []Action{republishTo("cam/s", 0)}},
		markerRule,
	}}, pub)
	e.Handle(Message{Topic: "cam/1", Payload: []byte{0xca, 0xfe}})
	pub.settle(t, e)
	if n := len(logs.matching("SQL evaluation failed")); n != 2 {
		t.Fatalf("%d SQL failure log lines, want 2", n)
	}
	if s := e.Stats(); s.SQLErrors != 2 || s.ActionFailures != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestNotExecutedActions: actions that need AWS are accepted, skipped and logged once per rule and
// type — never silently, never as failures.
func TestNotExecutedActions(t *testing.T) {
	pub := newPublisher()
	errAction := republishTo("errors", 0)
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "store", SQL: "SELECT * FROM 'data/+'", Actions: []Action{
			rawAction("dynamoDBv2", `{"roleArn":"arn:aws:iam::123456789012:role/r","putItem":{"tableName":"t"}}`),
			republishTo("data/copy", 0),
			rawAction("sqs", `{"roleArn":"arn:aws:iam::123456789012:role/r","queueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/q"}`),
		}, ErrorAction: &errAction},
		markerRule,
	}}, pub)
	for range 3 {
		e.Handle(Message{Topic: "data/1", Payload: []byte(`{"v":1}`)})
		pub.expect(t, "data/copy")
	}
	pub.settle(t, e)
	recs := logs.matching("not executed locally")
	var types []string
	for _, r := range recs {
		if r.Attrs["rule"] != "store" {
			t.Fatalf("log %+v", r)
		}
		types = append(types, r.Attrs["action"])
	}
	if fmt.Sprint(types) != "[dynamoDBv2 sqs]" {
		t.Fatalf("not-executed log lines for %v, want one for dynamoDBv2 and one for sqs", types)
	}
	if s := e.Stats(); s.NotExecuted != 6 || s.ActionFailures != 0 || s.ErrorActions != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReload(t *testing.T) {
	src := &staticRules{rules: []Rule{markerRule}}
	pub := newPublisher()
	e, logs := newTestEngine(t, src, pub)
	msg := Message{Topic: "r/1", Payload: []byte(`{}`)}
	rule := Rule{Name: "r", SQL: "SELECT * FROM 'r/+'", Actions: []Action{republishTo("r/out", 0)}}

	e.Handle(msg)
	pub.settle(t, e)

	src.set(rule, markerRule)
	e.Reload()
	e.Handle(msg)
	pub.expect(t, "r/out")

	src.fail(errors.New("store closed"))
	e.Reload()
	logs.wait(t, "keeping the previous ones")
	e.Handle(msg)
	pub.expect(t, "r/out")

	src.fail(nil)
	src.set(Rule{Name: "broken", SQL: "SELECT FROM", Actions: []Action{republishTo("x", 0)}}, rule, markerRule)
	e.Reload()
	if rec := logs.wait(t, "rule left out"); rec.Attrs["rule"] != "broken" {
		t.Fatalf("log %+v", rec)
	}
	e.Handle(msg)
	pub.expect(t, "r/out")

	src.set(markerRule) // deleted or disabled
	e.Reload()
	e.Handle(msg)
	pub.settle(t, e)
}

// TestQueueFullDrops: Handle never blocks; beyond the queue, messages are dropped, counted and logged.
func TestQueueFullDrops(t *testing.T) {
	pub := newPublisher()
	pub.hold = make(chan struct{})
	e, logs := newTestEngine(t, &staticRules{rules: []Rule{
		{Name: "q", SQL: "SELECT * FROM 'q'", Actions: []Action{republishTo("q/out", 0)}},
	}}, pub, func(o *Options) { o.QueueSize = 2 })

	const n = 10
	done := make(chan struct{})
	go func() {
		for i := range n {
			e.Handle(Message{Topic: "q", Payload: fmt.Appendf(nil, `{"i":%d}`, i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Handle blocked")
	}
	// At most one message is being published (held) and two wait in the queue.
	dropped := e.Stats().Dropped
	if dropped < n-3 {
		t.Fatalf("dropped %d of %d with a queue of 2", dropped, n)
	}
	logs.wait(t, "queue full")
	close(pub.hold)
	for range n - int(dropped) {
		pub.expect(t, "q/out")
	}
	if s := e.Stats(); s.Received != n {
		t.Fatalf("stats %+v", s)
	}
}

// TestRepublishChainIsCut: when the wiring feeds the broker's service-side publishes back (as a
// Publisher that calls Handle from inside Publish does here), a rule that republishes to a topic it
// reads loops; the engine stops evaluating after Quirks.MaxRepublishHops links.
func TestRepublishChainIsCut(t *testing.T) {
	tests := []struct {
		name     string
		maxHops  int
		want     int // publishes on loop/next
		wantCuts uint64
	}{
		{name: "three hops", maxHops: 3, want: 4, wantCuts: 1},
		{name: "one hop", maxHops: 1, want: 2, wantCuts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := newPublisher()
			var e *Engine
			pub.echo = func(topic string, payload []byte) { e.Handle(Message{Topic: topic, Payload: payload}) }
			e, _ = newTestEngine(t, &staticRules{rules: []Rule{
				{Name: "loop", SQL: "SELECT * FROM 'loop/#'", Actions: []Action{republishTo("loop/next", 0)}},
				markerRule,
			}}, pub, func(o *Options) { o.Quirks.MaxRepublishHops = tc.maxHops })
			e.Handle(Message{Topic: "loop/start", Payload: []byte(`{"n":1}`), ClientID: "dev"})
			for range tc.want {
				pub.expect(t, "loop/next")
			}
			pub.settle(t, e)
			if s := e.Stats(); s.HopsCut != tc.wantCuts {
				t.Fatalf("stats %+v, want %d cut", s, tc.wantCuts)
			}
		})
	}
}

func TestNewChecksOptions(t *testing.T) {
	pub := newPublisher()
	src := &staticRules{}
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"no rules", Options{Publisher: pub}, "Options.Rules"},
		{"no publisher", Options{Rules: src}, "Options.Publisher"},
		{"function with both", Options{Rules: src, Publisher: pub, Functions: map[string]Function{"f": {URL: "http://127.0.0.1/", Command: []string{"true"}}}}, "exactly one"},
		{"function with neither", Options{Rules: src, Publisher: pub, Functions: map[string]Function{"f": {}}}, "exactly one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opt)
			if err == nil {
				e.Close()
				t.Fatal("New accepted the options")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestCloseIsIdempotentAndHandleAfterwardsIsANoOp(t *testing.T) {
	pub := newPublisher()
	e, _ := newTestEngine(t, &staticRules{rules: []Rule{markerRule}}, pub)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e.Handle(Message{Topic: "marker", Payload: []byte(`{}`)})
	if s := e.Stats(); s.Received != 0 {
		t.Fatalf("stats %+v", s)
	}
}
