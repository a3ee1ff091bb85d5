package lab

import (
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// Regression: in mochi v2.7.9 a clean-session client that ends checks IsTakenOver and then deletes its id
// from the client map. A reconnection with the same id that takes over in between is added to the map and
// then deleted from it: it stays connected but receives nothing.
func TestReconnectSameIDRaceKeepsNewClient(t *testing.T) {
	s := startServer(t, Options{})
	pub, _ := dialV5(t, s, nil)
	for i := range 100 {
		old, _ := dialV5(t, s, &paho.Connect{ClientID: "flappy", CleanStart: true})
		_ = old.conn.Close() // drop without DISCONNECT, then reconnect at once, as auto-reconnecting clients do
		c, _ := dialV5(t, s, &paho.Connect{ClientID: "flappy", CleanStart: true})
		topic := fmt.Sprintf("flap/%d", i)
		c.sub(t, 0, topic)
		pub.pub(t, topic, 0, false, "x")
		if m := c.in.next(t); m.Topic != topic {
			t.Fatalf("iteration %d: got %v", i, m)
		}
		if cl, ok := s.mochi.Clients.Get("flappy"); !ok || cl.Closed() {
			t.Fatalf("iteration %d: the connected client is missing from the client map", i)
		}
		c.disconnect()
		_ = c.conn.Close()
	}
}

// Regression: mochi v2.7.9 writes a topic's retained-message path without the lock under which a wildcard
// SUBSCRIBE reads it (TopicsIndex.RetainMessage and scanMessages); run with -race.
func TestRetainedPublishDuringWildcardSubscribe(t *testing.T) {
	s := startServer(t, Options{})
	pub, _ := dialV5(t, s, nil)
	sub, _ := dialV5(t, s, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			topic := fmt.Sprintf("rr/%d", i)
			ctx, cancel := contextWithTimeout(waitTimeout)
			_, _ = pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte("x")})
			_, _ = pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true}) // clear
			cancel()
		}
	}()
	for range 100 {
		sub.sub(t, 0, "rr/+")
		if _, err := sub.Unsubscribe(ctxT(t), &paho.Unsubscribe{Topics: []string{"rr/+"}}); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
