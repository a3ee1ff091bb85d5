package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Checklist 50–52: retained messages as AWS keeps them, published and received with both client
// libraries. A RETAIN publish reaches live subscribers with RETAIN=0 (51); a later SUBSCRIBE to a
// filter equal to the topic gets it with RETAIN=1, a wildcard or shared subscription does not (50); a
// new RETAIN publish replaces it; an empty payload deletes it and still reaches live subscribers (52).
// AWS: mqtt.html#mqtt-retain
func TestRetainedMessagesAsAWS(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("ret", "all")
	pub5 := e.connect5(d, "ret-pub5")
	pub3 := e.connect3(d, "ret-pub3")
	live5 := e.connect5(d, "ret-live5")
	live5.subscribe("ret/a")
	live3 := e.connect3(d, "ret-live3")
	live3.subscribe("ret/a")

	if _, err := pub5.publish("ret/a", 1, true, "v1"); err != nil {
		t.Fatal(err)
	}
	if m := live5.expect("ret/a"); m.Retain || string(m.Payload) != "v1" {
		t.Errorf("MQTT 5 live subscriber: RETAIN %v payload %q, want RETAIN 0", m.Retain, m.Payload)
	}
	if m := live3.expect("ret/a"); m.Retained() || string(m.Payload()) != "v1" {
		t.Errorf("MQTT 3.1.1 live subscriber: RETAIN %v payload %q, want RETAIN 0", m.Retained(), m.Payload())
	}

	exact5 := e.connect5(d, "ret-exact5")
	exact5.subscribe("ret/a")
	if m := exact5.expect("ret/a"); !m.Retain || string(m.Payload) != "v1" || m.QoS != 1 {
		t.Errorf("MQTT 5 exact subscriber: RETAIN %v QoS %d payload %q, want RETAIN 1 QoS 1 v1", m.Retain, m.QoS, m.Payload)
	}
	exact3 := e.connect3(d, "ret-exact3")
	exact3.subscribe("ret/a")
	if m := exact3.expect("ret/a"); !m.Retained() || string(m.Payload()) != "v1" {
		t.Errorf("MQTT 3.1.1 exact subscriber: RETAIN %v payload %q, want RETAIN 1", m.Retained(), m.Payload())
	}
	wild5 := e.connect5(d, "ret-wild5")
	wild5.subscribe("ret/+", "ret/#", "$share/g/ret/a", "marker")
	wild3 := e.connect3(d, "ret-wild3")
	wild3.subscribe("ret/+", "$share/g3/ret/#", "marker")
	e.publishAll("marker", "m")
	wild5.expectNoneBefore("ret/a", "marker")
	wild3.expectNoneBefore("ret/a", "marker")

	// An MQTT 3.1.1 publisher replaces it; the message's own QoS (0) caps the delivery.
	if err := pub3.publish("ret/a", 0, true, "v2"); err != nil {
		t.Fatal(err)
	}
	live5.expect("ret/a")
	again := e.connect5(d, "ret-again")
	again.subscribe("ret/a")
	if m := again.expect("ret/a"); !m.Retain || string(m.Payload) != "v2" || m.QoS != 0 {
		t.Errorf("after replacement: RETAIN %v QoS %d payload %q, want RETAIN 1 QoS 0 v2", m.Retain, m.QoS, m.Payload)
	}
	if r, ok := e.Srv.RetainedMessage("ret/a"); !ok || string(r.Payload) != "v2" || r.QoS != 0 {
		t.Errorf("RetainedMessage = %+v, %v", r, ok)
	}

	// An empty payload deletes it; live subscribers still get the empty message.
	if _, err := pub5.publish("ret/a", 1, true, ""); err != nil {
		t.Fatal(err)
	}
	if m := live5.expect("ret/a"); len(m.Payload) != 0 || m.Retain {
		t.Errorf("live subscriber got %q RETAIN %v, want the empty message", m.Payload, m.Retain)
	}
	if m := live3.expect("ret/a"); len(m.Payload()) != 0 && string(m.Payload()) != "v2" {
		t.Errorf("MQTT 3.1.1 live subscriber got %q", m.Payload())
	}
	if _, ok := e.Srv.RetainedMessage("ret/a"); ok {
		t.Error("RetainedMessage still finds the deleted message")
	}
	late := e.connect5(d, "ret-late")
	late.subscribe("ret/a", "marker")
	e.publishAll("marker", "m")
	late.expectNoneBefore("ret/a", "marker")
}

