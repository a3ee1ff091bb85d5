package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// waitTimeout bounds every wait for an event in these tests; events normally come within milliseconds.
const waitTimeout = 10 * time.Second

// startServer starts a lab server on 127.0.0.1:0 and closes it when the test ends.
func startServer(t *testing.T, opt Options) *Server {
	t.Helper()
	if opt.Listener == nil && opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	if opt.Logger == nil && testing.Verbose() {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// writeFile writes content to a file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds; for server-side state that no client can observe as an event.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clientGone waits until the server has finished with the connection of client id.
func clientGone(t *testing.T, s *Server, id string) {
	t.Helper()
	waitFor(t, "client "+id+" to be disconnected", func() bool {
		cl, ok := s.mochi.Clients.Get(id)
		return !ok || cl.Closed()
	})
}

// queued waits until the session of client id holds n messages for delivery. mochi acknowledges a PUBLISH
// before it passes the message on, so the publisher's PUBACK does not mean that an offline session has it.
func queued(t *testing.T, s *Server, id string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages queued for %s", n, id), func() bool {
		cl, ok := s.mochi.Clients.Get(id)
		return ok && cl.State.Inflight.Len() >= n
	})
}

// msg is a received message, from either client library.
type msg struct {
	Topic   string
	Payload string
	QoS     byte
	Retain  bool
	Alias   uint16 // MQTT 5 topic alias on the wire (0: none)
	Expiry  *uint32
}

func (m msg) String() string {
	return fmt.Sprintf("%s %q q%d r%v", m.Topic, m.Payload, m.QoS, m.Retain)
}

// inbox collects received messages.
type inbox chan msg

func newInbox() inbox { return make(inbox, 1000) }

// next returns the next message, failing the test if none comes.
func (in inbox) next(t *testing.T) msg {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a message")
		return msg{}
	}
}

// until returns the messages received before the first one on topic marker (which it consumes). Publishing a
// marker after a message that must not arrive turns "nothing arrives" into an event to wait for: the broker
// keeps one publisher's messages in order for each subscriber.
func (in inbox) until(t *testing.T, marker string) []msg {
	t.Helper()
	var got []msg
	timeout := time.After(waitTimeout)
	for {
		select {
		case m := <-in:
			if m.Topic == marker {
				return got
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("timed out waiting for marker %q; received %v", marker, got)
		}
	}
}

// v5 is an MQTT 5 client (paho.golang) and its inbox.
type v5 struct {
	*paho.Client
	conn net.Conn
	in   inbox
}

// dialV5 connects an MQTT 5 client; cp may be nil.
func dialV5(t *testing.T, s *Server, cp *paho.Connect) (*v5, *paho.Connack) {
	t.Helper()
	c, ack, err := tryDialV5(s.Addr().String(), cp)
	if err != nil {
		t.Fatalf("MQTT 5 connect: %v", err)
	}
	t.Cleanup(func() { _ = c.conn.Close() })
	return c, ack
}

func tryDialV5(addr string, cp *paho.Connect) (*v5, *paho.Connack, error) {
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		return nil, nil, err
	}
	in := newInbox()
	cl := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			m := msg{Topic: pr.Packet.Topic, Payload: string(pr.Packet.Payload), QoS: pr.Packet.QoS, Retain: pr.Packet.Retain}
			if p := pr.Packet.Properties; p != nil {
				if p.TopicAlias != nil {
					m.Alias = *p.TopicAlias
				}
				m.Expiry = p.MessageExpiry
			}
			in <- m
			return true, nil
		}},
	})
	if cp == nil {
		cp = &paho.Connect{CleanStart: true}
	}
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := cl.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		return nil, ack, err
	}
	return &v5{Client: cl, conn: conn, in: in}, ack, nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (c *v5) sub(t *testing.T, qos byte, filters ...string) *paho.Suback {
	t.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: qos})
	}
	ack, err := c.Subscribe(ctxT(t), s)
	if err != nil && ack == nil {
		t.Fatalf("subscribe %v: %v", filters, err)
	}
	return ack
}

