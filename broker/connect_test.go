package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A peer that never completes the TLS handshake, or never sends CONNECT, is closed after
// HandshakeTimeout (mochi sets no deadline before CONNECT).
func TestSilentConnectionsAreClosed(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.HandshakeTimeout = 200 * time.Millisecond })
	t.Run("no TLS handshake", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", e.addr(), waitFor)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("read: %v, want the server to close", err)
		}
	})
	t.Run("TLS but no CONNECT", func(t *testing.T) {
		e.policy("c", allow("iot:Connect", "client/*"))
		c := e.dialTLS(e.device("silent", "c"))
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("read: %v, want the server to close", err)
		}
	})
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Checklist 10–12: client ID rules.
func TestClientIDRules(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"))
	d := e.device("ids", "c")
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"128 bytes", strings.Repeat("a", 128), true},
		{"129 bytes", strings.Repeat("b", 129), false},
		{"starts with $", "$aws-like", false},
		{"contains + (allowed)", "dev+1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ok {
				for _, v := range []byte{4, 5} {
					e.Clock.Advance(time.Second)
					if got, open := e.tryConnect(d, v, tt.id); !open {
						t.Fatalf("MQTT %d: %v, want CONNACK 0", v, describe(got))
					}
				}
				return
			}
			e.Clock.Advance(time.Second)
			refusedAsAWS(t, e, d, tt.id, packets.ErrClientIdentifierNotValid.Code) // 0x85
		})
	}
	t.Run("MQTT 5 empty client ID gets an assigned one", func(t *testing.T) {
		c, err := e.dial5(d, "", v5Opts{})
		if err != nil {
			t.Fatal(err)
		}
		id := c.ack.Properties.AssignedClientID
		if id == "" {
			t.Fatal("no Assigned Client Identifier in CONNACK")
		}
		c2, err := e.dial5(d, "", v5Opts{})
		if err != nil {
			t.Fatal(err)
		}
		if id2 := c2.ack.Properties.AssignedClientID; id2 == id || id2 == "" {
			t.Errorf("second assigned ID %q, want a new one (first %q)", id2, id)
		}
	})
}

// Checklist 13 and 42: a second connection with the same client ID takes over; the first gets
// DISCONNECT 0x8E (MQTT 5), its will is published, its lifecycle reason is DUPLICATE_CLIENTID and the
// log says DUPLICATE_CLIENT_ID.
func TestDuplicateClientIDTakesOver(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
	w := e.watcher("dup-w", "will/#", "$aws/events/presence/disconnected/dup")
	d := e.device("dup", "c")
	first, err := e.dial5(d, "dup", v5Opts{will: &paho.WillMessage{Topic: "will/dup", Payload: []byte("first gone"), QoS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Second)
	e.connect5(d, "dup")
	select {
	case dis := <-first.discon:
		if dis.ReasonCode != packets.ErrSessionTakenOver.Code {
			t.Errorf("DISCONNECT 0x%02x, want 0x8e", dis.ReasonCode)
		}
	case <-time.After(waitFor):
		t.Fatal("the first connection got no DISCONNECT")
	}
	if m := w.expect("will/dup"); string(m.Payload) != "first gone" {
		t.Errorf("will payload %q", m.Payload)
	}
	ev := w.expect("$aws/events/presence/disconnected/dup")
	doc := decodeJSON(t, ev.Payload)
	if doc["disconnectReason"] != "DUPLICATE_CLIENTID" || doc["clientInitiatedDisconnect"] != false {
		t.Errorf("lifecycle %v", doc)
	}
	e.events.wait(t, "disconnect", kindIs(EventDisconnect, "dup")) // logged before observers hear of it
	if l := findLog(e.readLog(), map[string]any{"eventType": "Disconnect", "clientId": "dup"}); l == nil ||
		l["reason"] != "DUPLICATE_CLIENT_ID" || l["details"] != "A new connection was established with the same client ID" || l["status"] != "Failure" {
		t.Errorf("Disconnect log %v", l)
	}
}

// Checklist 15: one CONNECT per second per client ID.
func TestConnectRatePerClientID(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"))
	d := e.device("rate", "c")
	if _, open := e.tryConnect(d, 5, "rate"); !open {
		t.Fatal("first CONNECT refused")
	}
	got, open := e.tryConnect(d, 5, "rate")
	if open || len(got) != 1 || got[0].ReasonCode != packets.ErrQuotaExceeded.Code {
		t.Errorf("second CONNECT within a second: %v, want CONNACK 0x97", describe(got))
	}
	got, open = e.tryConnect(d, 4, "rate")
	if open || len(got) != 0 {
		t.Errorf("MQTT 3.1.1 within a second: %v, want closed without CONNACK", describe(got))
	}
	if _, open := e.tryConnect(d, 5, "other-id"); !open {
		t.Error("another client ID was throttled")
	}
	e.Clock.Advance(time.Second)
	if _, open := e.tryConnect(d, 5, "rate"); !open {
		t.Error("CONNECT a second later refused")
	}
	t.Run("NoQuotas", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Limits = NoQuotas() })
		e.policy("c", allow("iot:Connect", "client/*"))
		d := e.device("rate", "c")
		for i := 0; i < 3; i++ {
			if _, open := e.tryConnect(d, 5, "rate"); !open {
				t.Fatalf("CONNECT %d refused with quotas off", i)
			}
		}
	})
}

