package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// subscribeQoS subscribes MQTT 3.1.1 filters at one QoS.
func (vc *v3Client) subscribeQoS(qos byte, filters ...string) {
	vc.t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = qos
	}
	if tok := vc.c.SubscribeMultiple(m, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		vc.t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
}

// subscribeQoS subscribes MQTT 5 filters at one QoS.
func (vc *v5Client) subscribeQoS(qos byte, filters ...string) {
	vc.t.Helper()
	var subs []paho.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: qos})
	}
	if _, err := vc.c.Subscribe(contextWithTimeout(vc.t), &paho.Subscribe{Subscriptions: subs}); err != nil {
		vc.t.Fatalf("subscribe %v: %v", filters, err)
	}
}

// Checklist 45: a persistent session (MQTT 3.1.1 cleanSession=0, MQTT 5 Clean Start 0 + Session Expiry
// Interval) keeps its subscriptions and the QoS 1 messages that arrive while it is away; on resume
// CONNACK says session present and they are delivered. QoS 0 messages, and QoS 1 messages matching a
// QoS 0 subscription, are not queued. AWS: mqtt.html#mqtt-persistent-sessions
func TestPersistentSessionQueuesQoS1(t *testing.T) {
	check := func(t *testing.T, got []string) {
		t.Helper()
		if want := []string{"q1", "q2", "q3"}; !slices.Equal(got, want) {
			t.Errorf("queued messages %q, want %q", got, want)
		}
	}
	offline := func(e *env, id string) {
		e.publishAll(id+"/q1", "q1", "q2", "q3")
		if err := e.Srv.Publish(id+"/q1", []byte("qos0 message"), 0, false); err != nil {
			e.t.Fatal(err)
		}
		e.publishAll(id+"/q0", "qos1 message to a qos0 subscription")
	}
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		e, _ := newSessionEnv(t)
		d := e.device("ps", "all")
		c, present := e.persistent3(d, "ps3")
		if present {
			t.Error("a new session is present")
		}
		c.subscribeQoS(1, "ps3/q1", "ps3/live")
		c.subscribeQoS(0, "ps3/q0")
		c.leave()
		offline(e, "ps3")
		c, present = e.persistent3(d, "ps3")
		if !present {
			t.Error("CONNACK session present = 0 on resume")
		}
		check(t, sorted(c.payloads("ps3/q1", 3))) // paho.mqtt.golang hands messages over concurrently
		e.publishAll("ps3/live", "subscriptions restored")
		c.expectNoneOfBefore("ps3/live", "ps3/q1", "ps3/q0")
	})
	t.Run("MQTT 5", func(t *testing.T) {
		e, _ := newSessionEnv(t)
		d := e.device("ps", "all")
		c := e.persistent5(d, "ps5")
		if c.ack.SessionPresent {
			t.Error("a new session is present")
		}
		c.subscribeQoS(1, "ps5/q1", "ps5/live")
		c.subscribeQoS(0, "ps5/q0")
		c.leave()
		offline(e, "ps5")
		c = e.persistent5(d, "ps5")
		if !c.ack.SessionPresent {
			t.Error("CONNACK session present = 0 on resume")
		}
		check(t, c.payloads("ps5/q1", 3))
		e.publishAll("ps5/live", "subscriptions restored")
		c.expectNoneOfBefore("ps5/live", "ps5/q1", "ps5/q0")
	})
	t.Run("clean session", func(t *testing.T) {
		e, _ := newSessionEnv(t)
		d := e.device("ps", "all")
		c := e.connect5(d, "clean5")
		c.subscribe("clean5/t")
		c.leave()
		e.publishAll("clean5/t", "lost")
		c = e.connect5(d, "clean5")
		if c.ack.SessionPresent {
			t.Error("a clean session is present")
		}
		c.subscribe("clean5/marker")
		e.publishAll("clean5/marker", "m")
		c.expectNoneBefore("clean5/t", "clean5/marker")
	})
}

