package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Checklist 32 and 33: topic rules. MQTT 3.1.1 connections are closed; MQTT 5 gets DISCONNECT 0x90
// for a wildcard (a protocol error) and PUBACK 0x90 for a topic over AWS's limits.
func TestTopicLimits(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	d := e.device("topics", "all")
	long := strings.Repeat("t", 257)
	deep := "a/b/c/d/e/f/g/h/i" // 8 slashes
	tests := []struct {
		name  string
		topic string
		ok    bool
		// MQTT 5: wildcard → DISCONNECT 0x90; otherwise PUBACK 0x90
		disconnect5 bool
	}{
		{"+ in topic", "a/+/b", false, true},
		{"# in topic", "a/#", false, true},
		{"257 bytes", long, false, false},
		{"256 bytes", long[:256], true, false},
		{"8 slashes", deep, false, false},
		{"7 slashes", "a/b/c/d/e/f/g/h", true, false},
		{"Basic Ingest prefix not counted", "$aws/rules/r1/a/b/c/d/e/f/g/h", true, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []byte{4, 5} {
				rc := e.raw(d, v)
				rc.connect(fmt.Sprintf("topic-%d-%d", i, v), 60)
				rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: tt.topic, PacketID: 1, Payload: []byte("x")})
				switch {
				case tt.ok:
					if pk, err := rc.read(); err != nil || pk.FixedHeader.Type != packets.Puback || pk.ReasonCode != 0 {
						t.Errorf("MQTT %d: %v %v, want PUBACK 0", v, describe([]packets.Packet{pk}), err)
					}
				case v == 4:
					if got := rc.expectClosed(); len(got) != 0 {
						t.Errorf("MQTT 3.1.1: %v, want closed", describe(got))
					}
				case tt.disconnect5:
					got := rc.expectClosed()
					if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != 0x90 {
						t.Errorf("MQTT 5: %v, want DISCONNECT 0x90", describe(got))
					}
				default:
					if pk, err := rc.read(); err != nil || pk.FixedHeader.Type != packets.Puback || pk.ReasonCode != 0x90 {
						t.Errorf("MQTT 5: %v %v, want PUBACK 0x90", describe([]packets.Packet{pk}), err)
					}
				}
			}
		})
	}
	t.Run("filters", func(t *testing.T) {
		c5 := e.connect5(d, "filters5")
		c3 := e.connect3(d, "filters3")
		for _, tt := range []struct {
			filter string
			ok     bool
		}{
			{long[:256], true},
			{long, false},
			{"a/b/c/d/e/f/g/#", true},
			{"a/b/c/d/e/f/g/h/#", false},
			{"$share/g/a/b/c/d/e/f/g/#", true}, // the two slashes of $share/g/ do not count
			{"a/#/b", false},
		} {
			want5, want3 := byte(1), byte(1)
			if !tt.ok {
				want5, want3 = 0x8f, 0x80
			}
			if got := c5.subscribe(tt.filter).Reasons[0]; got != want5 {
				t.Errorf("MQTT 5 %q: SUBACK 0x%02x, want 0x%02x", tt.filter, got, want5)
			}
			if tt.filter == "a/#/b" {
				continue // paho.mqtt.golang refuses to send it
			}
			if got := c3.subscribe(tt.filter)[0]; got != want3 {
				t.Errorf("MQTT 3.1.1 %q: SUBACK 0x%02x, want 0x%02x", tt.filter, got, want3)
			}
		}
	})
}

