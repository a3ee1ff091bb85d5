package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iotlab/iotlab/emulator/policy"
)

// adminPolicy lets a watcher connect and see everything, '$aws/events' included.
func (e *env) watcher(clientID string, filters ...string) *v5Client {
	e.t.Helper()
	e.policy("admin-"+clientID, allow("iot:*", "*"))
	w := e.connect5(e.device("watcher-"+clientID, "admin-"+clientID), clientID)
	w.subscribe(filters...)
	return w
}

// pubsubPolicy: connect as anyone, publish/subscribe/receive under allowed/.
func (e *env) pubsubPolicy() {
	e.policy("pubsub",
		allow("iot:Connect", "client/*"),
		allow("iot:Publish,iot:Receive", "topic/allowed/*"),
		allow("iot:Subscribe", "topicfilter/allowed/*"))
}

// Checklist 21: allowed QoS 0 and 1 publishes reach MQTT 3.1.1 and MQTT 5 subscribers; QoS 1 gets
// PUBACK 0x00 even without subscribers.
func TestPublishAllowedIsDelivered(t *testing.T) {
	e := newEnv(t)
	e.pubsubPolicy()
	pub := e.connect5(e.device("pub", "pubsub"), "pub")
	if r, err := pub.publish("allowed/nobody", 1, false, "x"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("PUBACK without subscribers: %+v %v, want 0x00", r, err)
	}
	s5 := e.connect5(e.device("s5", "pubsub"), "s5")
	s5.subscribe("allowed/#")
	s3 := e.connect3(e.device("s3", "pubsub"), "s3")
	if codes := s3.subscribe("allowed/#"); codes[0] != 1 {
		t.Fatalf("SUBACK %v, want granted QoS 1", codes)
	}
	for _, qos := range []byte{0, 1} {
		topic := fmt.Sprintf("allowed/qos%d", qos)
		if r, err := pub.publish(topic, qos, false, "hello"); err != nil || (qos == 1 && r.ReasonCode != 0) {
			t.Fatalf("publish QoS %d: %+v %v", qos, r, err)
		}
		if m := s5.expect(topic); string(m.Payload) != "hello" || m.QoS != qos {
			t.Errorf("MQTT 5 got %q QoS %d", m.Payload, m.QoS)
		}
		if m := s3.expect(topic); string(m.Payload()) != "hello" || m.Qos() != qos {
			t.Errorf("MQTT 3.1.1 got %q QoS %d", m.Payload(), m.Qos())
		}
	}
	p3 := e.connect3(e.device("p3", "pubsub"), "p3")
	if err := p3.publish("allowed/from3", 1, false, "v3"); err != nil {
		t.Fatal(err)
	}
	s5.expect("allowed/from3")
}

// Checklist 23–25: refused PUBLISH as AWS answers it.
func TestPublishDenied(t *testing.T) {
	e := newEnv(t)
	e.policy("pub",
		allow("iot:Connect", "client/*"),
		allow("iot:Publish", "topic/allowed/*", "topic/noretain/*", "topic/will/*"),
		allow("iot:RetainPublish", "topic/allowed/*", "topic/will/*"))
	w := e.watcher("w-pubdenied", "will/#", "$aws/events/presence/disconnected/#")
	tests := []struct {
		name   string
		v      byte
		topic  string
		qos    byte
		retain bool
		// MQTT 3.1.1: closed; MQTT 5: PUBACK code for QoS 1 (0 = dropped silently for QoS 0)
		want5 byte
	}{
		{"3.1.1 QoS 0 no iot:Publish", 4, "denied/a", 0, false, 0},
		{"3.1.1 QoS 1 no iot:Publish", 4, "denied/b", 1, false, 0},
		{"3.1.1 RETAIN without iot:RetainPublish", 4, "noretain/c", 1, true, 0},
		{"5 QoS 1 no iot:Publish", 5, "denied/d", 1, false, 0x87},
		{"5 QoS 0 no iot:Publish", 5, "denied/e", 0, false, 0},
		{"5 RETAIN without iot:RetainPublish", 5, "noretain/f", 1, true, 0x87},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Clock.Advance(2 * time.Second)
			id := fmt.Sprintf("pd-%d", i)
			d := e.device(id, "pub")
			if tt.v == 4 {
				c, err := e.dial3(d, id, v3Opts{will: &struct {
					topic, payload string
					qos            byte
					retain         bool
				}{"will/" + id, "gone", 1, false}})
				if err != nil {
					t.Fatal(err)
				}
				_ = c.publish(tt.topic, tt.qos, tt.retain, "x")
				c.closed()
				w.expect("will/" + id) // checklist 23: the will is published
				ev := e.events.wait(t, "disconnect", kindIs(EventDisconnect, id))
				if ev.Reason != reasonAuthError {
					t.Errorf("disconnect reason %q, want %q", ev.Reason, reasonAuthError)
				}
			} else {
				c := e.connect5(d, id)
				r, err := c.publish(tt.topic, tt.qos, tt.retain, "x")
				if tt.qos == 1 && (r == nil || r.ReasonCode != tt.want5) {
					t.Fatalf("PUBACK %+v (%v), want reason 0x%02x", r, err, tt.want5)
				}
				// Still connected: an allowed publish goes through.
				if r, err := c.publish("allowed/after", 1, false, "y"); err != nil || r.ReasonCode != 0 {
					t.Fatalf("after the refusal: %+v %v", r, err)
				}
			}
			ev := e.events.wait(t, "deny", func(ev Event) bool { return ev.Kind == EventDeny && ev.ClientID == id })
			wantAction := actPublish
			if tt.retain {
				wantAction = actRetainPublish
			}
			if ev.Action != wantAction || ev.Decision.Effect != policy.ImplicitDeny || ev.Reason != reasonAuthorization {
				t.Errorf("deny event: action %q effect %v reason %q", ev.Action, ev.Decision.Effect, ev.Reason)
			}
			if l := findLog(e.readLog(), map[string]any{"eventType": "Publish-In", "clientId": id, "status": "Failure"}); l == nil || l["reason"] != "AUTHORIZATION_FAILURE" {
				t.Errorf("Publish-In failure log: %v", l)
			}
		})
	}
}