// Checklist 45: stored messages come at AWS's pace, 10 per second, alongside live traffic.
func TestStoredMessagesArePaced(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("pace", "all")
	c := e.persistent5(d, "pace")
	c.subscribe("pace/stored", "pace/live")
	c.leave()
	const n = 6
	for i := range n {
		e.publishAll("pace/stored", fmt.Sprint(i))
	}
	c = e.persistent5(d, "pace")
	start := time.Now()
	e.publishAll("pace/live", "live")
	var order []string
	for len(order) < n+1 {
		select {
		case m := <-c.msgs:
			order = append(order, string(m.Payload))
		case <-time.After(waitFor):
			t.Fatalf("got %q", order)
		}
	}
	elapsed := time.Since(start)
	// Burst 1, then one every 100 ms: the sixth stored message comes 500 ms after the first at least.
	if elapsed < 450*time.Millisecond {
		t.Errorf("%d stored messages in %v: faster than 10 per second", n, elapsed)
	}
	if i := slices.Index(order, "live"); i == len(order)-1 {
		t.Errorf("the live message waited behind the stored ones: %q", order)
	}
	if stored := slices.DeleteFunc(slices.Clone(order), func(s string) bool { return s == "live" }); !slices.Equal(stored, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Errorf("stored messages in order %q", stored)
	}
}

// Checklist 19: an MQTT 5 Session Expiry Interval above the account's maximum is lowered, and CONNACK
// returns the adjusted value; one within it is not echoed. The maximum is 1 h by default, configurable
// up to 7 days. AWS: mqtt.html#mqtt5-properties
func TestSessionExpiryAdjustedInConnack(t *testing.T) {
	tests := []struct {
		name      string
		limit     time.Duration
		requested uint32
		want      uint32 // 0: no Session Expiry Interval in CONNACK
	}{
		{"default maximum, above it", 0, 7200, 3600},
		{"default maximum, within it", 0, 600, 0},
		{"never expire", 0, 0xFFFFFFFF, 3600},
		{"raised maximum, within it", 2 * time.Hour, 7200, 0},
		{"maximum above 7 days", 30 * 24 * time.Hour, 10 * 24 * 3600, 7 * 24 * 3600},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSessionEnv(t, func(o *Options) { o.Limits.SessionExpiry = tt.limit })
			c, err := e.dial5(e.device("sei", "all"), fmt.Sprint("sei-", i), v5Opts{sei: tt.requested})
			if err != nil {
				t.Fatal(err)
			}
			got := c.ack.Properties.SessionExpiryInterval
			switch {
			case tt.want == 0 && got != nil:
				t.Errorf("CONNACK Session Expiry Interval %d, want none", *got)
			case tt.want != 0 && (got == nil || *got != tt.want):
				t.Errorf("CONNACK Session Expiry Interval %v, want %d", got, tt.want)
			}
		})
	}
}

