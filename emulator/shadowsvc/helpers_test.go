package shadowsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
	"github.com/iotlab/iotlab/emulator/store"
)

// waitFor bounds every wait; nothing should take more than a fraction of it.
const waitFor = 5 * time.Second

var testScope = registry.Scope{Account: "123456789012", Region: "eu-west-1"}

// epoch is the start of every test clock: 1700000000 in the documents.
var epoch = time.Unix(1700000000, 0)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// message is one publish of the service.
type message struct {
	Topic   string
	Payload []byte
}

// recorder is a Publisher that keeps every message and lets tests wait for them.
type recorder struct {
	mu     sync.Mutex // guards msgs
	msgs   []message
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) Publish(topic string, payload []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, message{topic, append([]byte(nil), payload...)})
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
	return nil
}

// all returns the messages so far.
func (r *recorder) all() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.msgs...)
}

// topics returns the topics of the messages so far.
func (r *recorder) topics() []string {
	var ts []string
	for _, m := range r.all() {
		ts = append(ts, m.Topic)
	}
	return ts
}

// reset forgets the messages so far.
func (r *recorder) reset() {
	r.mu.Lock()
	r.msgs = nil
	r.mu.Unlock()
}

// waitN waits until at least n messages were published and returns them.
func (r *recorder) waitN(t testing.TB, n int) []message {
	t.Helper()
	return r.waitUntil(t, fmt.Sprintf("%d messages", n), func(ms []message) bool { return len(ms) >= n })
}

// waitUntil waits until the messages so far satisfy pred.
func (r *recorder) waitUntil(t testing.TB, what string, pred func([]message) bool) []message {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if ms := r.all(); pred(ms) {
			return ms
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; published %v", what, r.topics())
			return nil
		}
	}
}

// env is a Service on a real store in a temp dir.
type env struct {
	t     testing.TB
	dir   string
	bolt  *store.Bolt
	st    *store.Faulty
	clock *clock
	pub   *recorder
	svc   *Service
	opt   Options
}

// newEnv opens a store and a Service on it; tweak adjusts the options first.
func newEnv(t testing.TB, tweak ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), pub: newRecorder()}
	b, err := store.Open(filepath.Join(e.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.bolt = b
	e.st = &store.Faulty{Store: b}
	e.opt = Options{Store: e.st, Publisher: e.pub, Scope: testScope, Now: e.clock.Now, SweepInterval: -1}
	for _, f := range tweak {
		f(&e.opt)
	}
	e.svc = e.open()
	t.Cleanup(func() {
		e.svc.Close()
		b.Close()
	})
	return e
}

func (e *env) open() *Service {
	e.t.Helper()
	svc, err := Open(e.opt)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// restart closes the Service and opens another on the same store, as after a restart.
func (e *env) restart() {
	e.t.Helper()
	if err := e.svc.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.svc = e.open()
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantShadowErr fails unless err is a *shadow.Error with code and, when msg is not "", message.
func wantShadowErr(t testing.TB, err error, code int, msg string) {
	t.Helper()
	var se *shadow.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a shadow error %d", err, code)
	}
	if se.Code != code || (msg != "" && se.Message != msg) {
		t.Fatalf("got %d %q, want %d %q", se.Code, se.Message, code, msg)
	}
}

// field decodes the JSON document doc and returns the member at path (e.g. "state", "desired").
func field(t testing.TB, doc []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", doc, err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// gated wraps a store so that tests can hold writes: Apply waits while the gate is closed.
type gated struct {
	store.Store
	mu   sync.Mutex // guards open
	open chan struct{}
	// entered receives a value each time an Apply starts waiting.
	entered chan struct{}
}

func newGated(st store.Store) *gated {
	g := &gated{Store: st, open: make(chan struct{}), entered: make(chan struct{}, 100)}
	close(g.open)
	return g
}

// hold makes later writes wait until release.
func (g *gated) hold() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gated) release() {
	g.mu.Lock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
	g.mu.Unlock()
}

func (g *gated) Apply(ops ...store.Op) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
	default:
		g.entered <- struct{}{}
		<-ch
	}
	return g.Store.Apply(ops...)
}
