package broker

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// props5 are MQTT 5 properties that AWS forwards (checklist 56), user properties in a deliberate order.
func props5() *paho.PublishProperties {
	pf := byte(1)
	return &paho.PublishProperties{
		ContentType:     "application/json",
		ResponseTopic:   "reply/here",
		CorrelationData: []byte{1, 2, 3},
		PayloadFormat:   &pf,
		User:            paho.UserProperties{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}, {Key: "b", Value: "3"}},
	}
}

// checkProps5 compares what an MQTT 5 subscriber got with props5.
func checkProps5(t *testing.T, m *paho.Publish) {
	t.Helper()
	p, want := m.Properties, props5()
	if p == nil || p.ContentType != want.ContentType || p.ResponseTopic != want.ResponseTopic ||
		!slices.Equal(p.CorrelationData, want.CorrelationData) || p.PayloadFormat == nil || *p.PayloadFormat != 1 ||
		!slices.Equal(p.User, want.User) {
		t.Errorf("properties %+v, want %+v", p, want)
	}
}

// Checklist 56: MQTT 5 properties reach MQTT 5 subscribers unchanged and in order; MQTT 3.1.1
// subscribers get the plain message. AWS: mqtt.html#mqtt5-properties
func TestPropertiesForwarded(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("props", "all")
	s5 := e.connect5(d, "props-s5")
	s5.subscribe("props/t")
	s3 := e.connect3(d, "props-s3")
	s3.subscribe("props/t")
	p := e.connect5(d, "props-p")
	if _, err := p.c.Publish(contextWithTimeout(t), &paho.Publish{Topic: "props/t", QoS: 1, Payload: []byte(`{"x":1}`), Properties: props5()}); err != nil {
		t.Fatal(err)
	}
	checkProps5(t, s5.expect("props/t"))
	if m := s3.expect("props/t"); string(m.Payload()) != `{"x":1}` {
		t.Errorf("MQTT 3.1.1 got %q", m.Payload())
	}
}

// Checklist 57: a topic alias up to the advertised maximum (8) works and is resolved before routing; a
// larger one closes the connection with DISCONNECT 0x94.
func TestTopicAliases(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("alias", "all")
	s := e.connect5(d, "alias-s")
	s.subscribe("alias/t")
	rc := e.raw(d, 5)
	rc.rawConnect("alias-p", true, 0)
	pub := func(topic string, alias uint16, pid uint16) {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: topic, PacketID: pid, Payload: []byte(fmt.Sprint(pid))}
		pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = alias, true
		rc.send(pk)
	}
	pub("alias/t", 8, 1)
	if ack, err := rc.read(); err != nil || ack.FixedHeader.Type != packets.Puback || ack.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v", ack, err)
	}
	pub("", 8, 2) // the alias alone
	if ack, err := rc.read(); err != nil || ack.FixedHeader.Type != packets.Puback || ack.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v", ack, err)
	}
	if got := s.payloads("alias/t", 2); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("got %q", got)
	}
	pub("alias/t", 9, 3)
	got := rc.expectClosed()
	if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != packets.ErrTopicAliasInvalid.Code {
		t.Errorf("got %v, want DISCONNECT 0x94", describe(got))
	}
}

