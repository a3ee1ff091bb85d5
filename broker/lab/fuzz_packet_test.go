package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// FuzzLabPacketPath sends arbitrary bytes to a real lab server over plain TCP, as any client on the
// network may, and then checks that the server still serves a sentinel client: a fresh connection
// connects, subscribes with a wildcard, publishes a retained QoS 1 message and receives it. A panic
// anywhere in the lab (mochi's parser, the packet guard, the lab and store hooks, the ACL) ends the fuzz
// process and is reported as a crasher; so is a server that stops serving, a connection goroutine that
// does not end once its peer has gone, a lock of the lab hook left held, or a state-file error.
//
// One server serves every input of a fuzz process; it has an ACL file (so that inputs reach the allow,
// deny and pattern paths) and a state file (persistent sessions, queued messages and retained messages
// go through the store). After an input fails, the next one gets a fresh server, so that the failure
// does not spill over to the inputs Go's fuzzer tries while it minimizes. mode selects what precedes the
// fuzzed bytes, so that the fuzzer reaches the packets after CONNECT without having to find a valid one
// first: 0 none, 1 a valid MQTT 3.1 CONNECT, 2 a valid MQTT 3.1.1 CONNECT (persistent session), 3 a
// valid MQTT 5 CONNECT (persistent session, properties).
//
// Each input is written at once and the write side is then shut, so mochi reads everything and ends the
// connection at once; the exchange waits for that (at most 50 ms) and for the server to finish with the
// connection, so that what the input did is done before the next input starts.
//
//	go test -run '^$' -fuzz FuzzLabPacketPath -fuzztime 60s ./broker/lab/
func FuzzLabPacketPath(f *testing.F) {
	for _, s := range labFuzzSeeds(f) {
		f.Add(s.mode, s.data)
	}
	// f's body runs once per process (the coordinator and each fuzz worker), so the server is started
	// here and closed by f's cleanup: the fuzz function's *testing.T belongs to one input and may not own
	// it (that is why startServer, which takes a *testing.T, is not used), and f's methods may not be
	// called from the fuzz function.
	x := &labFuzzTarget{dir: f.TempDir()}
	if err := os.WriteFile(filepath.Join(x.dir, "acl"), []byte(labFuzzACL), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := x.start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := x.s.Close(); err != nil && !x.failed {
			f.Errorf("Close: %v", err)
		}
	})

	var n uint64 // inputs run one at a time in a process
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		if x.failed {
			if err := x.restart(); err != nil {
				t.Fatal(err)
			}
		}
		defer func() { x.failed = x.failed || t.Failed() }()
		n++
		var in bytes.Buffer
		switch mode % 4 {
		case 1:
			in.Write(labFuzzEncode(t, 3, labFuzzConnect("fuzz-v3", true, 0)))
		case 2:
			in.Write(labFuzzEncode(t, 4, labFuzzConnect("fuzz-v4", false, 0)))
		case 3:
			in.Write(labFuzzEncode(t, 5, labFuzzConnect("fuzz-v5", false, 60)))
		}
		in.Write(data)
		s, addr := x.s, x.s.Addr().String()
		labFuzzExchange(t, addr, in.Bytes())
		if err := labFuzzSettled(s); err != nil {
			t.Fatalf("after the input (mode %d, %d bytes %q): %v", mode, len(data), data, err)
		}
		ver := byte(4 + n%2) // the sentinel alternates MQTT 3.1.1 and 5
		if err := labFuzzSentinel(addr, ver, fmt.Sprintf("lab-sentinel-%d", n%16), n); err != nil {
			t.Fatalf("the lab stopped serving after the input (mode %d, %d bytes %q): sentinel (MQTT v%d): %v", mode, len(data), data, ver, err)
		}
		if err := labFuzzSettled(s); err != nil {
			t.Fatalf("after the sentinel (input mode %d, %d bytes %q): %v", mode, len(data), data, err)
		}
		if msgs := x.logs.take(); len(msgs) > 0 {
			t.Fatalf("the lab logged after the input (mode %d, %d bytes %q):\n%s", mode, len(data), data, strings.Join(msgs, "\n"))
		}
	})
}

// labFuzzTarget is the server of a fuzz process, replaced by a fresh one after an input fails.
type labFuzzTarget struct {
	dir    string // holds the ACL file and the state files
	gen    int    // servers started
	s      *Server
	logs   *labFuzzLog
	failed bool // an input failed on s
}