// pub publishes and returns the reason code of the acknowledgement (0 for QoS 0).
func (c *v5) pub(t *testing.T, topic string, qos byte, retain bool, payload string) byte {
	t.Helper()
	return c.pubWith(t, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
}

func (c *v5) pubWith(t *testing.T, p *paho.Publish) byte {
	t.Helper()
	resp, err := c.Publish(ctxT(t), p)
	if resp == nil {
		t.Fatalf("publish %q: %v", p.Topic, err)
	}
	return resp.ReasonCode
}

func (c *v5) disconnect() { _ = c.Disconnect(&paho.Disconnect{ReasonCode: 0}) }

func u32(v uint32) *uint32 { return &v }
func u16(v uint16) *uint16 { return &v }

// v3 is an MQTT 3.1.1 client (paho.mqtt.golang) and its inbox.
type v3 struct {
	mqtt3.Client
	in inbox
}

// dialV3 connects an MQTT 3.1.1 client; configure may adjust the options (client id, clean session, will).
func dialV3(t *testing.T, s *Server, id string, configure func(*mqtt3.ClientOptions)) *v3 {
	t.Helper()
	in := newInbox()
	o := mqtt3.NewClientOptions().
		AddBroker("tcp://" + s.Addr().String()).
		SetClientID(id).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitTimeout).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) {
			in <- msg{Topic: m.Topic(), Payload: string(m.Payload()), QoS: m.Qos(), Retain: m.Retained()}
		})
	if configure != nil {
		configure(o)
	}
	c := mqtt3.NewClient(o)
	if err := waitToken(c.Connect()); err != nil {
		t.Fatalf("MQTT 3.1.1 connect %q: %v", id, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return &v3{Client: c, in: in}
}

func waitToken(tok mqtt3.Token) error {
	if !tok.WaitTimeout(waitTimeout) {
		return fmt.Errorf("timed out")
	}
	return tok.Error()
}

// sub subscribes to each filter in turn, one SUBSCRIBE each, so that the broker handles them in order.
func (c *v3) sub(t *testing.T, qos byte, filters ...string) []byte {
	t.Helper()
	var codes []byte
	for _, f := range filters {
		tok := c.Subscribe(f, qos, nil)
		if err := waitToken(tok); err != nil {
			t.Fatalf("subscribe %q: %v", f, err)
		}
		codes = append(codes, tok.(*mqtt3.SubscribeToken).Result()[f])
	}
	return codes
}

func (c *v3) pub(t *testing.T, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	if err := waitToken(c.Publish(topic, qos, retain, payload)); err != nil {
		t.Fatalf("publish %q: %v", topic, err)
	}
}

// raw is a bare TCP connection speaking MQTT through mochi's packet codec, for what the client libraries
// refuse to send or do not show.
type raw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	ver  byte
}

func dialRaw(t *testing.T, s *Server, ver byte) *raw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr().String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	return &raw{t: t, conn: conn, r: bufio.NewReader(conn), ver: ver}
}

func (r *raw) send(pk packets.Packet) {
	r.t.Helper()
	pk.ProtocolVersion = r.ver
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	default:
		r.t.Fatalf("raw: cannot encode packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.Write(buf.Bytes()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) connect(id string, clean bool) packets.Packet {
	r.t.Helper()
	name := []byte("MQTT")
	if r.ver == 3 {
		name = []byte("MQIsdp")
	}
	r.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ProtocolName: name, ClientIdentifier: id, Clean: clean, Keepalive: 30},
	})
	return r.read()
}

// read reads one packet; it fails the test on EOF.
func (r *raw) read() packets.Packet {
	r.t.Helper()
	pk, err := r.tryRead()
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	return pk
}

func (r *raw) tryRead() (packets.Packet, error) {
	var pk packets.Packet
	b, err := r.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = r.ver
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	return pk, err
}

// expectClosed waits for the server to close the connection.
func (r *raw) expectClosed() {
	r.t.Helper()
	for {
		pk, err := r.tryRead()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("server did not close the connection")
			}
			return
		}
		r.t.Logf("raw: read packet type %d before close", pk.FixedHeader.Type)
	}
}

// counter is a concurrency-safe counter for load tests.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
