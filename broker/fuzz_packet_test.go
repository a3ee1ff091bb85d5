package broker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
)

// FuzzPacketPath sends arbitrary bytes to a real broker over an accepted mTLS connection (a registered,
// ACTIVE certificate allowed iot:*), as a device would, and then checks that the broker still serves a
// sentinel client: a fresh connection connects, subscribes, publishes QoS 1 and receives its message.
// A panic anywhere in the broker (mochi's parser, the hooks, the packet guard, the router, the committer)
// ends the fuzz process and is reported as a crasher.
//
// One broker serves every input of a fuzz process. mode selects what precedes the fuzzed bytes, so
// that the fuzzer reaches the packets after CONNECT without having to find a valid one first: 0 none,
// 1 a valid MQTT 3.1.1 CONNECT, 2 a valid MQTT 5 CONNECT (persistent session, properties).
//
//	go test -run '^$' -fuzz FuzzPacketPath -fuzztime 60s ./broker/
func FuzzPacketPath(f *testing.F) {
	for _, s := range packetSeeds(f) {
		f.Add(s.mode, s.data)
	}
	st := newMemStore() // the persistence path runs too: sessions, queued QoS 1, retained
	e := newEnv(f, func(o *Options) {
		o.Store = st
		o.Limits.ConnectsPerSecond = -1 // the sentinel and the fuzzed CONNECTs come faster than 1/s
		o.HandshakeTimeout = time.Second
	})
	e.stopRecording() // the recorder would keep every event of a long run
	e.Dir.setLogging(awslog.Config{})
	e.policy("all", allow("iot:*", "*"))
	dev := e.device("fuzz-device", "all")
	cfg := e.clientTLS(dev)
	var n atomic.Uint64
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		i := n.Add(1)
		var in bytes.Buffer
		switch mode % 3 {
		case 1:
			in.Write(encodePacket(t, 4, connectPacket("fuzz-v4", true, 0)))
		case 2:
			in.Write(encodePacket(t, 5, connectPacket("fuzz-v5", false, 60)))
		}
		in.Write(data)
		fuzzExchange(t, e.addr(), cfg, in.Bytes())
		if err := sentinel(e.addr(), cfg, fmt.Sprintf("fuzz-sentinel-%d", i%64)); err != nil {
			t.Fatalf("the broker stopped serving after the input (mode %d, %d bytes %q): %v", mode, len(data), data, err)
		}
	})
}

// fuzzExchange writes in on a fresh connection and reads what the broker answers until it closes the
// connection or stays silent for a little while (the whole exchange is bounded to 150 ms).
func fuzzExchange(t *testing.T, addr string, cfg *tls.Config, in []byte) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	end := time.Now().Add(150 * time.Millisecond)
	_ = c.SetWriteDeadline(end)
	_, _ = c.Write(in) // the broker may close before it has read everything
	buf := make([]byte, 4096)
	for time.Now().Before(end) {
		next := time.Now().Add(20 * time.Millisecond)
		if next.After(end) {
			next = end
		}
		_ = c.SetReadDeadline(next)
		if _, err := c.Read(buf); err != nil {
			return // closed, or silent for 20 ms
		}
	}
}