// Checklist 34 and 35: 8 filters per SUBSCRIBE, 50 subscriptions per connection.
func TestSubscriptionQuotas(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	d := e.device("quotas", "all")
	c := e.connect5(d, "quota5")
	var nine []string
	for i := 0; i < 9; i++ {
		nine = append(nine, fmt.Sprintf("nine/%d", i))
	}
	sa := c.subscribe(nine...)
	for i, r := range sa.Reasons {
		want := byte(1)
		if i == 8 {
			want = 0x97
		}
		if r != want {
			t.Errorf("filter %d: 0x%02x, want 0x%02x", i, r, want)
		}
	}
	// 8 granted so far; 42 more reach 50.
	for i := 0; i < 42; i++ {
		if r := c.subscribe(fmt.Sprintf("more/%d", i)).Reasons[0]; r != 1 {
			t.Fatalf("subscription %d refused: 0x%02x", 9+i, r)
		}
	}
	if r := c.subscribe("more/51").Reasons[0]; r != 0x97 {
		t.Errorf("51st subscription: 0x%02x, want 0x97", r)
	}
	if r := c.subscribe("more/0").Reasons[0]; r != 1 {
		t.Errorf("re-subscribing an existing filter: 0x%02x, want granted", r)
	}
	c3 := e.connect3(d, "quota3")
	// paho.mqtt.golang sends the filters of a map in any order: one of the nine is the 9th.
	if got := c3.subscribe(nine...); strings.Count(string(got), "\x80") != 1 || strings.Count(string(got), "\x01") != 8 {
		t.Errorf("MQTT 3.1.1: %v, want 0x80 for the 9th filter, the others granted", got)
	}
	t.Run("NoQuotas", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Limits = NoQuotas() })
		e.policy("all", allow("iot:*", "*"))
		c := e.connect5(e.device("nq", "all"), "nq")
		for _, r := range c.subscribe(nine...).Reasons {
			if r != 1 {
				t.Errorf("filter refused with quotas off: 0x%02x", r)
			}
		}
	})
}

// Checklist 36: a payload over 128 KiB closes the connection (CLIENT_ERROR; MQTT 5 DISCONNECT 0x95).
func TestPayloadLimit(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	w := e.watcher("pl-w", "$aws/events/presence/disconnected/#")
	d := e.device("payload", "all")
	for _, v := range []byte{4, 5} {
		t.Run(fmt.Sprintf("MQTT %d", v), func(t *testing.T) {
			id := fmt.Sprintf("payload-%d", v)
			rc := e.raw(d, v)
			rc.connect(id, 60)
			rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "big", PacketID: 1, Payload: make([]byte, 128<<10)})
			if pk, err := rc.read(); err != nil || pk.FixedHeader.Type != packets.Puback {
				t.Fatalf("128 KiB: %v %v, want PUBACK", pk.FixedHeader.Type, err)
			}
			rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "big", PacketID: 2, Payload: make([]byte, 128<<10+1)})
			got := rc.expectClosed()
			if v == 5 && (len(got) != 1 || got[0].ReasonCode != 0x95) {
				t.Errorf("got %v, want DISCONNECT 0x95", describe(got))
			}
			if v == 4 && len(got) != 0 {
				t.Errorf("got %v, want closed", describe(got))
			}
			doc := decodeJSON(t, w.expect("$aws/events/presence/disconnected/"+id).Payload)
			if doc["disconnectReason"] != "CLIENT_ERROR" {
				t.Errorf("lifecycle %v", doc)
			}
		})
	}
}

// Checklist 37: publishes over the per-connection rate are discarded; MQTT 5 QoS 1 gets PUBACK 0x97.
func TestPublishRate(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.PublishesPerSecond = 3 })
	e.policy("all", allow("iot:*", "*"))
	d := e.device("rate", "all")
	t.Run("MQTT 5", func(t *testing.T) {
		c := e.connect5(d, "prate5")
		var codes []byte
		for i := 0; i < 5; i++ {
			r, _ := c.publish("rate/5", 1, false, "x")
			codes = append(codes, r.ReasonCode)
		}
		if string(codes) != string([]byte{0, 0, 0, 0x97, 0x97}) {
			t.Errorf("PUBACK codes %x, want 000000 9797", codes)
		}
		e.Clock.Advance(time.Second)
		if r, _ := c.publish("rate/5", 1, false, "x"); r.ReasonCode != 0 {
			t.Errorf("a second later: 0x%02x", r.ReasonCode)
		}
	})
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		e.Clock.Advance(time.Second)
		rc := e.raw(d, 4)
		rc.connect("prate3", 60)
		for i := 1; i <= 4; i++ {
			rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "rate/3", PacketID: uint16(i), Payload: []byte("x")})
		}
		rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
		var acks []uint16
		for {
			pk, err := rc.read()
			if err != nil {
				t.Fatal(err)
			}
			if pk.FixedHeader.Type == packets.Pingresp {
				break
			}
			acks = append(acks, pk.PacketID)
		}
		if fmt.Sprint(acks) != "[1 2 3]" {
			t.Errorf("PUBACKs for %v, want [1 2 3] (the 4th discarded, connection open)", acks)
		}
	})
}