// Checklist 26: a refused filter gets SUBACK 0x80 (3.1.1) or 0x87 (5); the others in the packet are
// granted; a Subscribe Failure entry is logged.
func TestSubscribeDenied(t *testing.T) {
	e := newEnv(t)
	e.pubsubPolicy()
	s3 := e.connect3(e.device("s3", "pubsub"), "sd3")
	got := s3.subscribe("allowed/a", "secret/a")
	if got[0] != 1 || got[1] != 0x80 {
		t.Errorf("MQTT 3.1.1 SUBACK %v, want [1 0x80]", got)
	}
	s5 := e.connect5(e.device("s5", "pubsub"), "sd5")
	sa := s5.subscribe("allowed/b", "secret/b")
	if len(sa.Reasons) != 2 || sa.Reasons[0] != 1 || sa.Reasons[1] != 0x87 {
		t.Errorf("MQTT 5 SUBACK %v, want [1 0x87]", sa.Reasons)
	}
	e.events.wait(t, "subscribe deny", func(ev Event) bool {
		return ev.Kind == EventDeny && ev.ClientID == "sd5" && ev.Topic == "secret/b" && ev.Action == actSubscribe
	})
	if l := findLog(e.readLog(), map[string]any{"eventType": "Subscribe", "clientId": "sd3", "topicName": "secret/a"}); l == nil || l["status"] != "Failure" || l["reason"] != "AUTHORIZATION_FAILURE" {
		t.Errorf("Subscribe failure log: %v", l)
	}
	// The granted subscription works.
	pub := e.connect5(e.device("p", "pubsub"), "sdp")
	_, _ = pub.publish("allowed/a", 1, false, "x")
	s3.expect("allowed/a")
}

// Checklist 27 and 28: '+' and '#' are literal in policies; '*' crosses levels; '?' is one character.
func TestPolicyWildcards(t *testing.T) {
	e := newEnv(t)
	e.policy("wild",
		allow("iot:Connect", "client/*"),
		allow("iot:Subscribe", "topicfilter/some/+/topic"),
		allow("iot:Publish", "topic/a/*", "topic/q/???"))
	c := e.connect5(e.device("wild", "wild"), "wild")
	subs := []struct {
		filter string
		ok     bool
	}{
		{"some/+/topic", true},
		{"some/abc/topic", false},
		{"some/#", false},
	}
	for _, s := range subs {
		t.Run("subscribe "+s.filter, func(t *testing.T) {
			sa := c.subscribe(s.filter)
			if ok := sa.Reasons[0] < 0x80; ok != s.ok {
				t.Errorf("SUBACK 0x%02x, want allowed=%v", sa.Reasons[0], s.ok)
			}
		})
	}
	pubs := []struct {
		topic string
		ok    bool
	}{
		{"a/b/c/d", true},
		{"a/b", true},
		{"b/a", false},
		{"q/xyz", true},
		{"q/xy", false},
		{"q/wxyz", false},
	}
	for _, p := range pubs {
		t.Run("publish "+p.topic, func(t *testing.T) {
			r, _ := c.publish(p.topic, 1, false, "x")
			if ok := r != nil && r.ReasonCode < 0x80; ok != p.ok {
				t.Errorf("PUBACK %+v, want allowed=%v", r, p.ok)
			}
		})
	}
}