// Checklist 16: keep-alive bounds (0 or > 1200 → 1200, below the floor → the floor) and the
// disconnect after 1.5 × keep-alive, with DISCONNECT 0x8D, MQTT_KEEP_ALIVE_TIMEOUT and the will.
func TestKeepAlive(t *testing.T) {
	for _, tt := range []struct {
		requested, floor, want uint16
	}{
		{0, 30, 1200}, {1, 30, 30}, {29, 30, 30}, {30, 30, 30}, {600, 30, 600},
		{1200, 30, 1200}, {1201, 30, 1200}, {65535, 30, 1200}, {1, 1, 1}, {2, 1, 2},
	} {
		if got := effectiveKeepAlive(tt.requested, tt.floor); got != tt.want {
			t.Errorf("effectiveKeepAlive(%d, floor %d) = %d, want %d", tt.requested, tt.floor, got, tt.want)
		}
	}
	if got := (Quirks{}).keepAliveFloor(); got != 30 {
		t.Errorf("default floor %d, want AWS's 30", got)
	}

	e := newEnv(t) // KeepAliveFloor: 1 s
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
	w := e.watcher("ka-w", "will/#", "$aws/events/presence/disconnected/#")
	d := e.device("ka", "c")
	t.Run("CONNACK Server Keep Alive", func(t *testing.T) {
		c, err := e.dial5(d, "ka-big", v5Opts{keepAlive: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if ska := c.ack.Properties.ServerKeepAlive; ska == nil || *ska != 1200 {
			t.Errorf("Server Keep Alive %v, want 1200", ska)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		rc := e.raw(d, 5)
		rc.send(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Connect},
			Connect: packets.ConnectParams{ClientIdentifier: "ka-silent", Keepalive: 1, Clean: true,
				WillFlag: true, WillTopic: "will/ka", WillPayload: []byte("timed out"), WillQos: 1},
		})
		if pk, err := rc.read(); err != nil || pk.ReasonCode != 0 {
			t.Fatalf("CONNACK: %v %v", pk.ReasonCode, err)
		}
		got := rc.expectClosed() // nothing sent: 1.5 × 1 s later the broker gives up
		if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != packets.ErrKeepAliveTimeout.Code {
			t.Errorf("got %v, want DISCONNECT 0x8d", describe(got))
		}
		w.expect("will/ka")
		doc := decodeJSON(t, w.expect("$aws/events/presence/disconnected/ka-silent").Payload)
		if doc["disconnectReason"] != "MQTT_KEEP_ALIVE_TIMEOUT" {
			t.Errorf("lifecycle %v", doc)
		}
	})
}

// Checklist 17: a second CONNECT on an open connection is a CLIENT_ERROR; the will is published.
func TestSecondConnect(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
	w := e.watcher("sc-w", "will/#", "$aws/events/presence/disconnected/#")
	rc := e.raw(e.device("sc", "c"), 4)
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ClientIdentifier: "sc", Keepalive: 60, Clean: true,
			WillFlag: true, WillTopic: "will/sc", WillPayload: []byte("bye")}})
	if pk, err := rc.read(); err != nil || pk.FixedHeader.Type != packets.Connack {
		t.Fatal(err)
	}
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ClientIdentifier: "sc", Keepalive: 60, Clean: true}})
	rc.expectClosed()
	w.expect("will/sc")
	doc := decodeJSON(t, w.expect("$aws/events/presence/disconnected/sc").Payload)
	if doc["disconnectReason"] != "CLIENT_ERROR" {
		t.Errorf("lifecycle %v", doc)
	}
}

// Checklist 18: MQTT 5 CONNACK properties.
func TestConnackProperties(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"))
	c := e.connect5(e.device("props", "c"), "props")
	p := c.ack.Properties
	if p.MaximumQoS == nil || *p.MaximumQoS != 1 {
		t.Errorf("Maximum QoS %v, want 1", p.MaximumQoS)
	}
	if !p.RetainAvailable || !p.WildcardSubAvailable || p.SubIDAvailable || !p.SharedSubAvailable {
		t.Errorf("retain %v wildcard %v subID %v shared %v, want true true false true",
			p.RetainAvailable, p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable)
	}
	if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 8 {
		t.Errorf("Topic Alias Maximum %v, want 8", p.TopicAliasMaximum)
	}
	if p.ReceiveMaximum == nil || *p.ReceiveMaximum != 100 {
		t.Errorf("Receive Maximum %v, want 100", p.ReceiveMaximum)
	}
	if p.MaximumPacketSize == nil || *p.MaximumPacketSize != 146*1024 {
		t.Errorf("Maximum Packet Size %v, want %d", p.MaximumPacketSize, 146*1024)
	}
}

