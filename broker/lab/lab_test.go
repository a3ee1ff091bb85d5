package lab

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestQoSFlowsMQTT5(t *testing.T) {
	s := startServer(t, Options{})
	sub, _ := dialV5(t, s, nil)
	pub, _ := dialV5(t, s, nil)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("flow/v5/%d", qos)
			if got := sub.sub(t, qos, topic).Reasons[0]; got != qos {
				t.Fatalf("SUBACK granted %d, want %d", got, qos)
			}
			if rc := pub.pub(t, topic, qos, false, "hello"); rc != 0 {
				t.Fatalf("publish reason code 0x%02x, want 0", rc)
			}
			m := sub.in.next(t)
			if m.Topic != topic || m.Payload != "hello" || m.QoS != qos || m.Retain {
				t.Errorf("got %v, want %s \"hello\" q%d r=false", m, topic, qos)
			}
			if m.Expiry != nil {
				t.Errorf("message expiry %d on a message published without one [MQTT-3.3.2-6]", *m.Expiry)
			}
		})
	}
}

func TestQoSFlowsMQTT311(t *testing.T) {
	s := startServer(t, Options{})
	sub := dialV3(t, s, "sub311", nil)
	pub := dialV3(t, s, "pub311", nil)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("flow/v311/%d", qos)
			if got := sub.sub(t, qos, topic)[0]; got != qos {
				t.Fatalf("SUBACK granted %d, want %d", got, qos)
			}
			pub.pub(t, topic, qos, false, "hello")
			if m := sub.in.next(t); m.Topic != topic || m.Payload != "hello" || m.QoS != qos {
				t.Errorf("got %v, want %s \"hello\" q%d", m, topic, qos)
			}
		})
	}
}

// An MQTT 3 publisher's message must not pick up an expiry on its way to an MQTT 5 subscriber (mochi's default
// maximum expiry would add one day), and a QoS 2 publish from MQTT 3 reaches MQTT 5 at QoS 2.
func TestMQTT311ToMQTT5(t *testing.T) {
	s := startServer(t, Options{})
	sub, _ := dialV5(t, s, nil)
	sub.sub(t, 2, "mixed/#")
	pub := dialV3(t, s, "mixed-pub", nil)
	pub.pub(t, "mixed/a", 2, false, "x")
	m := sub.in.next(t)
	if m.QoS != 2 || m.Expiry != nil {
		t.Errorf("got %v expiry %v, want q2 and no expiry", m, m.Expiry)
	}
}

func TestRetained(t *testing.T) {
	s := startServer(t, Options{})
	pub, _ := dialV5(t, s, nil)
	pub.pub(t, "retained-marker", 1, true, "marker")
	live, _ := dialV5(t, s, nil) // sees every publication on ret/t as it happens
	live.sub(t, 1, "ret/t")

	// Subscribing to [topic, retained-marker] in one SUBSCRIBE: the broker sends the retained messages filter by
	// filter, so once the marker arrives any retained message on topic has arrived too. (mochi acknowledges a
	// PUBLISH before passing it on, so a live copy of the last publication may also arrive: not retained.)
	retainedFor := func(t *testing.T, filter string) []msg {
		t.Helper()
		c, _ := dialV5(t, s, nil)
		c.sub(t, 1, filter, "retained-marker")
		var got []msg
		for _, m := range c.in.until(t, "retained-marker") {
			if m.Retain {
				got = append(got, m)
			}
		}
		c.disconnect()
		return got
	}

	pub.pub(t, "ret/t", 1, true, "first")
	if got := retainedFor(t, "ret/t"); len(got) != 1 || got[0].Payload != "first" || !got[0].Retain {
		t.Fatalf("after set: got %v, want one retained \"first\"", got)
	}
	pub.pub(t, "ret/t", 1, true, "second")
	if got := retainedFor(t, "ret/t"); len(got) != 1 || got[0].Payload != "second" {
		t.Fatalf("after replace: got %v, want one retained \"second\"", got)
	}
	// Wildcard subscribers get retained messages too.
	if got := retainedFor(t, "ret/+"); len(got) != 1 || got[0].Payload != "second" {
		t.Fatalf("wildcard: got %v, want one retained \"second\"", got)
	}
	// An empty retained payload clears the retained message (MQTT 5 [MQTT-3.3.1-6]) and is delivered as usual,
	// without the retain flag to a subscription made without Retain As Published (MQTT 5 [MQTT-3.3.1-12]).
	// (live subscribed just before "first" and may also get it as a retained message.)
	pub.pub(t, "ret/t", 1, true, "")
	var got []string
	for len(got) < 3 {
		if m := live.in.next(t); !m.Retain {
			got = append(got, m.Payload)
		}
	}
	if fmt.Sprint(got) != "[first second ]" {
		t.Errorf("live deliveries %q, want first, second, and the empty clear", got)
	}
	if got := retainedFor(t, "ret/t"); len(got) != 0 {
		t.Fatalf("after clear: got %v, want none", got)
	}

	// MQTT 3.1.1 clients see the retain flag on retained messages too.
	c := dialV3(t, s, "ret311", nil)
	pub.pub(t, "ret/v3", 1, true, "v3")
	c.sub(t, 1, "ret/v3", "retained-marker")
	if got := c.in.until(t, "retained-marker"); !slices.ContainsFunc(got, func(m msg) bool { return m.Payload == "v3" && m.Retain }) {
		t.Errorf("MQTT 3.1.1: got %v, want retained \"v3\"", got)
	}
}