// sentinel connects a clean MQTT 3.1.1 client, subscribes to its own topic, publishes QoS 1 there and
// waits for the PUBACK and the message.
func sentinel(addr string, cfg *tls.Config, id string) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	topic := "fuzz/sentinel/" + id
	for _, pk := range []packets.Packet{
		connectPacket(id, true, 0),
		{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1, Filters: packets.Subscriptions{{Filter: topic, Qos: 1}}},
		{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 2, TopicName: topic, Payload: []byte("alive")},
	} {
		b, err := encode(4, pk)
		if err != nil {
			return err
		}
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("write %s: %w", packets.PacketNames[pk.FixedHeader.Type], err)
		}
		if pk.FixedHeader.Type == packets.Connect {
			// The SUBSCRIBE waits for the CONNACK: the broker reads nothing before it has answered.
			got, err := readPacket(c, 4)
			if err != nil || got.FixedHeader.Type != packets.Connack || got.ReasonCode != 0 {
				return fmt.Errorf("CONNACK: %v %+v", err, got.FixedHeader)
			}
		}
	}
	var suback, puback, message bool
	for !(suback && puback && message) {
		got, err := readPacket(c, 4)
		if err != nil {
			return fmt.Errorf("after SUBACK %v PUBACK %v message %v: %w", suback, puback, message, err)
		}
		switch got.FixedHeader.Type {
		case packets.Suback:
			suback = len(got.ReasonCodes) == 1 && got.ReasonCodes[0] == 1
		case packets.Puback:
			puback = got.PacketID == 2
		case packets.Publish:
			message = got.TopicName == topic && string(got.Payload) == "alive"
			if got.FixedHeader.Qos > 0 {
				ack, _ := encode(4, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: got.PacketID})
				_, _ = c.Write(ack)
			}
		}
	}
	b, _ := encode(4, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	_, _ = c.Write(b)
	return nil
}

// readPacket reads one packet and decodes the types the sentinel looks at.
func readPacket(r io.Reader, version byte) (packets.Packet, error) {
	var pk packets.Packet
	pk.ProtocolVersion = version
	var first [1]byte
	if _, err := io.ReadFull(r, first[:]); err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(first[0]); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(byteReader{r})
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	return pk, err
}

type byteReader struct{ io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.Reader, c[:])
	return c[0], err
}

// connectPacket is a CONNECT; sei > 0 (MQTT 5) makes the session persistent.
func connectPacket(id string, clean bool, sei uint32) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Keepalive: 30, Clean: clean},
	}
	if sei > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = sei, true
		pk.Properties.ReceiveMaximum = 10
		pk.Properties.TopicAliasMaximum = 4
	}
	return pk
}