// Checklist 46: a persistent session outlives its connection for the expiry period, no longer: then
// its subscriptions, its queue and its records go, and a reconnection gets a new session. An MQTT 5
// session expires after its own (shorter) interval.
func TestSessionExpiry(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("exp", "all")
	c3, _ := e.persistent3(d, "exp3")
	c3.subscribe("exp/t")
	c3.leave()
	c5, err := e.dial5(d, "exp5", v5Opts{noCleanStart: true, sei: 60})
	if err != nil {
		t.Fatal(err)
	}
	c5.subscribe("exp/t")
	c5.leave()
	e.publishAll("exp/t", "queued")
	e.settle()
	if n := len(st.keys(clientPrefix(keyQueued, "exp3"))); n != 1 {
		t.Fatalf("%d queued records for exp3, want 1", n)
	}

	e.Clock.Advance(61 * time.Second)
	e.Srv.sweepSessions(e.Clock.Now())
	if e.Srv.sessionOf("exp5") != nil {
		t.Error("the MQTT 5 session outlived its 60 s interval")
	}
	if e.Srv.sessionOf("exp3") == nil {
		t.Fatal("the MQTT 3.1.1 session expired before the account's period (1 h)")
	}
	e.Clock.Advance(time.Hour - 60*time.Second)
	e.Srv.sweepSessions(e.Clock.Now())
	if e.Srv.sessionOf("exp3") != nil {
		t.Error("the MQTT 3.1.1 session outlived the 1 h period")
	}
	e.settle()
	for _, prefix := range []string{keySession, keySub, keyQueued, keyMessage} {
		if keys := st.keys(prefix); len(keys) > 0 {
			t.Errorf("records left after expiry: %q", keys)
		}
	}
	c3, present := e.persistent3(d, "exp3")
	if present {
		t.Error("MQTT 3.1.1: session present after expiry")
	}
	c3.subscribe("exp/marker")
	c5 = e.persistent5(d, "exp5")
	if c5.ack.SessionPresent {
		t.Error("MQTT 5: session present after expiry")
	}
	c5.subscribe("exp/marker")
	e.publishAll("exp/t", "after expiry")
	e.publishAll("exp/marker", "m")
	c3.expectNoneBefore("exp/t", "exp/marker")
	c5.expectNoneBefore("exp/t", "exp/marker")
}

// Checklist 47: an MQTT 3 session is not resumed by an MQTT 5 connection, nor the reverse; the new
// session is persistent as its client asked.
func TestSessionsNotResumedAcrossVersions(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("xv", "all")
	c3, _ := e.persistent3(d, "xv")
	c3.subscribe("xv/v3")
	c3.leave()
	e.publishAll("xv/v3", "for the MQTT 3 session")

	c5 := e.persistent5(d, "xv")
	if c5.ack.SessionPresent {
		t.Error("an MQTT 5 connection resumed an MQTT 3 session")
	}
	c5.subscribe("xv/v5", "xv/marker")
	e.publishAll("xv/v3", "after")
	e.publishAll("xv/marker", "m")
	c5.expectNoneBefore("xv/v3", "xv/marker")
	c5.leave()
	e.publishAll("xv/v5", "for the MQTT 5 session")

	c3, present := e.persistent3(d, "xv")
	if present {
		t.Error("an MQTT 3.1.1 connection resumed an MQTT 5 session")
	}
	c3.subscribe("xv/v3b", "xv/marker")
	e.publishAll("xv/v5", "after")
	e.publishAll("xv/marker", "m")
	c3.expectNoneBefore("xv/v5", "xv/marker")
	// That MQTT 3.1.1 session is itself persistent (cleanSession=0 was kept).
	c3.leave()
	e.publishAll("xv/v3b", "kept")
	c3, present = e.persistent3(d, "xv")
	if !present {
		t.Fatal("the new MQTT 3.1.1 session was not persistent")
	}
	if got := c3.payloads("xv/v3b", 1); got[0] != "kept" {
		t.Errorf("got %q", got)
	}
}