func (x *labFuzzTarget) start() error {
	x.gen++
	logs := &labFuzzLog{}
	s, err := New(Options{
		Addr:           "127.0.0.1:0",
		DBPath:         filepath.Join(x.dir, fmt.Sprintf("lab-%d.db", x.gen)), // a server that failed may keep its file
		ACLFile:        filepath.Join(x.dir, "acl"),
		Logger:         slog.New(logs),
		ConnectTimeout: time.Second,
	})
	if err != nil {
		return fmt.Errorf("New: %w", err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("Start: %w", err)
	}
	x.s, x.logs, x.failed = s, logs, false
	return nil
}

// restart closes the server an input failed on (its Close may report that it could not finish) and
// starts a fresh one.
func (x *labFuzzTarget) restart() error {
	_ = x.s.Close()
	return x.start()
}

// labFuzzACL lets anonymous clients use fuzz/... (the sentinel among them) except fuzz/denied/..., read
// ro/... and write wo/...; the patterns bring the client id and username in; alice may do anything.
const labFuzzACL = `# FuzzLabPacketPath
topic readwrite fuzz/#
topic deny fuzz/denied/#
topic read ro/#
topic write wo/#
topic read $SYS/#
pattern readwrite lab/%c/#
pattern readwrite users/%u/+/x

user alice
topic readwrite #
`

// labFuzzExchange writes in on a fresh connection, shuts the write side and reads what the server
// answers until it closes the connection (at most 50 ms).
func labFuzzExchange(t *testing.T, addr string, in []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	end := time.Now().Add(50 * time.Millisecond)
	_ = c.SetDeadline(end)
	if _, err := c.Write(in); err == nil { // the server may close before it has read everything
		_ = c.(*net.TCPConn).CloseWrite()
	}
	_, _ = io.Copy(io.Discard, c)
}

// labFuzzSettled waits until the server has finished with every connection (their goroutines have
// returned) and then checks that the lab hook holds nothing for any client: no SUBSCRIBE in progress, no
// retained-message role, the retained lock free.
func labFuzzSettled(s *Server) error {
	s.mu.Lock()
	l := s.lis
	s.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		open := len(l.conns)
		l.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d connection(s) still served 5 s after the client closed", open)
		}
		time.Sleep(200 * time.Microsecond)
	}
	h := s.lab
	if n := h.nsubs.Load(); n != 0 {
		return fmt.Errorf("%d SUBSCRIBE(s) still recorded as in progress", n)
	}
	h.rmu.Lock()
	roles := len(h.rstate)
	h.rmu.Unlock()
	if roles != 0 {
		return fmt.Errorf("%d retained-message role(s) left for clients that are gone", roles)
	}
	// A delayed will or an expiring session may briefly hold the lock from mochi's event loop.
	for !h.retained.TryLock() {
		if time.Now().After(deadline) {
			return errors.New("the retained-message lock is still held")
		}
		time.Sleep(200 * time.Microsecond)
	}
	h.retained.Unlock()
	return nil
}

// labFuzzSentinel connects a clean client of protocol version ver, subscribes to a wildcard filter of its
// own, publishes a retained QoS 1 message there and waits for the SUBACK, the PUBACK and the message.
// The wildcard subscription and the retained message take the lab hook's retained-message lock, so a
// lock left held by an input shows here.
func labFuzzSentinel(addr string, ver byte, id string, n uint64) error {
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	r := bufio.NewReader(c)
	topic := "fuzz/sentinel/" + id + "/m"
	payload := fmt.Sprintf("alive %d", n)
	for _, pk := range []packets.Packet{
		labFuzzConnect(id, true, 0),
		{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 1, Filters: packets.Subscriptions{{Filter: "fuzz/sentinel/" + id + "/+", Qos: 1}}},
		{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: true}, PacketID: 2, TopicName: topic, Payload: []byte(payload)},
	} {
		b, err := labFuzzEncodePacket(ver, pk)
		if err != nil {
			return err
		}
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("write %s: %w", packets.PacketNames[pk.FixedHeader.Type], err)
		}
		if pk.FixedHeader.Type == packets.Connect {
			got, err := labFuzzRead(r, ver)
			if err != nil || got.FixedHeader.Type != packets.Connack || got.ReasonCode != 0 {
				return fmt.Errorf("CONNACK: %v %+v reason %#x", err, got.FixedHeader, got.ReasonCode)
			}
		}
	}
	var suback, puback, message bool
	for !suback || !puback || !message {
		got, err := labFuzzRead(r, ver)
		if err != nil {
			return fmt.Errorf("after SUBACK %v PUBACK %v message %v: %w", suback, puback, message, err)
		}
		switch got.FixedHeader.Type {
		case packets.Suback:
			if len(got.ReasonCodes) != 1 || got.ReasonCodes[0] != 1 {
				return fmt.Errorf("SUBACK %#x", got.ReasonCodes)
			}
			suback = true
		case packets.Puback:
			if got.PacketID != 2 || got.ReasonCode != 0 {
				return fmt.Errorf("PUBACK id %d reason %#x", got.PacketID, got.ReasonCode)
			}
			puback = true
		case packets.Publish:
			// Older retained messages of the same id come first, from earlier sentinels.
			message = message || got.TopicName == topic && string(got.Payload) == payload
			if got.FixedHeader.Qos > 0 {
				ack, _ := labFuzzEncodePacket(ver, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: got.PacketID})
				if _, err := c.Write(ack); err != nil {
					return fmt.Errorf("write PUBACK: %w", err)
				}
			}
		case packets.Disconnect:
			return fmt.Errorf("DISCONNECT from the server, reason %#x", got.ReasonCode)
		}
	}
	b, _ := labFuzzEncodePacket(ver, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("write DISCONNECT: %w", err)
	}
	_, _ = io.Copy(io.Discard, r) // until the server closes: the session is gone when labFuzzSettled looks
	return nil
}

