package awsapi

import (
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadowsvc"
	"github.com/iotlab/iotlab/emulator/store"
)

// The back ends the iot-data plane needs, as emulator/shadowsvc and the broker provide them.
var (
	_ Shadows   = (*shadowsvc.Service)(nil)
	_ DataPlane = (*fakeDataPlane)(nil)
	_ Retained  = (*fakeRetained)(nil)
)

// dataWait bounds the waits of the data-plane tests.
const dataWait = 5 * time.Second

// fakeDataPlane records what Publish and DeleteConnection ask of the broker. The broker itself is
// exercised end to end in emulator/shadowsvc's tests.
type fakeDataPlane struct {
	mu          sync.Mutex // guards everything below
	msgs        []Message
	clients     map[string]bool // client IDs with a connection or session
	disconnects []disconnectCall
}

type disconnectCall struct {
	ClientID                  string
	CleanSession, PreventWill bool
}

func (f *fakeDataPlane) Publish(m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *fakeDataPlane) Disconnect(clientID string, cleanSession, preventWill bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clients[clientID] {
		return false
	}
	f.disconnects = append(f.disconnects, disconnectCall{clientID, cleanSession, preventWill})
	return true
}

func (f *fakeDataPlane) published() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.msgs...)
}

// fakeRetained is a fixed set of retained messages.
type fakeRetained struct {
	mu   sync.Mutex // guards msgs
	msgs map[string]RetainedMessage
}

func (f *fakeRetained) RetainedMessage(topic string) (RetainedMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[topic]
	return m, ok
}

func (f *fakeRetained) RetainedMessages() []RetainedMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RetainedMessage
	for _, m := range f.msgs {
		m.Payload = nil // as a broker may answer: sizes only
		out = append(out, m)
	}
	return out
}

func (f *fakeRetained) put(m RetainedMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msgs == nil {
		f.msgs = map[string]RetainedMessage{}
	}
	m.PayloadSize = len(m.Payload)
	f.msgs[m.Topic] = m
}

// shadowMsg is a message of the shadow service.
type shadowMsg struct {
	Topic   string
	Payload []byte
}

// shadowPub records the shadow service's messages.
type shadowPub struct {
	mu     sync.Mutex // guards msgs
	msgs   []shadowMsg
	signal chan struct{}
}

func (p *shadowPub) Publish(topic string, payload []byte) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, shadowMsg{topic, append([]byte(nil), payload...)})
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
	return nil
}

func (p *shadowPub) all() []shadowMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]shadowMsg(nil), p.msgs...)
}

func (p *shadowPub) reset() {
	p.mu.Lock()
	p.msgs = nil
	p.mu.Unlock()
}

// wait returns the first message on topic, waiting up to dataWait.
func (p *shadowPub) wait(t testing.TB, topic string) shadowMsg {
	t.Helper()
	deadline := time.After(dataWait)
	for {
		for _, m := range p.all() {
			if m.Topic == topic {
				return m
			}
		}
		select {
		case <-p.signal:
		case <-deadline:
			t.Fatalf("nothing published on %s", topic)
			return shadowMsg{}
		}
	}
}

func (p *shadowPub) topics() []string {
	var ts []string
	for _, m := range p.all() {
		ts = append(ts, m.Topic)
	}
	return ts
}

// dataEnv is an API server with the iot-data back ends: a real shadow service on a real store, a
// fake broker and fake retained messages.
type dataEnv struct {
	*testEnv
	Clock    *regTestClock
	Shadows  *shadowsvc.Service
	Pub      *shadowPub
	Data     *fakeDataPlane
	Retained *fakeRetained
}

// newDataEnv starts the server; tweak adjusts its Config (e.g. to leave a back end out).
func newDataEnv(t testing.TB, tweak ...func(*Config)) *dataEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &store.Faulty{Store: st}
	clock := &regTestClock{t: regEpoch}
	reg, err := registry.Open(registry.Options{Store: f, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pub := &shadowPub{signal: make(chan struct{}, 1)}
	svc, err := shadowsvc.Open(shadowsvc.Options{Store: f, Publisher: pub, Now: clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := &dataEnv{Clock: clock, Shadows: svc, Pub: pub, Data: &fakeDataPlane{clients: map[string]bool{}}, Retained: &fakeRetained{}}
	cfg := Config{Registry: reg, Account: "123456789012", Region: "eu-west-1", EndpointHost: "localhost", Now: clock.Now,
		DataPlane: e.Data, Shadows: svc, Retained: e.Retained}
	for _, tw := range tweak {
		tw(&cfg)
	}
	srv := New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); svc.Close(); st.Close() })
	e.testEnv = &testEnv{URL: hs.URL, Reg: reg, Store: f, Srv: srv, Dir: dir}
	return e
}

// data is an aws-sdk-go-v2 iot-data client pointed at the test server.
func (e *dataEnv) data() *iotdataplane.Client { return iotdataplane.NewFromConfig(e.awsConfig()) }