func TestWillOnAbruptClose(t *testing.T) {
	s := startServer(t, Options{})
	watch, _ := dialV5(t, s, nil)
	watch.sub(t, 1, "will/#")

	t.Run("mqtt5", func(t *testing.T) {
		c, _ := dialV5(t, s, &paho.Connect{ClientID: "dies5", CleanStart: true,
			WillMessage: &paho.WillMessage{Topic: "will/dies5", Payload: []byte("gone"), QoS: 1}})
		_ = c.conn.Close() // no DISCONNECT
		if m := watch.in.next(t); m.Topic != "will/dies5" || m.Payload != "gone" {
			t.Errorf("got %v, want the will", m)
		}
	})
	t.Run("mqtt311", func(t *testing.T) {
		var conn net.Conn
		c := dialV3(t, s, "dies311", func(o *mqtt3.ClientOptions) {
			o.SetWill("will/dies311", "gone311", 1, false)
			o.SetCustomOpenConnectionFn(func(uri *url.URL, _ mqtt3.ClientOptions) (net.Conn, error) {
				var err error
				conn, err = net.Dial("tcp", uri.Host)
				return conn, err
			})
		})
		_ = c
		_ = conn.Close()
		if m := watch.in.next(t); m.Topic != "will/dies311" || m.Payload != "gone311" {
			t.Errorf("got %v, want the will", m)
		}
	})
	t.Run("empty payload clears retained", func(t *testing.T) {
		// A will payload may be empty; mochi alone refuses such a CONNECT.
		pub, _ := dialV5(t, s, nil)
		pub.pub(t, "will/status", 1, true, "online")
		watch.in.next(t)
		c, _ := dialV5(t, s, &paho.Connect{ClientID: "emptywill", CleanStart: true,
			WillMessage: &paho.WillMessage{Topic: "will/status", Payload: []byte{}, QoS: 1, Retain: true}})
		_ = c.conn.Close()
		if m := watch.in.next(t); m.Topic != "will/status" || m.Payload != "" {
			t.Errorf("got %v, want the empty will", m)
		}
		waitFor(t, "retained will/status to be cleared", func() bool {
			_, ok := s.mochi.Topics.Retained.Get("will/status")
			return !ok
		})
	})
}

func TestPersistentSessionMQTT311(t *testing.T) {
	s := startServer(t, Options{})
	persistent := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }
	c := dialV3(t, s, "keeper", persistent)
	c.sub(t, 1, "queue/#")
	c.Disconnect(250)
	clientGone(t, s, "keeper")

	pub := dialV3(t, s, "feeder", nil)
	pub.pub(t, "queue/b", 0, false, "qos0 is not queued")
	pub.pub(t, "queue/a", 1, false, "while away")
	queued(t, s, "keeper", 1) // also means queue/b, published before, has been handled

	c = dialV3(t, s, "keeper", persistent)
	if m := c.in.next(t); m.Topic != "queue/a" || m.Payload != "while away" || m.QoS != 1 {
		t.Fatalf("got %v, want the queued QoS 1 message", m)
	}
	// The subscription survived too: a live message arrives without subscribing again.
	pub.pub(t, "queue/c", 1, false, "live")
	if m := c.in.next(t); m.Topic != "queue/c" {
		t.Fatalf("got %v, want queue/c", m)
	}
}