// Checklist 39 and 40: reserved topics. Clients may not publish to $aws/events, to unknown '$' topics
// or with RETAIN to a reserved topic; Basic Ingest topics are acknowledged but reach no subscriber, and
// cannot be subscribed to.
func TestReservedTopics(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	d := e.device("reserved", "all")
	tests := []struct {
		name   string
		topic  string
		retain bool
		ok     bool
	}{
		{"lifecycle topic", "$aws/events/presence/connected/x", false, false},
		{"unknown $ topic", "$foo/bar", false, false},
		{"$SYS", "$SYS/broker/x", false, false},
		{"retained shadow update", "$aws/things/t1/shadow/update", true, false},
		{"shadow update", "$aws/things/t1/shadow/update", false, true},
		{"Basic Ingest", "$aws/rules/r1/data", false, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.connect5(d, fmt.Sprintf("res5-%d", i))
			r, _ := c.publish(tt.topic, 1, tt.retain, "x")
			if ok := r != nil && r.ReasonCode == 0; ok != tt.ok {
				t.Errorf("MQTT 5 PUBACK %+v, want ok=%v", r, tt.ok)
			}
			if !tt.ok {
				c3 := e.connect3(d, fmt.Sprintf("res3-%d", i))
				_ = c3.publish(tt.topic, 1, tt.retain, "x")
				c3.closed()
			}
		})
	}
	t.Run("Basic Ingest is not delivered and cannot be subscribed to", func(t *testing.T) {
		s := e.connect5(d, "ingest-sub")
		sa := s.subscribe("$aws/rules/r1/data", "$aws/rules/#", "marker")
		if sa.Reasons[0] != 0x87 || sa.Reasons[1] != 0x87 || sa.Reasons[2] != 1 {
			t.Errorf("SUBACK %x, want 87 87 01", sa.Reasons)
		}
		p := e.connect5(d, "ingest-pub")
		_, _ = p.publish("$aws/rules/r1/data", 1, false, "x")
		_, _ = p.publish("marker", 1, false, "m")
		s.expectNoneBefore("$aws/rules/r1/data", "marker")
		e.events.wait(t, "ingest publish", func(ev Event) bool {
			return ev.Kind == EventPublish && ev.Topic == "$aws/rules/r1/data"
		})
	})
}

// Quirks.ThrottleDeliveries counts deliveries against the per-connection publish rate, as AWS documents
// for "inbound and outbound" publishes; the default counts inbound PUBLISH only.
func TestThrottleDeliveries(t *testing.T) {
	for _, throttle := range []bool{false, true} {
		t.Run(fmt.Sprintf("ThrottleDeliveries=%v", throttle), func(t *testing.T) {
			e := newEnv(t, func(o *Options) {
				o.Limits.PublishesPerSecond = 3
				o.Quirks.ThrottleDeliveries = throttle
			})
			e.policy("all", allow("iot:*", "*"))
			s := e.connect5(e.device("td", "all"), "td")
			s.subscribe("td/#", "marker")
			for i := 0; i < 5; i++ {
				if err := e.Srv.Publish("td/x", []byte("x"), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			e.Clock.Advance(time.Second)
			if err := e.Srv.Publish("marker", []byte("m"), 1, false); err != nil {
				t.Fatal(err)
			}
			got := len(s.until("marker"))
			want := 5
			if throttle {
				want = 3
			}
			if got != want {
				t.Errorf("%d deliveries before the marker, want %d", got, want)
			}
		})
	}
}