// Checklist 20, 22, 58: AUTH, QoS 2 and subscription identifiers close the connection.
func TestUnsupportedFeaturesClose(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	d := e.device("unsup", "all")
	tests := []struct {
		name    string
		version byte
		pk      packets.Packet
		want5   byte // DISCONNECT reason for MQTT 5; MQTT 3.1.1: closed, nothing sent
	}{
		{"3.1.1 PUBLISH QoS 2", 4, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: "q/2", PacketID: 7, Payload: []byte("x")}, 0},
		{"5 PUBLISH QoS 2", 5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: "q/2", PacketID: 7, Payload: []byte("x")}, 0x9b},
		{"3.1.1 SUBSCRIBE QoS 2", 4, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 3, Filters: packets.Subscriptions{{Filter: "q/#", Qos: 2}}}, 0},
		{"5 SUBSCRIBE QoS 2", 5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 3, Filters: packets.Subscriptions{{Filter: "q/#", Qos: 2}}}, 0x9b},
		{"5 AUTH", 5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Auth}, ReasonCode: 0x18}, 0x82},
		{"5 subscription identifier", 5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 4,
			Properties: packets.Properties{SubscriptionIdentifier: []int{5}}, Filters: packets.Subscriptions{{Filter: "q/#", Qos: 1, Identifier: 5}}}, 0xa1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := e.raw(d, tt.version)
			rc.connect("unsup-"+string(rune('a'+i)), 60)
			rc.send(tt.pk)
			got := rc.expectClosed()
			if tt.version == 4 {
				if len(got) != 0 {
					t.Errorf("got %v, want the socket closed, no PUBACK/PUBREC/SUBACK", describe(got))
				}
				return
			}
			if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != tt.want5 {
				t.Errorf("got %v, want DISCONNECT 0x%02x", describe(got), tt.want5)
			}
		})
	}
	t.Run("Quirks.DowngradeQoS2", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Quirks.DowngradeQoS2 = true })
		e.policy("all", allow("iot:*", "*"))
		rc := e.raw(e.device("q2", "all"), 4)
		rc.connect("q2", 60)
		rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 3, Filters: packets.Subscriptions{{Filter: "q/#", Qos: 2}}})
		if pk, err := rc.read(); err != nil || pk.FixedHeader.Type != packets.Suback || pk.ReasonCodes[0] != 1 {
			t.Fatalf("got %v %v, want SUBACK granting QoS 1", pk.ReasonCodes, err)
		}
		rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: "q/x", PacketID: 9, Payload: []byte("x")})
		// The client is its own subscriber: its copy and the PUBACK come in either order (AWS: "no
		// ordering guarantee for messages and ACKs").
		pk, err := rc.read()
		if err == nil && pk.FixedHeader.Type == packets.Publish {
			pk, err = rc.read()
		}
		if err != nil || pk.FixedHeader.Type != packets.Puback {
			t.Fatalf("got type %d %v, want PUBACK", pk.FixedHeader.Type, err)
		}
	})
}