// Checklist 29: iot:Receive is checked per delivery: a subscriber of a/# denied Receive on a/secret/*
// gets a/open only.
func TestReceiveDeniedPerTopic(t *testing.T) {
	e := newEnv(t)
	e.policy("sub",
		allow("iot:Connect", "client/*"),
		allow("iot:Subscribe", "topicfilter/a/#"),
		allow("iot:Receive", "topic/a/*"),
		deny("iot:Receive", "topic/a/secret/*"))
	e.pubsubPolicy()
	e.policy("pub-a", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/a/*"))
	s := e.connect5(e.device("sub", "sub"), "recv-sub")
	s.subscribe("a/#")
	p := e.connect5(e.device("pub", "pub-a"), "recv-pub")
	_, _ = p.publish("a/secret/x", 1, false, "secret")
	_, _ = p.publish("a/open", 1, false, "open")
	s.expectNoneBefore("a/secret/x", "a/open")
	ev := e.events.wait(t, "receive deny", func(ev Event) bool {
		return ev.Kind == EventDeny && ev.ClientID == "recv-sub" && ev.Action == actReceive
	})
	if ev.Decision.Effect != policy.ExplicitDeny || ev.Decision.Statement != 4 {
		t.Errorf("decision %s, want the explicit deny of statement 4", ev.Decision.Explain())
	}
}

// The case: a filter equal to a topic may be allowed for iot:Subscribe and denied for
// iot:Receive; mochi asks both through one OnACLCheck and the two must stay two decisions. Deliveries
// running concurrently with the SUBSCRIBE must not be taken for it (see subCheck).
func TestSubscribeAllowedReceiveDenied(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits = NoQuotas() })
	e.policy("sub",
		allow("iot:Connect", "client/*"),
		allow("iot:Subscribe", "topicfilter/x/*"),
		allow("iot:Receive", "topic/x/marker"))
	e.policy("pub", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/x/*"))
	s := e.connect5(e.device("sub", "sub"), "sar-sub")
	if sa := s.subscribe("x/y"); sa.Reasons[0] != 1 {
		t.Fatalf("SUBACK 0x%02x for x/y, want granted (iot:Subscribe allows it)", sa.Reasons[0])
	}
	s.subscribe("x/marker")
	p := e.connect5(e.device("pub", "pub"), "sar-pub")
	_, _ = p.publish("x/y", 1, false, "must not arrive")
	_, _ = p.publish("x/marker", 1, false, "m")
	s.expectNoneBefore("x/y", "x/marker")

	t.Run("concurrent deliveries", func(t *testing.T) {
		// s already receives-nothing on x/y through its subscription; flood x/y while it subscribes to
		// x/y again and again: every SUBACK must grant, and nothing may be delivered.
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// QoS 1, so the flood stays in step with the broker instead of piling up in socket buffers.
			for ctx.Err() == nil {
				_, _ = p.c.Publish(ctx, &paho.Publish{Topic: "x/y", QoS: 1, Payload: []byte("flood")})
			}
		}()
		for i := 0; i < 50; i++ {
			if sa := s.subscribe("x/y"); sa.Reasons[0] != 1 {
				t.Errorf("iteration %d: SUBACK 0x%02x, want granted", i, sa.Reasons[0])
			}
		}
		cancel()
		wg.Wait()
		_, _ = p.publish("x/marker", 1, false, "m2")
		s.expectNoneBefore("x/y", "x/marker")
	})
}

// Checklist 30 and 75: policy edits, default-version changes and detach apply to live connections at
// their next operation, without a new SUBSCRIBE and without a disconnect.
func TestPolicyChangesApplyToLiveConnections(t *testing.T) {
	e := newEnv(t)
	e.policy("sub", allow("iot:Connect", "client/*"), allow("iot:Subscribe,iot:Receive", "topicfilter/live/*", "topic/live/*"))
	e.pubsubPolicy()
	e.policy("pub-live", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/live/*"))
	s := e.connect5(e.device("sub", "sub"), "live-sub")
	s.subscribe("live/#")
	pd := e.device("pub", "pub-live")
	p := e.connect5(pd, "live-pub")
	_, _ = p.publish("live/a", 1, false, "1")
	s.expect("live/a")

	t.Run("new default version without Receive on live/b", func(t *testing.T) {
		e.policy("sub", allow("iot:Connect", "client/*"),
			allow("iot:Subscribe,iot:Receive", "topicfilter/live/*", "topic/live/*"),
			deny("iot:Receive", "topic/live/b"))
		e.Srv.PoliciesChanged()
		_, _ = p.publish("live/b", 1, false, "2")
		_, _ = p.publish("live/c", 1, false, "3")
		s.expectNoneBefore("live/b", "live/c")
	})
	t.Run("detach: the next PUBLISH is refused", func(t *testing.T) {
		e.Dir.detachAll(pd.ID)
		e.Srv.PoliciesChanged()
		r, _ := p.publish("live/d", 1, false, "4")
		if r == nil || r.ReasonCode != 0x87 {
			t.Fatalf("PUBACK %+v, want 0x87 after detach", r)
		}
	})
	t.Run("attach: the next PUBLISH is allowed", func(t *testing.T) {
		e.Dir.attach("pub-live", pd.ID)
		e.Srv.PoliciesChanged()
		if r, err := p.publish("live/e", 1, false, "5"); err != nil || r.ReasonCode != 0 {
			t.Fatalf("PUBACK %+v %v, want 0 after attach", r, err)
		}
		s.expect("live/e")
	})
}

// The Receive decision is cached per connection and PoliciesChanged invalidates it.
func TestReceiveDecisionCache(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:Connect", "client/*"), allow("iot:Publish,iot:Subscribe,iot:Receive", "topic/c/*", "topicfilter/c/*"))
	s := e.connect5(e.device("s", "all"), "cache-sub")
	s.subscribe("c/#")
	p := e.connect5(e.device("p", "all"), "cache-pub")
	before := e.Dir.calls.Load()
	for i := 0; i < 20; i++ {
		_, _ = p.publish("c/t", 1, false, "x")
		s.expect("c/t")
	}
	if n := e.Dir.calls.Load() - before; n != 0 {
		t.Errorf("%d Principal calls for 20 publishes without changes, want 0 (cached)", n)
	}
	e.Srv.PoliciesChanged()
	_, _ = p.publish("c/t", 1, false, "x")
	s.expect("c/t")
	if n := e.Dir.calls.Load() - before; n != 2 {
		t.Errorf("%d Principal calls after one change, want 2 (publisher and subscriber resolve again)", n)
	}
}

// Checklist 31: AWS's '#' does not match the parent level.
func TestHashDoesNotMatchParent(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	p := e.connect5(e.device("p", "all"), "hash-pub")
	s5 := e.connect5(e.device("s5", "all"), "hash-s5")
	s5.subscribe("sensor/#", "marker")
	s3 := e.connect3(e.device("s3", "all"), "hash-s3")
	s3.subscribe("sensor/#", "marker")
	both := e.connect5(e.device("both", "all"), "hash-both")
	both.subscribe("sensor/#", "sensor")
	for _, topic := range []string{"sensor/", "sensor/t", "sensor/t/r1"} {
		_, _ = p.publish(topic, 1, false, topic)
		s5.expect(topic)
		s3.expect(topic)
	}
	_, _ = p.publish("sensor", 1, false, "parent")
	_, _ = p.publish("marker", 1, false, "m")
	s5.expectNoneBefore("sensor", "marker")
	both.expect("sensor") // matched by its exact filter
	s3.expectNoneBefore("sensor", "marker")
}

// Certificate values are built only for policies that read them (certFor), at connect or after a
// policy change; a policy that reads them resolves them either way.
func TestCertificateVariablesResolveWhenAPolicyNeedsThem(t *testing.T) {
	e := newEnv(t)
	e.policy("by-cert", allow("iot:Connect", "client/${iot:Certificate.Subject.CommonName}"),
		allow("iot:Publish", "topic/cn/${iot:Certificate.Subject.CommonName}"))
	c := e.connect5(e.device("lamp-1", "by-cert"), "lamp-1")
	if r, err := c.publish("cn/lamp-1", 1, false, "x"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v on the certificate's own topic, want 0", r, err)
	}
	if r, _ := c.publish("cn/lamp-2", 1, false, "x"); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("PUBACK %+v on another topic, want 0x87", r)
	}

	e.policy("plain", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/cn/*"))
	p := e.connect5(e.device("lamp-3", "plain"), "plain-3")
	if r, err := p.publish("cn/other", 1, false, "x"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v, want 0", r, err)
	}
	if cl, ok := e.Srv.mq.Clients.Get("plain-3"); !ok {
		t.Fatal("no client plain-3")
	} else {
		sc := connOf(cl)
		sc.authz.mu.Lock()
		built := sc.certInfo != nil
		sc.authz.mu.Unlock()
		if built {
			t.Error("certificate values built for policies that do not read them")
		}
	}
	e.policy("plain", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/cn/${iot:Certificate.Subject.CommonName}"))
	e.Srv.PoliciesChanged()
	if r, _ := p.publish("cn/other", 1, false, "x"); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("PUBACK %+v after the change, want 0x87", r)
	}
	if r, err := p.publish("cn/lamp-3", 1, false, "x"); err != nil || r.ReasonCode != 0 {
		t.Fatalf("PUBACK %+v %v on the certificate's own topic after the change, want 0", r, err)
	}
}