func TestPersistentSessionMQTT5(t *testing.T) {
	s := startServer(t, Options{})
	cp := func() *paho.Connect {
		return &paho.Connect{ClientID: "keeper5", CleanStart: false,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}
	}
	c, ack := dialV5(t, s, cp())
	if ack.SessionPresent {
		t.Fatal("first connection: session present")
	}
	c.sub(t, 1, "queue5/#")
	c.disconnect()
	clientGone(t, s, "keeper5")

	pub, _ := dialV5(t, s, nil)
	pub.pub(t, "queue5/a", 1, false, "while away")
	queued(t, s, "keeper5", 1)

	c, ack = dialV5(t, s, cp())
	if !ack.SessionPresent {
		t.Error("reconnection: session not present [MQTT-3.2.2-3]")
	}
	if m := c.in.next(t); m.Topic != "queue5/a" || m.Payload != "while away" {
		t.Fatalf("got %v, want the queued message", m)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.db")
	s1, err := New(Options{Addr: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s1.Close() })

	persistent := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }
	c := dialV3(t, s1, "survivor", persistent)
	c.sub(t, 1, "store/#")
	c5, _ := dialV5(t, s1, &paho.Connect{ClientID: "survivor5", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(600)}})
	c5.sub(t, 2, "store/#")
	c.Disconnect(250)
	c5.disconnect()
	clientGone(t, s1, "survivor")
	clientGone(t, s1, "survivor5")

	pub := dialV3(t, s1, "pub", nil)
	for i := range 3 {
		pub.pub(t, "store/queued", 1, false, fmt.Sprint("q", i))
	}
	pub.pub(t, "store/retained", 1, true, "kept")
	queued(t, s1, "survivor", 4)
	queued(t, s1, "survivor5", 4)
	pub.Disconnect(250)
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := startServer(t, Options{DBPath: db})
	c = dialV3(t, s2, "survivor", persistent)
	c5, ack := dialV5(t, s2, &paho.Connect{ClientID: "survivor5", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(600)}})
	if !ack.SessionPresent {
		t.Error("MQTT 5 session not present after restart")
	}
	for _, in := range []inbox{c.in, c5.in} {
		var got []string
		for range 4 {
			got = append(got, in.next(t).Payload)
		}
		sort.Strings(got)
		if fmt.Sprint(got) != "[kept q0 q1 q2]" {
			t.Errorf("queued messages after restart: got %v, want [kept q0 q1 q2]", got)
		}
	}
	// Subscriptions survived: a new message arrives, and so does the retained one on a new subscription.
	pub2, _ := dialV5(t, s2, nil)
	pub2.pub(t, "store/live", 1, false, "live")
	if m := c.in.next(t); m.Topic != "store/live" {
		t.Errorf("MQTT 3.1.1 session: got %v, want store/live", m)
	}
	if m := c5.in.next(t); m.Topic != "store/live" {
		t.Errorf("MQTT 5 session: got %v, want store/live", m)
	}
	fresh, _ := dialV5(t, s2, nil)
	fresh.sub(t, 1, "store/retained")
	if m := fresh.in.next(t); m.Payload != "kept" || !m.Retain {
		t.Errorf("retained after restart: got %v, want retained \"kept\"", m)
	}
}

