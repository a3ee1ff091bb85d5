package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Checklist 59: a shared subscription group gets each message once, on one member (an MQTT 5 and an
// MQTT 3.1.1 member here); two groups matching a topic get a copy each; a share name with '+' is
// refused. AWS: mqtt.html#mqtt5-shared-subscription
func TestSharedSubscriptions(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("sh", "all")
	m5 := e.connect5(d, "sh-m5")
	m5.subscribe("$share/g/sh/#")
	m3 := e.connect3(d, "sh-m3")
	m3.subscribe("$share/g/sh/#")
	other := e.connect5(d, "sh-other")
	other.subscribe("$share/h/sh/+")
	const n = 40
	for i := range n {
		e.publishAll(fmt.Sprint("sh/", i%3), fmt.Sprint(i))
	}
	got := map[string]int{}
	var by5, by3 int
	deadline := time.After(waitFor)
	for by5+by3 < n {
		select {
		case m := <-m5.msgs:
			got[string(m.Payload)]++
			by5++
		case m := <-m3.msgs:
			got[string(m.Payload())]++
			by3++
		case <-deadline:
			t.Fatalf("group g got %d of %d messages", by5+by3, n)
		}
		if by5+by3 > n {
			t.Fatalf("group g got %d messages for %d published", by5+by3, n)
		}
	}
	if len(got) != n {
		t.Errorf("group g got %d distinct messages of %d", len(got), n)
	}
	for p, k := range got {
		if k != 1 {
			t.Errorf("message %s delivered %d times to group g", p, k)
		}
	}
	if by5 == 0 || by3 == 0 {
		t.Errorf("one member got everything (%d, %d): no distribution", by5, by3)
	}
	if ps := other.payloads("sh/0", 14); len(ps) != 14 {
		t.Errorf("group h: %d", len(ps))
	}
	// A share name may not contain '+' or '#'.
	sa := m5.subscribe("$share/g+/sh/t")
	if sa.Reasons[0] != packets.ErrTopicFilterInvalid.Code {
		t.Errorf("SUBACK 0x%02x for $share/g+/sh/t, want 0x8f", sa.Reasons[0])
	}
	if codes := m3.subscribe("$share/g+/sh/t"); codes[0] != 0x80 {
		t.Errorf("MQTT 3.1.1 SUBACK 0x%02x for $share/g+/sh/t, want 0x80", codes[0])
	}
}

// Checklist 60: when every member of a group is away and one has a persistent session, QoS 1 messages
// wait in that session and are delivered when it comes back; QoS 0 messages are dropped. A clean
// member leaves the group with its connection.
func TestSharedGroupQueuesForPersistentMember(t *testing.T) {
	for _, version := range []string{"MQTT 5", "MQTT 3.1.1"} {
		t.Run(version, func(t *testing.T) {
			e, _ := newSessionEnv(t)
			d := e.device("shq", "all")
			clean := e.connect5(d, "shq-clean")
			clean.subscribe("$share/q/shq/t")
			clean.leave()
			if version == "MQTT 5" {
				p := e.persistent5(d, "shq-p")
				p.subscribe("$share/q/shq/t")
				p.leave()
			} else {
				p, _ := e.persistent3(d, "shq-p")
				p.subscribe("$share/q/shq/t")
				p.leave()
			}
			e.publishAll("shq/t", "a", "b", "c")
			if err := e.Srv.Publish("shq/t", []byte("qos0"), 0, false); err != nil {
				t.Fatal(err)
			}
			e.publishAll("shq/t", "d")
			var got []string
			if version == "MQTT 5" {
				p := e.persistent5(d, "shq-p")
				got = p.payloads("shq/t", 4)
			} else {
				p, _ := e.persistent3(d, "shq-p")
				got = sorted(p.payloads("shq/t", 4))
			}
			if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
				t.Errorf("got %q, want the QoS 1 messages", got)
			}
		})
	}
}
