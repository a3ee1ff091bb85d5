package broker

import (
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// memStore is a Store in memory whose content is exactly what a crash would leave on disk: Apply is
// its only way in. snapshot takes that image at any moment (a kill -9 of the process); failing makes
// every Apply fail (a full or broken disk).
type memStore struct {
	mu      sync.Mutex // guards kv and applies
	kv      map[string][]byte
	applies int
	failing atomic.Bool
}

func newMemStore() *memStore { return &memStore{kv: map[string][]byte{}} }

var errInjected = errors.New("injected write failure")

func (m *memStore) Scan(prefix string, fn func(key string, val []byte) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.kv))
	for k := range m.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = slices.Clone(m.kv[k])
	}
	m.mu.Unlock()
	for i, k := range keys {
		if err := fn(k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Apply(ops ...StoreOp) error {
	if m.failing.Load() {
		return errInjected
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies++
	for _, op := range ops {
		if op.Value == nil {
			delete(m.kv, op.Key)
		} else {
			m.kv[op.Key] = slices.Clone(op.Value)
		}
	}
	return nil
}

func (m *memStore) Close() error { return nil }

// snapshot is the store as a crash at this instant would leave it.
func (m *memStore) snapshot() *memStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemStore()
	for k, v := range m.kv {
		c.kv[k] = slices.Clone(v)
	}
	return c
}

// keys lists the keys with a prefix.
func (m *memStore) keys(prefix string) []string {
	var out []string
	_ = m.Scan(prefix, func(k string, _ []byte) error { out = append(out, k); return nil })
	return out
}

// sessionEnv is an env whose broker keeps its state in a memStore and can be restarted on it.
func newSessionEnv(t *testing.T, tweak ...func(*Options)) (*env, *memStore) {
	t.Helper()
	st := newMemStore()
	e := newEnv(t, append([]func(*Options){func(o *Options) {
		o.Store = st
		o.Limits.ConnectsPerSecond = -1 // reconnections come fast here
	}}, tweak...)...)
	e.policy("all", allow("iot:*", "*"))
	return e, st
}

// restart starts a new broker on st (a crash image, or the store the previous broker closed) with the
// same directory and options; the previous broker is closed first unless crashed, in which case it
// is closed afterwards, so that nothing it writes after the crash reaches st.
func (e *env) restart(st Store, crashed bool) {
	e.t.Helper()
	old := e.Srv
	if !crashed {
		if err := old.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	opts := e.Opts
	opts.Listener, opts.Store = ln, st
	srv, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.events = newRecorder()
	e.stopRecording = srv.Subscribe(e.events.add)
	if err := srv.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.Srv = srv
	e.t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	})
	if crashed {
		_ = old.Close()
	}
}

// persistent5 connects an MQTT 5 client with Clean Start 0 and a Session Expiry Interval.
func (e *env) persistent5(d device, id string) *v5Client {
	e.t.Helper()
	c, err := e.dial5(d, id, v5Opts{noCleanStart: true, sei: 3600})
	if err != nil {
		e.t.Fatalf("MQTT 5 persistent connect %s: %v", id, err)
	}
	return c
}

// persistent3 connects an MQTT 3.1.1 client with cleanSession=0.
func (e *env) persistent3(d device, id string) (*v3Client, bool) {
	e.t.Helper()
	clean := false
	c, err := e.dial3(d, id, v3Opts{clean: &clean})
	if err != nil {
		e.t.Fatalf("MQTT 3.1.1 persistent connect %s: %v", id, err)
	}
	return c, c.sessionPresent
}

// leave disconnects cleanly (DISCONNECT; a persistent session stays) and waits until the broker has
// seen the connection end.
func (vc *v5Client) leave() {
	vc.t.Helper()
	vc.e.leaving(vc.id, func() {
		_ = vc.c.Disconnect(&paho.Disconnect{})
		<-vc.c.Done()
	})
}

func (vc *v3Client) leave() {
	vc.t.Helper()
	vc.e.leaving(vc.id, func() { vc.c.Disconnect(100) })
}

// leaving runs disconnect and waits for the broker's disconnect event of id.
func (e *env) leaving(id string, disconnect func()) {
	e.t.Helper()
	pred := kindIs(EventDisconnect, id)
	n := len(e.events.all(pred))
	disconnect()
	e.events.waitCount(e.t, "the disconnect of "+id, n+1, pred)
}

// expectNoneOfBefore checks that nothing arrives on any of topics before a message on marker.
func (vc *v5Client) expectNoneOfBefore(marker string, topics ...string) {
	vc.t.Helper()
	before, _ := vc.collect(marker)
	for _, m := range before {
		if slices.Contains(topics, m.Topic) {
			vc.t.Errorf("unexpected message on %s: %q", m.Topic, m.Payload)
		}
	}
}

func (vc *v3Client) expectNoneOfBefore(marker string, topics ...string) {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if slices.Contains(topics, m.Topic()) {
				vc.t.Errorf("unexpected message on %s: %q", m.Topic(), m.Payload())
			}
			if m.Topic() == marker {
				return
			}
		case <-deadline:
			vc.t.Fatalf("marker %s never arrived", marker)
		}
	}
}