// labFuzzRead reads one packet and decodes the types the sentinel looks at.
func labFuzzRead(r *bufio.Reader, ver byte) (packets.Packet, error) {
	var pk packets.Packet
	b, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = ver
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	return pk, err
}

// labFuzzConnect is a CONNECT; sei > 0 (MQTT 5) makes the session persistent and adds properties.
func labFuzzConnect(id string, clean bool, sei uint32) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ClientIdentifier: id, Keepalive: 30, Clean: clean},
	}
	if sei > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = sei, true
		pk.Properties.ReceiveMaximum = 10
		pk.Properties.TopicAliasMaximum = 4
		pk.Properties.User = []packets.UserProperty{{Key: "k", Val: "v"}}
	}
	return pk
}

// labFuzzEncodePacket encodes pk with mochi's codec as protocol version v (3: MQTT 3.1, "MQIsdp").
func labFuzzEncodePacket(v byte, pk packets.Packet) ([]byte, error) {
	pk.ProtocolVersion = v
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		pk.Connect.ProtocolName = []byte("MQTT")
		if v == 3 {
			pk.Connect.ProtocolName = []byte("MQIsdp")
		}
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		pk.FixedHeader.Qos = 1 // flags 0010 [MQTT-3.6.1-1]
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Subscribe:
		pk.FixedHeader.Qos = 1 // [MQTT-3.8.1-1]
		err = pk.SubscribeEncode(&buf)
	case packets.Unsubscribe:
		pk.FixedHeader.Qos = 1 // [MQTT-3.10.1-1]
		err = pk.UnsubscribeEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Auth:
		err = pk.AuthEncode(&buf)
	default:
		err = errors.New("no encoder for " + packets.PacketNames[pk.FixedHeader.Type])
	}
	return buf.Bytes(), err
}

func labFuzzEncode(t testing.TB, v byte, pks ...packets.Packet) []byte {
	t.Helper()
	var out []byte
	for _, pk := range pks {
		b, err := labFuzzEncodePacket(v, pk)
		if err != nil {
			t.Fatalf("encode %s v%d: %v", packets.PacketNames[pk.FixedHeader.Type], v, err)
		}
		out = append(out, b...)
	}
	return out
}

// labFuzzLog records what the lab logs at level Error, and idlock's warning that a wait for a client id
// gave up: neither happens while the lab works. mochi's own warnings about malformed packets are not
// recorded.
type labFuzzLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *labFuzzLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *labFuzzLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *labFuzzLog) WithGroup(string) slog.Handler            { return l }

func (l *labFuzzLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && !strings.Contains(r.Message, "gave up") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *labFuzzLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.msgs
	l.msgs = nil
	return m
}

type labFuzzSeed struct {
	name string
	mode byte
	data []byte
}