// iot-data's view: GetRetainedMessage (payload, QoS, lastModifiedTime, user properties in order) and
// ListRetainedMessages (topics in order, no payloads, pages). AWS: API_iotdata_GetRetainedMessage
func TestRetainedMessageAPI(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("api", "all")
	p := e.connect5(d, "api-pub")
	at := e.Clock.Now()
	_, err := p.c.Publish(contextWithTimeout(t), &paho.Publish{Topic: "api/b", QoS: 1, Retain: true, Payload: []byte("hello"),
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "k", Value: "1"}, {Key: "j", Value: "2"}, {Key: "k", Value: "3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := e.Srv.RetainedMessage("api/b")
	if !ok || string(r.Payload) != "hello" || r.QoS != 1 || r.PayloadSize != 5 || r.Topic != "api/b" {
		t.Fatalf("RetainedMessage = %+v, %v", r, ok)
	}
	if d := r.LastModified.Sub(at); d < -time.Millisecond || d > time.Second { // milliseconds, as the API has them
		t.Errorf("LastModified %v, published at %v", r.LastModified, at)
	}
	if want := []UserProperty{{"k", "1"}, {"j", "2"}, {"k", "3"}}; !slices.Equal(r.UserProperties, want) {
		t.Errorf("user properties %v, want %v", r.UserProperties, want)
	}
	for _, topic := range []string{"api/e", "api/a", "api/d", "api/c"} {
		if err := e.Srv.Publish(topic, []byte(topic), 0, true); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	for after := ""; ; {
		page, next := e.Srv.RetainedTopics(after, 2)
		var ts []string
		for _, m := range page {
			if m.Payload != nil || m.PayloadSize != len(m.Topic) && m.Topic != "api/b" {
				t.Errorf("summary %+v", m)
			}
			ts = append(ts, m.Topic)
		}
		pages = append(pages, ts)
		if next == "" {
			break
		}
		after = next
	}
	if got := fmt.Sprint(pages); got != "[[api/a api/b] [api/c api/d] [api/e]]" {
		t.Errorf("pages %s", got)
	}
	if _, ok := e.Srv.RetainedMessage("api/none"); ok {
		t.Error("RetainedMessage found a topic never retained")
	}
}

// Checklist 55 and 56: MQTT 5 Message Expiry Interval. A queued message carries the time it has left
// (MEI 30 delivered 20 s later carries 10); an interval above 7 days is lowered to 7 days; expired
// queued and retained messages are not delivered, to MQTT 5 or MQTT 3 subscribers (the publisher's
// version decides). MQTT 3 retained messages never expire, unlike mochi-mqtt's default of one day.
// AWS: mqtt.html#mqtt5-properties, mqtt.html#mqtt-retain
func TestMessageExpiry(t *testing.T) {
	e, _ := newSessionEnv(t, func(o *Options) { o.Limits.QueuedMessagesPerSecond = -1 }) // markers follow at once
	d := e.device("mei", "all")
	pub := e.connect5(d, "mei-pub")
	publish := func(topic string, mei uint32, retain bool, payload string) {
		t.Helper()
		_, err := pub.c.Publish(contextWithTimeout(t), &paho.Publish{Topic: topic, QoS: 1, Retain: retain, Payload: []byte(payload),
			Properties: &paho.PublishProperties{MessageExpiry: &mei}})
		if err != nil {
			t.Fatal(err)
		}
	}
	s5 := e.persistent5(d, "mei-s5")
	s5.subscribe("mei/t", "mei/marker")
	s5.leave()
	s3, _ := e.persistent3(d, "mei-s3")
	s3.subscribe("mei/t", "mei/marker")
	s3.leave()
	publish("mei/t", 30, false, "thirty")
	publish("mei/t", 5, false, "five")
	publish("mei/t", 700000, false, "clamped")
	publish("mei/r", 5, true, "retained for five")
	p3 := e.connect3(d, "mei-p3")
	if err := p3.publish("mei/r3", 1, true, "MQTT 3 retained"); err != nil {
		t.Fatal(err)
	}

	e.Clock.Advance(20 * time.Second)
	// Stored messages come in publish order: once "clamped" is in, "five" would have come before it.
	s5 = e.persistent5(d, "mei-s5")
	got := map[string]*paho.Publish{}
	for got["clamped"] == nil {
		m := s5.expect("mei/t")
		got[string(m.Payload)] = m
	}
	if m := got["thirty"]; m == nil || m.Properties.MessageExpiry == nil || *m.Properties.MessageExpiry != 10 {
		t.Errorf("MEI 30 after 20 s: %+v, want MEI 10", m)
	}
	if m := got["clamped"]; m == nil || m.Properties.MessageExpiry == nil || *m.Properties.MessageExpiry != 604800-20 {
		t.Errorf("MEI 700000: %+v, want 604780 left of 7 days", m)
	}
	if got["five"] != nil {
		t.Error("an expired queued message was delivered to MQTT 5")
	}
	s3, _ = e.persistent3(d, "mei-s3")
	// (paho.mqtt.golang hands messages to handlers concurrently: their order is lost)
	if got := s3.payloads("mei/t", 2); !slices.Equal(sorted(got), []string{"clamped", "thirty"}) {
		t.Errorf("MQTT 3.1.1 subscriber got %q, want the unexpired messages of the MQTT 5 publisher", got)
	}

	r5 := e.connect5(d, "mei-r5")
	r5.subscribe("mei/r", "mei/r3", "mei/marker")
	r5.expect("mei/r3")
	e.publishAll("mei/marker", "m")
	r5.expectNoneBefore("mei/r", "mei/marker")
	if _, ok := e.Srv.RetainedMessage("mei/r"); ok {
		t.Error("RetainedMessage finds an expired message")
	}
	e.Clock.Advance(30 * 24 * time.Hour)
	e.Srv.sweepSessions(e.Clock.Now())
	if _, ok := e.Srv.RetainedMessage("mei/r3"); !ok {
		t.Error("an MQTT 3 retained message expired after 30 days")
	}
}
