package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor bounds every wait in these tests; nothing should take more than a fraction of it.
const waitFor = 5 * time.Second

// testEpoch is the engine clock of every test: timestamp() reads it.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// staticRules is a RuleSource the test sets directly.
type staticRules struct {
	mu    sync.Mutex // guards rules and err
	rules []Rule
	err   error
}

func (s *staticRules) EnabledRules() ([]Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule(nil), s.rules...), s.err
}

func (s *staticRules) set(rs ...Rule) {
	s.mu.Lock()
	s.rules = rs
	s.mu.Unlock()
}

func (s *staticRules) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// published is one message a Publisher was asked to send.
type published struct {
	Topic   string
	Payload string
	QoS     byte
	Headers Headers
}

// recPublisher records publishes; fail makes publishes to a topic fail; hold blocks every publish
// until it is closed; echo, when set, is called synchronously from Publish, as the broker calls its
// observers from inside Server.Publish.
type recPublisher struct {
	ch      chan published
	fail    map[string]error
	hold    chan struct{}
	echo    func(topic string, payload []byte)
	headers bool // implement PublishWithHeaders
	count   atomic.Int64
}

func newPublisher() *recPublisher { return &recPublisher{ch: make(chan published, 1000)} }

func (p *recPublisher) Publish(topic string, payload []byte, qos byte, retain bool) error {
	return p.publish(topic, payload, qos, Headers{})
}

func (p *recPublisher) publish(topic string, payload []byte, qos byte, h Headers) error {
	if p.hold != nil {
		<-p.hold
	}
	if err := p.fail[topic]; err != nil {
		return err
	}
	p.count.Add(1)
	p.ch <- published{Topic: topic, Payload: string(payload), QoS: qos, Headers: h}
	if p.echo != nil {
		p.echo(topic, payload)
	}
	return nil
}

// headerPublisher is a recPublisher that can set MQTT 5 properties.
type headerPublisher struct{ *recPublisher }

func (p headerPublisher) PublishWithHeaders(topic string, payload []byte, qos byte, retain bool, h Headers) error {
	return p.publish(topic, payload, qos, h)
}

// next returns the next publish, failing after waitFor.
func (p *recPublisher) next(t *testing.T) published {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("no publish")
		return published{}
	}
}

// expect returns the next publish and checks its topic.
func (p *recPublisher) expect(t *testing.T, topic string) published {
	t.Helper()
	m := p.next(t)
	if m.Topic != topic {
		t.Fatalf("publish on %q (%s), want one on %q", m.Topic, m.Payload, topic)
	}
	return m
}

// markerRule republishes every message on "marker" to "marker/done". Handling a marker message after
// others and waiting for marker/done proves the quick rules of the earlier messages have run: one
// goroutine evaluates messages in order and runs quick actions inline.
var markerRule = Rule{Name: "zz_marker", SQL: "SELECT * FROM 'marker'", Actions: []Action{republishTo("marker/done", 0)}}

// settle handles a marker message and checks that nothing else is published before it.
func (p *recPublisher) settle(t *testing.T, e *Engine) {
	t.Helper()
	e.Handle(Message{Topic: "marker", Payload: []byte(`{}`), ClientID: "marker"})
	if m := p.next(t); m.Topic != "marker/done" {
		t.Fatalf("unexpected publish on %q: %s", m.Topic, m.Payload)
	}
}

// logRecorder is a slog.Handler that keeps every record's message and attributes.
type logRecorder struct {
	mu     sync.Mutex // guards recs
	recs   []logRecord
	signal chan struct{}
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder() *logRecorder { return &logRecorder{signal: make(chan struct{}, 1)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { rec.Attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
	return nil
}

// matching returns the records whose message contains sub.
func (h *logRecorder) matching(sub string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.recs {
		if strings.Contains(r.Msg, sub) {
			out = append(out, r)
		}
	}
	return out
}

// wait returns the first record whose message contains sub, waiting up to waitFor.
func (h *logRecorder) wait(t *testing.T, sub string) logRecord {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if rs := h.matching(sub); len(rs) > 0 {
			return rs[0]
		}
		select {
		case <-h.signal:
		case <-deadline:
			t.Fatalf("no log record containing %q", sub)
			return logRecord{}
		}
	}
}

// seqUUID returns "00000000-0000-4000-8000-00000000000N" for N = 1, 2, …
func seqUUID() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n.Add(1)) }
}

// newTestEngine starts an engine over src and pub with a fixed clock and sequential UUIDs.
func newTestEngine(t *testing.T, src *staticRules, pub Publisher, tweak ...func(*Options)) (*Engine, *logRecorder) {
	t.Helper()
	logs := newLogRecorder()
	opt := Options{
		Rules:     src,
		Publisher: pub,
		Account:   "123456789012",
		Region:    "eu-west-1",
		Now:       func() time.Time { return testEpoch },
		NewUUID:   seqUUID(),
		Logger:    slog.New(logs),
	}
	for _, f := range tweak {
		f(&opt)
	}
	e, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, logs
}

// rawAction builds an Action from a type and its JSON parameters.
func rawAction(typ, params string) Action { return Action{Type: typ, Params: json.RawMessage(params)} }

func republishTo(topic string, qos int) Action {
	b, _ := json.Marshal(map[string]any{"topic": topic, "qos": qos, "roleArn": "arn:aws:iam::123456789012:role/republish"})
	return Action{Type: "republish", Params: b}
}

func invokeFn(arn string) Action {
	b, _ := json.Marshal(map[string]any{"functionArn": arn})
	return Action{Type: "lambda", Params: b}
}

func postTo(url string, headers ...string) Action {
	p := map[string]any{"url": url}
	var hs []map[string]string
	for i := 0; i+1 < len(headers); i += 2 {
		hs = append(hs, map[string]string{"key": headers[i], "value": headers[i+1]})
	}
	if hs != nil {
		p["headers"] = hs
	}
	b, _ := json.Marshal(p)
	return Action{Type: "http", Params: b}
}

// waitStats waits until cond holds for the engine's counters.
func waitStats(t *testing.T, e *Engine, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := e.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}