// labFuzzSeeds is the seed corpus: CONNECTs of the three protocol versions, valid sessions after a
// CONNECT, and malformed packets (lengths, flags, properties), with the truncated MQTT 5 SUBSCRIBE that
// crashed mochi before the listener's guard withheld it.
func labFuzzSeeds(t testing.TB) []labFuzzSeed {
	pub := func(topic string, qos byte, retain bool, pid uint16, payload string) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain}, PacketID: pid, TopicName: topic, Payload: []byte(payload)}
	}
	sub := func(pid uint16, qos byte, filters ...string) packets.Packet {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: pid}
		for _, f := range filters {
			pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: qos})
		}
		return pk
	}
	unsub := func(pid uint16, filters ...string) packets.Packet {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe}, PacketID: pid}
		for _, f := range filters {
			pk.Filters = append(pk.Filters, packets.Subscription{Filter: f})
		}
		return pk
	}
	pubrel := func(pid uint16) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel}, PacketID: pid}
	}
	ping := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}
	disc := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}

	// CONNECT variants
	v3 := labFuzzConnect("fuzz-raw3", true, 0)
	v3will := labFuzzConnect("fuzz-will3", true, 0)
	v3will.Connect.WillFlag, v3will.Connect.WillTopic, v3will.Connect.WillPayload, v3will.Connect.WillQos = true, "fuzz/will", []byte("gone"), 1
	v4alice := labFuzzConnect("fuzz-alice", false, 0)
	v4alice.Connect.UsernameFlag, v4alice.Connect.Username = true, []byte("alice")
	v4alice.Connect.PasswordFlag, v4alice.Connect.Password = true, []byte("secret")
	v4alice.Connect.WillFlag, v4alice.Connect.WillTopic, v4alice.Connect.WillRetain = true, "users/alice/w/x", true // empty will payload
	v4deniedWill := labFuzzConnect("fuzz-denied-will", true, 0)
	v4deniedWill.Connect.WillFlag, v4deniedWill.Connect.WillTopic, v4deniedWill.Connect.WillPayload = true, "fuzz/denied/w", []byte("x")
	v5 := labFuzzConnect("fuzz-raw5", false, 3600)
	v5.Properties.RequestProblemInfo, v5.Properties.RequestProblemInfoFlag = 0, true
	v5.Properties.RequestResponseInfo = 1
	v5.Properties.MaximumPacketSize = 64
	v5will := labFuzzConnect("fuzz-will5", true, 0)
	v5will.Connect.WillFlag, v5will.Connect.WillTopic, v5will.Connect.WillPayload, v5will.Connect.WillQos, v5will.Connect.WillRetain = true, "fuzz/will5", []byte("gone"), 1, true
	v5will.Connect.WillProperties.WillDelayInterval = 1
	v5will.Connect.WillProperties.MessageExpiryInterval = 5
	v5will.Connect.WillProperties.User = []packets.UserProperty{{Key: "a", Val: "b"}}
	v5empty := labFuzzConnect("", true, 0) // the server assigns an id
	v4emptyPersistent := labFuzzConnect("", false, 0)

	// MQTT 5 packets with properties
	alias := pub("fuzz/alias", 1, false, 3, "a")
	alias.Properties.TopicAlias, alias.Properties.TopicAliasFlag = 1, true
	aliasOnly := pub("", 1, false, 4, "b")
	aliasOnly.Properties.TopicAlias, aliasOnly.Properties.TopicAliasFlag = 1, true
	aliasTooBig := pub("fuzz/alias", 1, false, 5, "c")
	aliasTooBig.Properties.TopicAlias, aliasTooBig.Properties.TopicAliasFlag = 11, true
	expiring := pub("fuzz/exp", 1, true, 6, "e")
	expiring.Properties.MessageExpiryInterval = 1
	expiring.Properties.User = []packets.UserProperty{{Key: "k", Val: "v"}}
	expiring.Properties.ResponseTopic, expiring.Properties.CorrelationData = "fuzz/reply", []byte{1, 2}
	expiring.Properties.ContentType, expiring.Properties.PayloadFormat, expiring.Properties.PayloadFormatFlag = "text/plain", 1, true
	subOpts := sub(7, 2, "fuzz/opts/#")
	subOpts.Filters[0].NoLocal, subOpts.Filters[0].RetainAsPublished, subOpts.Filters[0].RetainHandling = true, true, 1
	subOpts.Properties.SubscriptionIdentifier = []int{7}
	subShared := sub(8, 1, "$share/g/fuzz/t", "$share/g/#", "$share//x")
	subShared.Filters[0].NoLocal = true // a protocol error on a shared subscription [MQTT-3.8.3-4]
	auth := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Auth}, ReasonCode: 0x18}
	auth.Properties.AuthenticationMethod = "SCRAM-SHA-1"
	auth.Properties.AuthenticationData = []byte{1, 2, 3}
	discWill := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: 0x04}
	discExpiry := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}
	discExpiry.Properties.SessionExpiryInterval, discExpiry.Properties.SessionExpiryIntervalFlag = 0, true
	pubrel5 := pubrel(1)
	pubrel5.ReasonCode = 0x92 // packet identifier not found

	connectV5 := labFuzzEncode(t, 5, labFuzzConnect("fuzz-crash5", true, 0))
	truncatedSubscribe := []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00} // a filter without its options byte

	return []labFuzzSeed{
		// CONNECTs alone, each version
		{"v3.1 connect", 0, labFuzzEncode(t, 3, v3)},
		{"v3.1 connect with will", 0, labFuzzEncode(t, 3, v3will, pub("fuzz/t", 0, false, 0, "x"))},
		{"v3.1.1 connect user alice, empty retained will", 0, labFuzzEncode(t, 4, v4alice, pub("users/alice/a/x", 1, true, 1, "r"))},
		{"v3.1.1 connect denied will", 0, labFuzzEncode(t, 4, v4deniedWill)},
		{"v3.1.1 empty id, persistent", 0, labFuzzEncode(t, 4, v4emptyPersistent)},
		{"v3.1 empty id", 0, labFuzzEncode(t, 3, labFuzzConnect("", true, 0))},
		{"v5 connect persistent, properties", 0, labFuzzEncode(t, 5, v5, pub("fuzz/big", 0, false, 0, strings.Repeat("p", 80)))},
		{"v5 connect delayed retained will", 0, labFuzzEncode(t, 5, v5will)},
		{"v5 connect assigned id", 0, labFuzzEncode(t, 5, v5empty, sub(1, 1, "lab/#"), pub("fuzz/x", 1, false, 2, "x"))},
		// the crasher the listener guards against, after a v5 CONNECT written here and after mode 3's
		{"v5 truncated subscribe", 0, append(append([]byte{}, connectV5...), truncatedSubscribe...)},
		{"v5 truncated subscribe after mode connect", 3, truncatedSubscribe},
		{"v5 truncated subscribe, second filter", 3, []byte{0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x01, 0x00, 0x01, 'b'}},
		// sessions
		{"v3.1 session", 1, labFuzzEncode(t, 3, sub(1, 1, "fuzz/t", "fuzz/+/x", "#"), pub("fuzz/t", 1, false, 2, "hello"), pub("fuzz/t", 0, true, 0, "kept"),
			pub("fuzz/q2", 2, false, 3, "q2"), pubrel(3), unsub(9, "fuzz/t"), ping, disc)},
		{"v3.1.1 session", 2, labFuzzEncode(t, 4, sub(1, 2, "fuzz/t", "fuzz/+/x", "ro/#", "wo/#", "lab/fuzz-v4/#"), pub("fuzz/t", 1, false, 2, "hello"),
			pub("fuzz/t", 0, true, 0, "kept"), pub("lab/fuzz-v4/y", 2, true, 3, "mine"), pubrel(3), pub("ro/x", 1, false, 4, "denied"),
			pub("fuzz/denied/x", 2, false, 5, "denied"), pubrel(5), pub("wo/x", 1, false, 6, "w"), unsub(9, "fuzz/t", "#"), ping, disc)},
		{"v5 session", 3, labFuzzEncode(t, 5, sub(1, 1, "fuzz/t", "fuzz/alias", "fuzz/exp"), subOpts, subShared, pub("fuzz/t", 1, false, 2, "hello"),
			alias, aliasOnly, expiring, pub("fuzz/opts/a", 2, true, 9, "o"), pubrel(9), pub("fuzz/t", 0, true, 0, ""), unsub(10, "fuzz/t", "$share/g/#"), ping, discWill)},
		{"v5 denied and reserved", 3, labFuzzEncode(t, 5, pub("fuzz/denied/x", 1, false, 1, "d"), pub("fuzz/denied/y", 2, true, 2, "d"), pub("$SYS/x", 1, false, 3, "s"),
			pub("$share/g/x", 1, false, 4, "s"), pub("fuzz/+", 1, false, 5, "w"), sub(6, 1, "$SYS/#", "fuzz/denied/#", "ro/+"))},
		{"v5 topic aliases", 3, labFuzzEncode(t, 5, alias, aliasOnly, aliasTooBig)},
		{"v5 auth", 3, labFuzzEncode(t, 5, auth)},
		{"v5 empty auth", 3, []byte{0xF0, 0x00}},
		{"v5 pubrel unknown id, reason", 3, labFuzzEncode(t, 5, pubrel5)},
		{"v5 disconnect session expiry 0", 3, labFuzzEncode(t, 5, discExpiry)},
		{"v5 qos 2 twice", 3, labFuzzEncode(t, 5, pub("fuzz/q2", 2, false, 1, "a"), pub("fuzz/q2", 2, false, 1, "b"), pubrel(1), pubrel(1))},
		{"v3.1.1 second connect", 2, labFuzzEncode(t, 4, labFuzzConnect("fuzz-again", true, 0))},
		{"v3.1.1 subscribe qos 3", 2, []byte{0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x03}},
		// malformed: lengths, flags, properties
		{"remaining length 5 bytes", 2, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}},
		{"remaining length over the packet", 3, []byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x03, 'a', '/', 'b'}},
		{"remaining length short", 2, []byte{0x30, 0x02, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'}},
		{"topic length past the end", 1, []byte{0x30, 0x04, 0xFF, 0xFF, 'a', 'b'}},
		{"publish qos 3", 2, []byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}},
		{"subscribe no filters", 2, []byte{0x82, 0x02, 0x00, 0x01}},
		{"subscribe wrong flags", 2, []byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}},
		{"subscribe packet id 0", 3, []byte{0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 'a', 0x01}},
		{"v5 subscribe properties past the end", 3, []byte{0x82, 0x05, 0x00, 0x01, 0x7F, 0x0B, 0x01}},
		{"v5 subscribe identifier 0", 3, []byte{0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 'a', 0x01}},
		{"unsubscribe no filters", 2, []byte{0xA2, 0x02, 0x00, 0x01}},
		{"v5 unsubscribe truncated", 3, []byte{0xA2, 0x04, 0x00, 0x01, 0x00, 0x00}},
		{"pubrel wrong flags", 2, []byte{0x60, 0x02, 0x00, 0x01}},
		{"pubrel short", 3, []byte{0x62, 0x01, 0x00}},
		{"puback unknown id", 2, []byte{0x40, 0x02, 0x12, 0x34}},
		{"v5 auth bad reason", 3, []byte{0xF0, 0x01, 0x99}},
		{"v5 auth properties past the end", 3, []byte{0xF0, 0x03, 0x18, 0x05, 0x15}},
		{"v5 disconnect bad property", 3, []byte{0xE0, 0x04, 0x00, 0x02, 0x7F, 0x00}},
		{"disconnect with body on 3.1.1", 2, []byte{0xE0, 0x01, 0x00}},
		{"reserved packet type 0", 2, []byte{0x00, 0x00}},
		{"auth on 3.1", 1, []byte{0xF0, 0x00}},
		{"invalid utf-8 topic", 2, []byte{0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 'x'}},
		{"connect bad protocol name", 0, []byte{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00}},
		{"connect bad protocol level", 0, []byte{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3C, 0x00, 0x00}},
		{"connect reserved flag", 0, []byte{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x00}},
		{"v5 connect bad property", 0, []byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x03, 0x7F, 0x00, 0x01, 0x00, 0x00}},
		{"publish before connect", 0, labFuzzEncode(t, 4, pub("fuzz/t", 1, false, 1, "x"))},
		{"empty", 0, nil},
		{"http", 0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	}
}

// TestLabFuzzSeedsAreWhatTheyClaim keeps the seed corpus honest: the session seeds decode as mochi
// reads them, so the fuzzer starts from packets that reach past the parser.
func TestLabFuzzSeedsAreWhatTheyClaim(t *testing.T) {
	for _, s := range labFuzzSeeds(t) {
		if !strings.HasSuffix(s.name, " session") {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			ver := s.mode + 2 // modes 1, 2, 3 are MQTT 3.1, 3.1.1, 5
			r := bufio.NewReader(bytes.NewReader(s.data))
			var types []byte
			for {
				if _, err := r.Peek(1); err == io.EOF {
					break
				}
				pk, err := labFuzzRead(r, ver)
				if err != nil {
					t.Fatalf("after %v: %v", types, err)
				}
				types = append(types, pk.FixedHeader.Type)
			}
			if len(types) < 8 {
				t.Fatalf("decoded %v, want at least 8 packets", types)
			}
		})
	}
}