// Sessions, subscriptions, queued QoS 1 messages (with their MQTT 5 properties) and retained messages
// survive a restart: both client libraries resume with session present and get what was queued.
func TestRestartKeepsSessionsAndRetained(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("rs", "all")
	s5 := e.persistent5(d, "rs-s5")
	s5.subscribe("rs/t", "rs/live")
	s5.leave()
	s3, _ := e.persistent3(d, "rs-s3")
	s3.subscribe("rs/t", "rs/live")
	s3.leave()
	p := e.connect5(d, "rs-p")
	for i := range 3 {
		if _, err := p.c.Publish(contextWithTimeout(t), &paho.Publish{Topic: "rs/t", QoS: 1, Payload: []byte(fmt.Sprint(i)), Properties: props5()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.c.Publish(contextWithTimeout(t), &paho.Publish{Topic: "rs/retained", QoS: 1, Retain: true, Payload: []byte("kept"), Properties: props5()}); err != nil {
		t.Fatal(err)
	}
	before, _ := e.Srv.RetainedMessage("rs/retained")

	e.restart(st, false)
	s5 = e.persistent5(d, "rs-s5")
	if !s5.ack.SessionPresent {
		t.Error("MQTT 5: session not present after a restart")
	}
	for i, m := range []*paho.Publish{s5.expect("rs/t"), s5.expect("rs/t"), s5.expect("rs/t")} {
		if string(m.Payload) != fmt.Sprint(i) {
			t.Errorf("message %d: %q", i, m.Payload)
		}
		checkProps5(t, m)
	}
	s3, present := e.persistent3(d, "rs-s3")
	if !present {
		t.Error("MQTT 3.1.1: session not present after a restart")
	}
	if got := sorted(s3.payloads("rs/t", 3)); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("MQTT 3.1.1 got %q", got)
	}
	e.publishAll("rs/live", "subscriptions restored")
	s5.expect("rs/live")
	s3.expect("rs/live")

	after, ok := e.Srv.RetainedMessage("rs/retained")
	if !ok || string(after.Payload) != "kept" || !after.LastModified.Equal(before.LastModified) || !slices.Equal(after.UserProperties, before.UserProperties) {
		t.Errorf("retained after restart %+v, before %+v", after, before)
	}
	r := e.connect5(d, "rs-r")
	r.subscribe("rs/retained")
	m := r.expect("rs/retained")
	if !m.Retain || string(m.Payload) != "kept" {
		t.Errorf("retained delivery %+v", m)
	}
	checkProps5(t, m)
	e.settle()
	if keys := st.keys(keyMessage); len(keys) != 0 {
		t.Errorf("message records left after every session got them: %q", keys)
	}
}

// The promise itself: a QoS 1 message acknowledged to its publisher reaches every persistent
// subscriber even if the broker dies right after. The store is snapshotted at a random moment while
// three publishers (both client libraries) run: that image is what kill -9 would leave on disk. A
// broker started on it must deliver every message acknowledged before the snapshot to each subscriber
// that was away (and, to the one that was connected, every one it had not acknowledged yet).
func TestCrashImageHasEveryAcknowledgedMessage(t *testing.T) {
	e, st := newSessionEnv(t, func(o *Options) { o.Limits = NoQuotas() })
	d := e.device("crash", "all")
	away5 := e.persistent5(d, "away5")
	away5.subscribe("crash/#")
	away5.leave()
	away3, _ := e.persistent3(d, "away3")
	away3.subscribe("crash/#")
	away3.leave()

	var mu sync.Mutex // guards acked and seenLive
	acked := map[string]bool{}
	seenLive := map[string]bool{}
	live, err := e.dial5(d, "live5", v5Opts{noCleanStart: true, sei: 3600})
	if err != nil {
		t.Fatal(err)
	}
	live.c.AddOnPublishReceived(func(pr paho.PublishReceived) (bool, error) {
		mu.Lock()
		seenLive[string(pr.Packet.Payload)] = true
		mu.Unlock()
		return true, nil
	})
	live.subscribe("crash/#")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		p := e.connect5(d, fmt.Sprint("crash-p5-", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil && n < 400; n++ {
				id := fmt.Sprintf("p5-%d-%d", i, n)
				if _, err := p.c.Publish(ctx, &paho.Publish{Topic: "crash/t", QoS: 1, Payload: []byte(id)}); err != nil {
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	p3 := e.connect3(d, "crash-p3")
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ctx.Err() == nil && n < 400; n++ {
			id := fmt.Sprintf("p3-%d", n)
			if tok := p3.c.Publish("crash/t", 1, false, id); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
				return
			}
			mu.Lock()
			acked[id] = true
			mu.Unlock()
		}
	}()
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(time.Millisecond) // polling a counter the publishers bump
	}
	mu.Lock()
	ackedBefore := make([]string, 0, len(acked))
	for id := range acked {
		ackedBefore = append(ackedBefore, id)
	}
	mu.Unlock()
	image := st.snapshot() // kill -9: what is on disk now is all the next broker has
	mu.Lock()
	seenBefore := maps.Clone(seenLive)
	mu.Unlock()
	cancel()
	wg.Wait()

	e.restart(image, true)
	for _, id := range []string{"away5", "live5"} {
		c := e.persistent5(d, id)
		got := map[string]bool{}
		if id == "live5" {
			got = seenBefore
		}
		deadline := time.After(4 * waitFor)
		for !hasAll(got, ackedBefore) {
			select {
			case m := <-c.msgs:
				got[string(m.Payload)] = true
			case <-deadline:
				t.Fatalf("%s: %d of %d acknowledged messages missing after the crash, e.g. %q", id, missing(got, ackedBefore), len(ackedBefore), firstMissing(got, ackedBefore))
			}
		}
	}
	c3, _ := e.persistent3(d, "away3")
	got := map[string]bool{}
	deadline := time.After(4 * waitFor)
	for !hasAll(got, ackedBefore) {
		select {
		case m := <-c3.msgs:
			got[string(m.Payload())] = true
		case <-deadline:
			t.Fatalf("away3: %d of %d acknowledged messages missing after the crash, e.g. %q", missing(got, ackedBefore), len(ackedBefore), firstMissing(got, ackedBefore))
		}
	}
}

func hasAll(got map[string]bool, want []string) bool { return missing(got, want) == 0 }

func missing(got map[string]bool, want []string) int {
	n := 0
	for _, w := range want {
		if !got[w] {
			n++
		}
	}
	return n
}

func firstMissing(got map[string]bool, want []string) string {
	for _, w := range want {
		if !got[w] {
			return w
		}
	}
	return ""
}

// When the store cannot write, nothing is acknowledged as accepted: MQTT 5 publishers get PUBACK
// 0x80, MQTT 3.1.1 publishers lose the connection (they will send again), the service's Publish
// fails, and a persistent session's SUBSCRIBE is refused. When the disk is back, all is well again.
func TestStoreFailureIsNeverAcknowledged(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("fail", "all")
	sub := e.persistent5(d, "fail-sub")
	sub.subscribe("fail/t")
	sub.leave()
	p5 := e.connect5(d, "fail-p5")
	p3 := e.connect3(d, "fail-p3")
	// Connected, and its record on disk, before the failure: a persistent session whose record
	// cannot be written is closed (TestPersistentSessionNotStoredIsClosed).
	ps := e.persistent5(d, "fail-sub2")
	waitStored(t, st, sessionKey("fail-sub2"))

	st.failing.Store(true)
	if r, err := p5.publish("fail/t", 1, false, "x"); err == nil && r.ReasonCode != packets.ErrUnspecifiedError.Code {
		t.Errorf("MQTT 5 PUBACK 0x%02x while the store fails, want 0x80", r.ReasonCode)
	}
	if err := p3.publish("fail/t", 1, false, "x"); err == nil {
		p3.closed()
	}
	ev := e.events.wait(t, "the MQTT 3.1.1 publisher's disconnect", kindIs(EventDisconnect, "fail-p3"))
	if ev.Reason != reasonServerError {
		t.Errorf("disconnect reason %q, want SERVER_ERROR", ev.Reason)
	}
	if err := e.Srv.Publish("fail/t", []byte("x"), 1, false); err == nil {
		t.Error("Publish succeeded while the store fails")
	}
	// A QoS 1 publish nobody persistent listens to needs no disk: it is acknowledged.
	if r, err := p5.publish("fail/nobody", 1, false, "x"); err != nil || r.ReasonCode != 0 {
		t.Errorf("PUBACK %+v %v for a message with nothing to store", r, err)
	}
	if sa := ps.subscribe("fail/u"); sa.Reasons[0] != packets.ErrUnspecifiedError.Code {
		t.Errorf("SUBACK 0x%02x for a persistent session while the store fails, want 0x80", sa.Reasons[0])
	}

	st.failing.Store(false)
	if r, err := p5.publish("fail/t", 1, false, "after"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v once the store works", r, err)
	}
	sub = e.persistent5(d, "fail-sub")
	// The failed ones may come too (they were queued in memory); "after" must.
	for m := sub.expect("fail/t"); string(m.Payload) != "after"; m = sub.expect("fail/t") {
	}
	if sa := ps.subscribe("fail/u"); sa.Reasons[0] != 1 {
		t.Errorf("SUBACK 0x%02x once the store works", sa.Reasons[0])
	}
}

// The bbolt file: state survives a restart on the same path; a second broker cannot open a file in use;
// a file that is not the broker's is refused, not reset.
func TestBoltStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.db")
	e := newEnv(t, func(o *Options) { o.StorePath = path; o.Limits.ConnectsPerSecond = -1 })
	e.policy("all", allow("iot:*", "*"))
	d := e.device("bolt", "all")
	c, _ := e.persistent3(d, "bolt")
	c.subscribe("bolt/t")
	c.leave()
	e.publishAll("bolt/t", "on disk")
	if err := e.Srv.Publish("bolt/r", []byte("retained"), 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path); err == nil {
		t.Error("a second OpenStore of a file in use succeeded")
	}
	e.restart(nil, false) // Options.StorePath again
	c, present := e.persistent3(d, "bolt")
	if !present {
		t.Error("session not present after a restart")
	}
	if got := c.payloads("bolt/t", 1); got[0] != "on disk" {
		t.Errorf("got %q", got)
	}
	if r, ok := e.Srv.RetainedMessage("bolt/r"); !ok || string(r.Payload) != "retained" {
		t.Errorf("retained %+v %v", r, ok)
	}

	foreign := filepath.Join(t.TempDir(), "other.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := OpenStore(foreign); err == nil {
		t.Error("OpenStore accepted a file that is not the broker's")
	}
}

// DeleteConnection with cleanSession ends a persistent session that has no connection: its records
// go, and the next connection gets a new session. Without cleanSession the session stays.
func TestDeleteConnectionCleanSession(t *testing.T) {
	e, st := newSessionEnv(t)
	d := e.device("dc", "all")
	c, _ := e.persistent3(d, "dc")
	c.subscribe("dc/t")
	c.leave()
	e.publishAll("dc/t", "queued")
	if !e.Srv.Disconnect("dc", false, false) {
		t.Fatal("Disconnect found no session")
	}
	if e.Srv.sessionOf("dc") == nil {
		t.Fatal("Disconnect without cleanSession ended the session")
	}
	if !e.Srv.Disconnect("dc", true, false) {
		t.Fatal("Disconnect found no session")
	}
	e.settle()
	for _, prefix := range []string{keySession, keySub, keyQueued, keyMessage} {
		if keys := st.keys(prefix); len(keys) > 0 {
			t.Errorf("records left: %q", keys)
		}
	}
	if e.Srv.Disconnect("dc", true, false) {
		t.Error("a second Disconnect still found the session")
	}
	c, present := e.persistent3(d, "dc")
	if present {
		t.Error("session present after DeleteConnection cleanSession")
	}
	c.subscribe("dc/marker")
	e.publishAll("dc/marker", "m")
	c.expectNoneBefore("dc/t", "dc/marker")
}

// Close with persistent sessions, a store and traffic returns promptly and leaves the store readable.
func TestCloseUnderTrafficWithStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.db")
	e := newEnv(t, func(o *Options) { o.StorePath = path; o.Limits = NoQuotas() })
	e.policy("all", allow("iot:*", "*"))
	d := e.device("ct", "all")
	for i := range 3 {
		c := e.persistent5(d, fmt.Sprint("ct-s", i))
		c.subscribe("ct/#")
		if i == 0 {
			c.leave() // one away: everything it gets is written
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 3 {
		p := e.connect5(d, fmt.Sprint("ct-p", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := p.c.Publish(ctx, &paho.Publish{Topic: "ct/x", QoS: 1, Payload: []byte("x")}); err != nil {
					return
				}
			}
		}()
	}
	e.events.waitCount(t, "traffic", 200, func(ev Event) bool { return ev.Kind == EventDeliver })
	start := time.Now()
	if err := e.Srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Close took %v", el)
	}
	cancel()
	wg.Wait()
	st, err := OpenStore(path)
	if err != nil {
		t.Fatalf("the store after Close: %v", err)
	}
	_ = st.Close()
}
