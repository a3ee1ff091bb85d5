package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Regression tests for what a failing state store (a full disk, an I/O error) left behind in memory:
// state that a restart would not show, or acknowledged state that a restart would lose.

// TestRetainedChangeRolledBackWhenStoreFails: a RETAIN publish whose record cannot be written is
// refused (PUBACK 0x80) and must not stay the topic's retained message in memory either: iot-data and
// new subscribers would see a message the publisher was told was not accepted, and that a restart
// would not have. The retained message is then the one on disk, before and after a restart.
func TestRetainedChangeRolledBackWhenStoreFails(t *testing.T) {
	cases := []struct {
		name   string
		before string // retained payload before the failure; "" = none
		change string // the failed RETAIN publish's payload; "" deletes
	}{
		{"replace", "v1", "v2"},
		{"create", "", "v1"},
		{"delete", "v1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, st := newSessionEnv(t)
			d := e.device("ret-"+tc.name, "all")
			p := e.connect5(d, "ret-pub-"+tc.name)
			topic := "ret/" + tc.name
			if tc.before != "" {
				if r, err := p.publish(topic, 1, true, tc.before); err != nil || r.ReasonCode != 0 {
					t.Fatalf("retain %q: %+v %v", tc.before, r, err)
				}
			}
			st.failing.Store(true)
			r, err := p.publish(topic, 1, true, tc.change)
			if err == nil && r.ReasonCode != packets.ErrUnspecifiedError.Code {
				t.Errorf("PUBACK 0x%02x for a retained change the store refused, want 0x80", r.ReasonCode)
			}
			got := func(when string) {
				t.Helper()
				m, ok := e.Srv.RetainedMessage(topic)
				switch {
				case tc.before == "" && ok:
					t.Errorf("%s: retained %q, want none", when, m.Payload)
				case tc.before != "" && (!ok || string(m.Payload) != tc.before):
					t.Errorf("%s: retained %q (present %v), want %q", when, m.Payload, ok, tc.before)
				}
			}
			e.settle()
			got("after the failed write")
			st.failing.Store(false)
			e.restart(st.snapshot(), true)
			got("after a crash and restart")
		})
	}
}

// TestRetainedLaterChangeWinsOverFailedOne: a retained change that fails must not undo a later one
// that is still on its way to the disk (rollback only when nothing newer is pending).
func TestRetainedLaterChangeWinsOverFailedOne(t *testing.T) {
	e, st := newSessionEnv(t)
	e.settle()
	st.failing.Store(true)
	// Both land in the same open batch or in consecutive ones; either way the last one is "b".
	_ = e.Srv.Publish("ret/later", []byte("a"), 1, true)
	st.failing.Store(false)
	if err := e.Srv.Publish("ret/later", []byte("b"), 1, true); err != nil {
		t.Fatalf("Publish once the store works: %v", err)
	}
	e.settle()
	if m, ok := e.Srv.RetainedMessage("ret/later"); !ok || string(m.Payload) != "b" {
		t.Fatalf("retained %q (present %v), want \"b\"", m.Payload, ok)
	}
}

// TestPersistentSessionNotStoredIsClosed: a persistent session whose record cannot be written when
// it connects would be gone after a crash, with what was acknowledged for it meanwhile; its connection
// is closed (SERVER_ERROR) instead, and once the disk is back it connects and keeps its session.
func TestPersistentSessionNotStoredIsClosed(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("unstored", "all")
	st.failing.Store(true)
	c, err := e.dial5(d, "unstored", v5Opts{noCleanStart: true, sei: 3600})
	if err == nil {
		c.closed()
	}
	ev := e.events.wait(t, "the persistent session's disconnect", kindIs(EventDisconnect, "unstored"))
	if ev.Reason != reasonServerError {
		t.Errorf("disconnect reason %q, want %q", ev.Reason, reasonServerError)
	}
	st.failing.Store(false)
	sub := e.persistent5(d, "unstored")
	sub.subscribe("unstored/t")
	sub.leave()
	e.publishAll("unstored/t", "kept")
	e.restart(st.snapshot(), true)
	sub = e.persistent5(d, "unstored")
	if m := sub.expect("unstored/t"); string(m.Payload) != "kept" {
		t.Fatalf("after the crash got %q, want \"kept\"", m.Payload)
	}
}

// TestSubscribeCarriesSessionRecord: a SUBACK of a persistent session means its subscription
// survives a crash even when the session's own record never reached the disk (a write that failed
// earlier, simulated here by removing it): the SUBSCRIBE's batch writes the session record too.
// Before, restore dropped the subscription and the queued message whose PUBACK had gone.
func TestSubscribeCarriesSessionRecord(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("subrec", "all")
	rc := e.raw(d, 5)
	rc.rawConnect("subrec", false, 3600)
	// The session's record is written once CONNACK is out (attach): wait for it, then lose it.
	waitStored(t, st, sessionKey("subrec"))
	if err := st.Apply(StoreOp{Key: sessionKey("subrec")}); err != nil {
		t.Fatal(err)
	}
	rc.subscribe("subrec/t", 1)
	// The subscriber is connected and does not acknowledge: only the commit releases the PUBACK.
	p := e.connect5(d, "subrec-pub")
	if r, err := p.publish("subrec/t", 1, false, "m1"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("publish: %+v %v", r, err)
	}
	e.restart(st.snapshot(), true)
	sub := e.persistent5(d, "subrec")
	if !sub.ack.SessionPresent {
		t.Error("session not present after the crash")
	}
	if m := sub.expect("subrec/t"); string(m.Payload) != "m1" {
		t.Fatalf("after the crash got %q, want \"m1\"", m.Payload)
	}
}

// waitStored waits until key is in the store: a persistent session's record is written after its
// CONNACK has gone (attach), so a test that fails the store next must wait for it.
func waitStored(t *testing.T, st *memStore, key string) {
	t.Helper()
	for deadline := time.Now().Add(waitFor); len(st.keys(key)) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%s was never written", key)
		}
		time.Sleep(time.Millisecond) // polling the store the committer writes
	}
}