// Matching on the live broker, against the specification's examples (MQTT 3.1.1 §4.7, MQTT 5 §4.7).
func TestWildcardMatchingOnBroker(t *testing.T) {
	s := startServer(t, Options{})
	pub, _ := dialV5(t, s, nil)
	cases := []struct {
		filter, topic string
		match         bool
	}{
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true}, // '#' includes the parent level
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false}, // '+' is exactly one level
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true}, // an empty level is a level
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"#", "any/thing", true},
		{"#", "$lab/x", false},   // [MQTT-4.7.2-1]
		{"+/x", "$lab/x", false}, // [MQTT-4.7.2-1]
		{"$lab/#", "$lab/x", true},
		{"$lab/+", "$lab/x", true},
		{"Sport", "sport", false}, // case sensitive
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s~%s", tc.filter, tc.topic), func(t *testing.T) {
			c, _ := dialV5(t, s, nil)
			marker := fmt.Sprintf("$marker/%d", i) // matched by none of the filters
			c.sub(t, 0, tc.filter, marker)
			pub.pub(t, tc.topic, 0, false, "m")
			pub.pub(t, marker, 0, false, "")
			got := c.in.until(t, marker)
			if matched := len(got) > 0; matched != tc.match {
				t.Errorf("filter %q, topic %q: delivered=%v, want %v", tc.filter, tc.topic, matched, tc.match)
			}
			c.disconnect()
		})
	}
}

// Retained messages on '$' topics must not reach first-level wildcards either, nor shared subscriptions,
// which mochi matches without the '$' rule.
func TestDollarTopicsAndSharedWildcards(t *testing.T) {
	s := startServer(t, Options{})
	pub, _ := dialV5(t, s, nil)
	pub.pub(t, "$lab/retained", 1, true, "dollar")
	pub.pub(t, "plain/retained", 1, true, "plain")

	c, _ := dialV5(t, s, nil)
	c.sub(t, 1, "#")
	// '#' gets plain/retained and must not get $lab/retained. The second SUBSCRIBE is processed after the
	// first one's retained messages were queued, so the live marker comes after them.
	c.sub(t, 0, "$lab/marker")
	pub.pub(t, "$lab/marker", 0, false, "")
	for _, m := range c.in.until(t, "$lab/marker") {
		if m.Topic == "$lab/retained" {
			t.Errorf("'#' received %v [MQTT-4.7.2-1]", m)
		}
	}

	shared, _ := dialV5(t, s, nil)
	shared.sub(t, 0, "$share/g/#", "$lab/marker2")
	pub.pub(t, "$lab/live", 0, false, "x")
	pub.pub(t, "$lab/marker2", 0, false, "")
	for _, m := range shared.in.until(t, "$lab/marker2") {
		if m.Topic == "$lab/live" {
			t.Errorf("'$share/g/#' received %v [MQTT-4.7.2-1]", m)
		}
	}
}