// encode encodes pk with mochi's codec as protocol version v.
func encode(v byte, pk packets.Packet) ([]byte, error) {
	pk.ProtocolVersion = v
	if pk.FixedHeader.Type == packets.Connect {
		pk.Connect.ProtocolName = []byte("MQTT")
	}
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Subscribe:
		pk.FixedHeader.Qos = 1
		err = pk.SubscribeEncode(&buf)
	case packets.Unsubscribe:
		pk.FixedHeader.Qos = 1
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

func encodePacket(t testing.TB, v byte, pk packets.Packet) []byte {
	t.Helper()
	b, err := encode(v, pk)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type packetSeed struct {
	name string
	mode byte
	data []byte
}

// packetSeeds is the seed corpus: valid packets of both versions after a CONNECT, and the malformed
// ones the hostile tests send (lengths, flags, properties).
func packetSeeds(t testing.TB) []packetSeed {
	cat := func(v byte, pks ...packets.Packet) []byte {
		var b []byte
		for _, pk := range pks {
			b = append(b, encodePacket(t, v, pk)...)
		}
		return b
	}
	pub := func(topic string, qos byte, retain bool, pid uint16, payload string) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain}, PacketID: pid, TopicName: topic, Payload: []byte(payload)}
	}
	sub := func(pid uint16, filters ...string) packets.Packet {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: pid}
		for _, f := range filters {
			pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
		}
		return pk
	}
	unsub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe}, PacketID: 9, Filters: packets.Subscriptions{{Filter: "fuzz/#"}}}
	ping := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}
	disc := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}
	alias := pub("fuzz/alias", 1, false, 3, "a")
	alias.Properties.TopicAlias, alias.Properties.TopicAliasFlag = 1, true
	aliasOnly := pub("", 1, false, 4, "b")
	aliasOnly.Properties.TopicAlias, aliasOnly.Properties.TopicAliasFlag = 1, true
	expiring := pub("fuzz/exp", 1, true, 5, "e")
	expiring.Properties.MessageExpiryInterval = 1
	expiring.Properties.User = []packets.UserProperty{{Key: "k", Val: "v"}}
	subID := sub(6, "fuzz/id")
	subID.Properties.SubscriptionIdentifier = []int{7}
	auth := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Auth}, ReasonCode: 0x18}
	auth.Properties.AuthenticationMethod = "SCRAM-SHA-1"
	discWill := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: 0x04}
	will := connectPacket("fuzz-will", true, 0)
	will.Connect.WillFlag, will.Connect.WillTopic, will.Connect.WillPayload, will.Connect.WillQos = true, "fuzz/will", []byte("gone"), 1

	return []packetSeed{
		{"v4 connect only", 0, cat(4, connectPacket("fuzz-raw4", true, 0))},
		{"v5 connect persistent", 0, cat(5, connectPacket("fuzz-raw5", false, 3600))},
		{"v4 connect with will", 0, cat(4, will)},
		{"v4 session", 1, cat(4, sub(1, "fuzz/t", "fuzz/+/x"), pub("fuzz/t", 1, false, 2, "hello"), pub("fuzz/t", 0, true, 0, "kept"), unsub, ping, disc)},
		{"v5 session", 2, cat(5, sub(1, "fuzz/t", "$share/g/fuzz/t"), pub("fuzz/t", 1, false, 2, "hello"), alias, aliasOnly, expiring, ping, discWill)},
		{"v4 publish qos 2", 1, cat(4, pub("fuzz/q2", 2, false, 1, "x"))},
		{"v5 publish wildcard topic", 2, cat(5, pub("fuzz/+", 1, false, 1, "x"))},
		{"v5 publish $SYS", 2, cat(5, pub("$SYS/x", 1, false, 1, "x"))},
		{"v5 publish reserved retained", 2, cat(5, pub("$aws/things/x/shadow/update", 1, true, 1, "{}"))},
		{"v5 basic ingest", 2, cat(5, pub("$aws/rules/r/x", 1, false, 1, "{}"))},
		{"v5 subscription identifier", 2, cat(5, subID)},
		{"v5 auth", 2, cat(5, auth)},
		{"v5 empty auth", 2, []byte{0xF0, 0x00}},
		{"v4 subscribe qos 2", 1, []byte{0x82, 0x0A, 0x00, 0x01, 0x00, 0x05, 'f', 'u', 'z', 'z', '2', 0x02}},
		{"remaining length 5 bytes", 1, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}},
		{"remaining length over the packet", 2, []byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x03, 'a', '/', 'b'}},
		{"remaining length short", 1, []byte{0x30, 0x02, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'}},
		{"topic length past the end", 1, []byte{0x30, 0x04, 0xFF, 0xFF, 'a', 'b'}},
		{"reserved packet type 0", 1, []byte{0x00, 0x00}},
		{"reserved packet type 15 on 3.1.1", 1, []byte{0xF0, 0x00}},
		{"second connect", 1, cat(4, connectPacket("fuzz-again", true, 0))},
		{"connect bad protocol name", 0, []byte{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00}},
		{"connect reserved flag", 0, []byte{0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x00}},
		{"v5 connect bad property", 0, []byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x03, 0x7F, 0x00, 0x01, 0x00, 0x00}},
		{"invalid utf-8 topic", 1, []byte{0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 'x'}},
		{"puback unknown id", 1, []byte{0x40, 0x02, 0x12, 0x34}},
		{"pubrel", 2, []byte{0x62, 0x02, 0x00, 0x01}},
		{"empty", 0, nil},
		{"tls garbage", 0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	}
}

// TestFuzzSeedsAreWhatTheyClaim keeps the seed corpus honest: the valid seeds decode as mochi reads
// them, so the fuzzer starts from packets that reach past the parser.
func TestFuzzSeedsAreWhatTheyClaim(t *testing.T) {
	for _, s := range packetSeeds(t) {
		if s.name != "v4 session" && s.name != "v5 session" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			v := byte(4)
			if s.mode == 2 {
				v = 5
			}
			r := bytes.NewReader(s.data)
			var types []byte
			for r.Len() > 0 {
				pk, err := readPacket(r, v)
				if err != nil {
					t.Fatalf("after %v: %v", types, err)
				}
				types = append(types, pk.FixedHeader.Type)
			}
			if len(types) < 6 {
				t.Fatalf("decoded %v, want at least 6 packets", types)
			}
		})
	}
}