// Checklist 42: a client's DISCONNECT is CLIENT_INITIATED_DISCONNECT without will; a dropped TCP
// connection is CONNECTION_LOST with the will.
func TestDisconnectReasonsAndWill(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
	w := e.watcher("dr-w", "will/#", "$aws/events/presence/disconnected/#", "marker")
	d := e.device("dr", "c")
	will := &paho.WillMessage{Topic: "will/dr", Payload: []byte("lost"), QoS: 1}

	c, err := e.dial5(d, "dr", v5Opts{will: will})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.c.Disconnect(&paho.Disconnect{})
	doc := decodeJSON(t, w.expect("$aws/events/presence/disconnected/dr").Payload)
	if doc["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" || doc["clientInitiatedDisconnect"] != true {
		t.Errorf("client DISCONNECT: %v", doc)
	}

	e.Clock.Advance(time.Second)
	c, err = e.dial5(d, "dr", v5Opts{will: will})
	if err != nil {
		t.Fatal(err)
	}
	c.conn.Close() // TCP goes away without DISCONNECT
	m := w.expect("will/dr")
	if string(m.Payload) != "lost" {
		t.Errorf("will %q", m.Payload)
	}
	doc = decodeJSON(t, w.expect("$aws/events/presence/disconnected/dr").Payload)
	if doc["disconnectReason"] != "CONNECTION_LOST" || doc["clientInitiatedDisconnect"] != false {
		t.Errorf("dropped connection: %v", doc)
	}
	e.events.wait(t, "second disconnect event", func(ev Event) bool {
		return ev.Kind == EventDisconnect && ev.ClientID == "dr" && ev.Reason == reasonConnectionLost
	})
}

// Checklist 44: a will on a topic the client may not publish to refuses the connection, with
// connect_failed.
func TestWillNotAuthorized(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
	w := e.watcher("wn-w", "$aws/events/presence/connect_failed/#")
	d := e.device("wn", "c")
	tests := []struct {
		name string
		will *paho.WillMessage
		want byte
	}{
		{"will topic not allowed", &paho.WillMessage{Topic: "other/wn", Payload: []byte("x"), QoS: 1}, 0x87},
		{"retained will without iot:RetainPublish", &paho.WillMessage{Topic: "will/wn", Payload: []byte("x"), QoS: 1, Retain: true}, 0x87},
		{"will QoS 2", &paho.WillMessage{Topic: "will/wn", Payload: []byte("x"), QoS: 2}, 0x9b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Clock.Advance(time.Second)
			c, err := e.dial5(d, "wn", v5Opts{will: tt.will})
			if err == nil || c.ack == nil || c.ack.ReasonCode != tt.want {
				t.Fatalf("CONNACK %+v %v, want 0x%02x", c.ack, err, tt.want)
			}
			if tt.want == 0x87 {
				doc := decodeJSON(t, w.expect("$aws/events/presence/connect_failed/wn").Payload)
				if doc["connectFailureReason"] != "AUTHORIZATION_FAILED" {
					t.Errorf("connect_failed %v", doc)
				}
			}
		})
	}
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		e.Clock.Advance(time.Second)
		_, err := e.dial3(d, "wn3", v3Opts{will: &struct {
			topic, payload string
			qos            byte
			retain         bool
		}{"other/wn3", "x", 1, false}})
		if err == nil {
			t.Fatal("connected with a will it may not publish")
		}
	})
}

// A client certificate from the TLS layer is the identity even when the client ID names someone
// else's thing: the policy variables follow the certificate.
func TestIdentityComesFromTLS(t *testing.T) {
	e := newEnv(t)
	e.policy("thing", allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}"))
	mine := e.device("mine", "thing")
	theirs := e.device("theirs", "thing")
	e.Dir.addThing("my-thing", nil, mine.ID)
	if _, open := e.tryConnect(mine, 5, "my-thing"); !open {
		t.Fatal("the owner was refused")
	}
	e.Clock.Advance(time.Second)
	if got, open := e.tryConnect(theirs, 5, "my-thing"); open {
		t.Fatalf("another certificate connected as my-thing: %v", describe(got))
	}
}

// iot:ConnectAttributes: "PersistentConnect" for clean session false (MQTT 3.1.1) or a Session Expiry
// Interval (MQTT 5), "LastWill" with a will. Checklist 49. AWS: connect-policy
func TestConnectAttributes(t *testing.T) {
	e := newEnv(t)
	cond := func(op, value string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":["` +
			arn("client/*") + `","` + arn("topic/will/*") + `"],"Condition":{"` + op + `":{"iot:ConnectAttributes":["` + value + `"]}}}]}`
	}
	e.Dir.setPolicy(t, "no-persistent", cond("ForAllValues:StringNotEquals", "PersistentConnect"))
	e.Dir.setPolicy(t, "will-required", cond("ForAnyValue:StringEquals", "LastWill"))
	noPersist := e.device("np", "no-persistent")
	willReq := e.device("wr", "will-required")
	will := &paho.WillMessage{Topic: "will/x", Payload: []byte("x"), QoS: 1}
	tests := []struct {
		name string
		dev  device
		opts v5Opts
		ok   bool
	}{
		{"clean session, persistence forbidden", noPersist, v5Opts{}, true},
		{"persistent session, persistence forbidden", noPersist, v5Opts{sei: 60}, false},
		{"no will, will required", willReq, v5Opts{}, false},
		{"will, will required", willReq, v5Opts{will: will}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Clock.Advance(time.Second)
			c, err := e.dial5(tt.dev, fmt.Sprintf("ca-%d", i), tt.opts)
			if ok := err == nil; ok != tt.ok {
				t.Fatalf("connect: %v (CONNACK %+v), want ok=%v", err, c.ack, tt.ok)
			}
		})
	}
	t.Run("MQTT 3.1.1 clean session false", func(t *testing.T) {
		clean := false
		if _, err := e.dial3(noPersist, "ca-v3", v3Opts{clean: &clean}); err == nil {
			t.Error("persistent MQTT 3.1.1 session allowed by a policy that forbids it")
		}
	})
}