func TestSharedSubscription(t *testing.T) {
	s := startServer(t, Options{})
	a, _ := dialV5(t, s, nil)
	b, _ := dialV5(t, s, nil)
	for _, c := range []*v5{a, b} {
		c.sub(t, 1, "$share/workers/jobs/+", "jobs-done")
	}
	pub, _ := dialV5(t, s, nil)
	const n = 40
	for i := range n {
		pub.pub(t, fmt.Sprintf("jobs/%d", i), 1, false, fmt.Sprint(i))
	}
	pub.pub(t, "jobs-done", 1, false, "")
	seen := map[string]int{}
	perMember := []int{}
	for _, c := range []*v5{a, b} {
		got := c.in.until(t, "jobs-done")
		perMember = append(perMember, len(got))
		for _, m := range got {
			seen[m.Payload]++
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages delivered, want %d", len(seen), n)
	}
	for p, k := range seen {
		if k != 1 {
			t.Errorf("message %s delivered %d times, want once", p, k)
		}
	}
	t.Logf("messages per member: %v", perMember)
}

func TestTopicAliases(t *testing.T) {
	s := startServer(t, Options{})
	sub, ack := dialV5(t, s, &paho.Connect{CleanStart: true,
		Properties: &paho.ConnectProperties{TopicAliasMaximum: u16(5)}})
	if ack.Properties == nil || ack.Properties.TopicAliasMaximum == nil || *ack.Properties.TopicAliasMaximum == 0 {
		t.Fatal("CONNACK has no Topic Alias Maximum")
	}
	sub.sub(t, 1, "alias/#")
	pub, _ := dialV5(t, s, nil)

	// Inbound: the publisher sets alias 1 with the topic, then uses the alias alone [MQTT-3.3.2-12].
	pub.pubWith(t, &paho.Publish{Topic: "alias/long/topic/name", QoS: 1, Payload: []byte("one"),
		Properties: &paho.PublishProperties{TopicAlias: u16(1)}})
	pub.pubWith(t, &paho.Publish{Topic: "", QoS: 1, Payload: []byte("two"),
		Properties: &paho.PublishProperties{TopicAlias: u16(1)}})

	// Outbound: the subscriber allowed aliases, so the broker may send the topic once and the alias after.
	first, second := sub.in.next(t), sub.in.next(t)
	if first.Topic != "alias/long/topic/name" || first.Payload != "one" {
		t.Errorf("first delivery: got %v", first)
	}
	if second.Payload != "two" {
		t.Errorf("second delivery: got %v", second)
	}
	if second.Topic != "" && second.Topic != "alias/long/topic/name" {
		t.Errorf("second delivery topic %q", second.Topic)
	}
	if second.Topic == "" && (second.Alias == 0 || second.Alias != first.Alias) {
		t.Errorf("second delivery without topic uses alias %d, first set %d", second.Alias, first.Alias)
	}
	t.Logf("outbound aliases: first %q alias %d, second %q alias %d", first.Topic, first.Alias, second.Topic, second.Alias)
}

func TestConnectDeadline(t *testing.T) {
	s := startServer(t, Options{ConnectTimeout: 100 * time.Millisecond})
	r := dialRaw(t, s, 4)
	r.expectClosed() // a connection that never sends CONNECT is closed
	// A client that does send CONNECT in time keeps its connection (and its keep-alive deadline).
	c, _ := dialV5(t, s, nil)
	c.sub(t, 0, "still/here")
}

// mochi answers these CONNECTs with 0x80, which MQTT 3 clients cannot understand.
func TestEmptyClientIDRejectedForMQTT3(t *testing.T) {
	s := startServer(t, Options{})
	for _, tc := range []struct {
		name  string
		ver   byte
		clean bool
	}{
		{"mqtt311 clean session 0", 4, false}, // [MQTT-3.1.3-8]
		{"mqtt31", 3, true},                   // MQTT 3.1 requires 1 to 23 characters
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, s, tc.ver)
			ack := r.connect("", tc.clean)
			if ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0x02 {
				t.Fatalf("got packet %d code 0x%02x, want CONNACK 0x02", ack.FixedHeader.Type, ack.ReasonCode)
			}
			r.expectClosed()
		})
	}
	t.Run("mqtt311 clean session 1 gets an id", func(t *testing.T) {
		r := dialRaw(t, s, 4)
		if ack := r.connect("", true); ack.ReasonCode != 0 {
			t.Fatalf("CONNACK 0x%02x, want 0", ack.ReasonCode)
		}
	})
}

// Clients may not publish to $SYS; mochi would drop such a message without acknowledging it.
func TestPublishToSYSIsAnsweredAndDropped(t *testing.T) {
	s := startServer(t, Options{})
	c5, _ := dialV5(t, s, nil)
	for qos := byte(1); qos <= 2; qos++ {
		if rc := c5.pub(t, "$SYS/lab/x", qos, false, "x"); rc != 0x87 {
			t.Errorf("MQTT 5 QoS %d: reason 0x%02x, want 0x87", qos, rc)
		}
	}
	c3 := dialV3(t, s, "sys311", nil)
	c3.pub(t, "$SYS/lab/x", 1, false, "x") // acknowledged, as Mosquitto does
	c3.pub(t, "$SYS/lab/x", 2, false, "x")
}

func TestOneAuthHook(t *testing.T) {
	s := startServer(t, Options{DBPath: filepath.Join(t.TempDir(), "lab.db"), ACLFile: writeFile(t, "acl", "topic x\n")})
	for _, b := range []byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck} {
		n := 0
		for _, h := range s.hooks {
			if h.Provides(b) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d hooks provide hook method %d, want exactly 1 (mochi OR-combines them)", n, b)
		}
	}
}

func TestStartErrors(t *testing.T) {
	s := startServer(t, Options{})
	if err := s.Start(); err == nil {
		t.Error("second Start: no error")
	}
	if _, err := New(Options{ACLFile: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("New with a missing ACL file: no error")
	}
	db := filepath.Join(t.TempDir(), "lab.db")
	startServer(t, Options{DBPath: db})
	if _, err := New(Options{DBPath: db}); err == nil {
		t.Error("New on a state file in use: no error")
	}
}