// payloads collects n messages on topic and returns their payloads, in arrival order.
func (vc *v5Client) payloads(topic string, n int) []string {
	vc.t.Helper()
	var out []string
	deadline := time.After(2 * waitFor)
	for len(out) < n {
		select {
		case m := <-vc.msgs:
			if m.Topic == topic {
				out = append(out, string(m.Payload))
			}
		case <-deadline:
			vc.t.Fatalf("got %d of %d messages on %s: %q", len(out), n, topic, out)
		}
	}
	return out
}

func (vc *v3Client) payloads(topic string, n int) []string {
	vc.t.Helper()
	var out []string
	deadline := time.After(2 * waitFor)
	for len(out) < n {
		select {
		case m := <-vc.msgs:
			if m.Topic() == topic {
				out = append(out, string(m.Payload()))
			}
		case <-deadline:
			vc.t.Fatalf("got %d of %d messages on %s: %q", len(out), n, topic, out)
		}
	}
	return out
}

// rawConnect sends CONNECT with a clean flag and, for MQTT 5, a Session Expiry Interval; it returns
// the CONNACK.
func (rc *rawClient) rawConnect(clientID string, clean bool, sei uint32) packets.Packet {
	rc.t.Helper()
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ClientIdentifier: clientID, Keepalive: 60, Clean: clean},
	}
	if sei > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = sei, true
	}
	rc.send(pk)
	ack, err := rc.read()
	if err != nil || ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		rc.t.Fatalf("raw connect: %v %+v", err, ack)
	}
	return ack
}

func (rc *rawClient) subscribe(filter string, qos byte) {
	rc.t.Helper()
	rc.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe},
		PacketID:    1,
		Filters:     packets.Subscriptions{{Filter: filter, Qos: qos}},
	})
	pk, err := rc.read()
	if err != nil || pk.FixedHeader.Type != packets.Suback || len(pk.ReasonCodes) != 1 || pk.ReasonCodes[0] > 1 {
		rc.t.Fatalf("raw subscribe %s: %v %+v", filter, err, pk)
	}
}

func (rc *rawClient) puback(pid uint16) {
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pid})
}

// publishes reads until a PUBLISH on marker arrives and returns the PUBLISH packets before it.
func (rc *rawClient) publishesBefore(marker string) []packets.Packet {
	rc.t.Helper()
	var got []packets.Packet
	for {
		pk, err := rc.read()
		if err != nil {
			rc.t.Fatalf("after %d publishes: %v", len(got), err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		if pk.TopicName == marker {
			return got
		}
		got = append(got, pk)
	}
}

// settle waits until the broker has written what it has queued (its committer is idle).
func (e *env) settle() {
	e.t.Helper()
	if e.Srv.cm == nil {
		return
	}
	b := e.Srv.cm.add()
	select {
	case <-b.done:
	case <-time.After(waitFor):
		e.t.Fatal("the store never caught up")
	}
}

// publishAll publishes QoS 1 messages from the service and fails on the first error.
func (e *env) publishAll(topic string, payloads ...string) {
	e.t.Helper()
	for _, p := range payloads {
		if err := e.Srv.Publish(topic, []byte(p), 1, false); err != nil {
			e.t.Fatalf("Publish %s %q: %v", topic, p, err)
		}
	}
}

// payloadsBefore returns the payloads received before a message on marker.
func (vc *v3Client) payloadsBefore(marker string) []string {
	vc.t.Helper()
	var out []string
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic() == marker {
				return out
			}
			out = append(out, string(m.Payload()))
		case <-deadline:
			vc.t.Fatalf("marker %s never arrived; got %q", marker, out)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