// Checklist 48: MQTT 5 Session Expiry Interval on DISCONNECT. 0 at CONNECT then > 0 on DISCONNECT is a
// protocol error (DISCONNECT 0x82) and the session ends; > 0 then 0 on DISCONNECT ends the session.
func TestSessionExpiryOnDisconnect(t *testing.T) {
	t.Run("0 then >0", func(t *testing.T) {
		e, _ := newSessionEnv(t)
		d := e.device("sd", "all")
		rc := e.raw(d, 5)
		rc.rawConnect("sd1", false, 0)
		rc.subscribe("sd/1", 1)
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = 600, true
		rc.send(pk)
		got := rc.expectClosed()
		if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != packets.ErrProtocolViolationZeroNonZeroExpiry.Code {
			t.Errorf("got %v, want DISCONNECT 0x82", describe(got))
		}
		c := e.persistent5(d, "sd1")
		if c.ack.SessionPresent {
			t.Error("the session survived")
		}
	})
	t.Run(">0 then 0", func(t *testing.T) {
		e, _ := newSessionEnv(t)
		d := e.device("sd", "all")
		c := e.persistent5(d, "sd2")
		c.subscribe("sd/2")
		zero := uint32(0)
		e.leaving("sd2", func() {
			_ = c.c.Disconnect(&paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}})
		})
		e.publishAll("sd/2", "lost")
		c = e.persistent5(d, "sd2")
		if c.ack.SessionPresent {
			t.Error("the session survived a DISCONNECT with Session Expiry Interval 0")
		}
	})
	// A new non-zero interval on DISCONNECT replaces CONNECT's, capped at the account's maximum
	// (1 h), and the broker, not mochi, expires the session by it. [MQTT-3.14.2.2.2]
	for _, tc := range []struct {
		name          string
		connect, disc uint32
		after         time.Duration
		present       bool
	}{
		{"shortened: expired", 600, 5, 6 * time.Second, false},
		{"lengthened: still there", 5, 600, 6 * time.Second, true},
		{"above the maximum: capped to 1 h", 5, 7200, 3601 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newSessionEnv(t)
			d := e.device("sd", "all")
			c, err := e.dial5(d, "sd3", v5Opts{noCleanStart: true, sei: tc.connect})
			if err != nil {
				t.Fatal(err)
			}
			c.subscribe("sd/3")
			sei := tc.disc
			e.leaving("sd3", func() {
				_ = c.c.Disconnect(&paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: &sei}})
			})
			e.Clock.Advance(tc.after)
			c, err = e.dial5(d, "sd3", v5Opts{noCleanStart: true, sei: 60})
			if err != nil {
				t.Fatal(err)
			}
			if c.ack.SessionPresent != tc.present {
				t.Errorf("session present %v after %v, want %v", c.ack.SessionPresent, tc.after, tc.present)
			}
		})
	}
}

// Regression (mochi v2.7.9): a connection that ends checks IsTakenOver and then deletes its client ID
// from mochi's map; a reconnection with the same ID that takes over in between is added to the map and
// then deleted from it, and receives nothing any more. idLocks orders the two.
func TestReconnectSameIDKeepsNewClient(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistent=%v", persistent), func(t *testing.T) {
			e, _ := newSessionEnv(t)
			d := e.device("flap", "all")
			pub := e.connect5(d, "flap-pub")
			o := v5Opts{}
			if persistent {
				o = v5Opts{noCleanStart: true, sei: 600}
			}
			for i := range 40 {
				old, err := e.dial5(d, "flappy", o)
				if err != nil {
					t.Fatal(err)
				}
				_ = old.conn.Close() // dropped without DISCONNECT, then a reconnection at once
				c, err := e.dial5(d, "flappy", o)
				if err != nil {
					t.Fatal(err)
				}
				topic := fmt.Sprintf("flap/%v/%d", persistent, i)
				c.subscribe(topic)
				// QoS 0: nothing stays in flight for the next connection to resume. (paho.golang v0.23
				// writes a packet in several Writes, unlocked: its PUBACK of a message resent right
				// after CONNACK can interleave with a SUBSCRIBE sent at the same time.)
				if _, err := pub.publish(topic, 0, false, "x"); err != nil {
					t.Fatal(err)
				}
				c.expect(topic)
				if cl, ok := e.Srv.mq.Clients.Get("flappy"); !ok || cl.Closed() {
					t.Fatalf("iteration %d: the connected client is missing from mochi's client map", i)
				}
				cl, _ := e.Srv.mq.Clients.Get("flappy")
				ss := e.Srv.sessionOf("flappy")
				ss.mu.Lock()
				attached := ss.conn != nil && ss.conn.cl == cl
				ss.mu.Unlock()
				if !attached {
					t.Fatalf("iteration %d: the session is not attached to the new connection", i)
				}
				_ = c.c.Disconnect(&paho.Disconnect{})
				<-c.c.Done()
			}
		})
	}
}
