package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Checklist 38: at most 100 QoS 1 messages are in flight to a connection (or the MQTT 5 client's
// Receive Maximum, when smaller); the others are held, not dropped, and go as the client acknowledges.
// A message unacknowledged for the retry window (1 h) is dropped, and says so.
func TestOutboundWindowHoldsMessages(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version byte
		rm      uint16 // MQTT 5 Receive Maximum; 0 = none
		window  int
	}{
		{"MQTT 3.1.1", 4, 0, 100},
		{"MQTT 5", 5, 0, 100},
		{"MQTT 5 Receive Maximum 10", 5, 10, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSessionEnv(t)
			rc := e.raw(e.device("win", "all"), tt.version)
			pk := packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Connect},
				Connect:     packets.ConnectParams{ClientIdentifier: "win", Keepalive: 60, Clean: true},
			}
			pk.Properties.ReceiveMaximum = tt.rm
			rc.send(pk)
			if ack, err := rc.read(); err != nil || ack.ReasonCode != 0 {
				t.Fatalf("connect: %v %+v", err, ack)
			}
			rc.subscribe("win/t", 1)
			rc.subscribe("win/marker", 0)
			const total = 150
			for i := range total {
				e.publishAll("win/t", fmt.Sprint(i))
			}
			marker := func() {
				if err := e.Srv.Publish("win/marker", []byte("m"), 0, false); err != nil {
					t.Fatal(err)
				}
			}
			// QoS 0 is not held by the window: once the marker is in, every QoS 1 message that fits
			// has been written before it.
			marker()
			got := rc.publishesBefore("win/marker")
			if len(got) != tt.window {
				t.Fatalf("%d messages in flight, want %d", len(got), tt.window)
			}
			for i, p := range got {
				if string(p.Payload) != fmt.Sprint(i) || p.FixedHeader.Qos != 1 {
					t.Fatalf("message %d: %q QoS %d", i, p.Payload, p.FixedHeader.Qos)
				}
			}
			for _, p := range got[:5] {
				rc.puback(p.PacketID)
			}
			// The acknowledgements are read before the marker is routed; five more come.
			e.events.waitCount(t, "five more deliveries", tt.window+1+5, kindIs(EventDeliver, "win"))
			marker()
			more := rc.publishesBefore("win/marker")
			if len(more) != 5 || string(more[0].Payload) != fmt.Sprint(tt.window) {
				t.Fatalf("after 5 PUBACKs got %d messages starting %q, want 5 starting %d", len(more), more[0].Payload, tt.window)
			}
			// An hour later the unacknowledged ones are dropped, reported, and the held ones flow.
			e.Clock.Advance(time.Hour)
			e.Srv.sweepSessions(e.Clock.Now())
			if n := len(e.events.all(func(ev Event) bool { return ev.Reason == reasonRetryExpired })); n != tt.window {
				t.Errorf("%d RETRY_EXPIRED events, want %d", n, tt.window)
			}
			want := min(tt.window, total-tt.window-5)
			e.events.waitCount(t, "the held messages", tt.window+1+5+1+want, kindIs(EventDeliver, "win"))
			marker()
			if rest := rc.publishesBefore("win/marker"); len(rest) != want {
				t.Errorf("after the retry window %d messages, want %d", len(rest), want)
			}
		})
	}
}

// The QoS 1 queue never drops: publishers at full speed (both client libraries) to a slow MQTT 3.1.1
// subscriber and an MQTT 5 one, far more messages than mochi-mqtt's own queues hold (8192 pending
// writes, 8192 in flight; it drops beyond them): every subscriber gets every message.
func TestNoQoS1LossUnderOverload(t *testing.T) {
	e, _ := newSessionEnv(t, func(o *Options) {
		o.Limits = NoQuotas()
		o.Limits.OutboundUnacked = 0 // AWS's 100: the rest is held
		o.Limits.SessionQueueMessages = 100000
	})
	d := e.device("load", "all")

	var mu sync.Mutex // guards got
	got := map[string]map[string]int{"sub3": {}, "sub5": {}}
	record := func(sub, payload string) {
		mu.Lock()
		got[sub][payload]++
		mu.Unlock()
	}
	s5, err := e.dial5(d, "sub5", v5Opts{})
	if err != nil {
		t.Fatal(err)
	}
	s5.c.AddOnPublishReceived(func(pr paho.PublishReceived) (bool, error) {
		record("sub5", string(pr.Packet.Payload))
		return true, nil
	})
	s5.subscribe("load/#")
	s3, err := e.dial3(d, "sub3", v3Opts{})
	if err != nil {
		t.Fatal(err)
	}
	if tok := s3.c.Subscribe("load/#", 1, func(_ mqtt3.Client, m mqtt3.Message) {
		time.Sleep(20 * time.Microsecond) // a slow consumer
		record("sub3", string(m.Payload()))
	}); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	const perPublisher = 3000
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 2 {
		p := e.connect5(d, fmt.Sprint("pub5-", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for n := range perPublisher {
				if _, err := p.c.Publish(ctx, &paho.Publish{Topic: "load/5", QoS: 1, Payload: fmt.Appendf(nil, "5-%d-%d", i, n)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	p3 := e.connect3(d, "pub3")
	wg.Add(1)
	go func() {
		defer wg.Done()
		toks := make([]mqtt3.Token, 0, perPublisher)
		for n := range perPublisher {
			toks = append(toks, p3.c.Publish("load/3", 1, false, fmt.Sprintf("3-%d", n)))
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
				errs <- fmt.Errorf("MQTT 3.1.1 publish: %v", tok.Error())
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = 3 * perPublisher
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n3, n5 := len(got["sub3"]), len(got["sub5"])
		mu.Unlock()
		if n3 == total && n5 == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("distinct messages received: MQTT 3.1.1 %d, MQTT 5 %d, of %d", n3, n5, total)
		}
		time.Sleep(20 * time.Millisecond) // polling counts that have no event of their own
	}
	if n := len(e.events.all(func(ev Event) bool { return ev.Reason == reasonQueueFull })); n != 0 {
		t.Errorf("%d messages dropped at the queue bound", n)
	}
}

// At a session's bound (Limits.SessionQueueMessages / SessionQueueBytes) new messages are not queued
// for it and old ones are kept, as AWS documents for its queue limits, and each drop is reported.
func TestSessionQueueBound(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  func(*Options)
		keep int
	}{
		{"messages", func(o *Options) { o.Limits.SessionQueueMessages = 5 }, 5},
		{"bytes", func(o *Options) { o.Limits.SessionQueueBytes = 10 }, 2}, // 4-byte payloads
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, st := newSessionEnv(t, tt.opt)
			d := e.device("bound", "all")
			c := e.persistent5(d, "bound")
			c.subscribe("bound/t")
			c.leave()
			for i := range 8 {
				e.publishAll("bound/t", fmt.Sprintf("m%03d", i))
			}
			if n := len(e.events.all(func(ev Event) bool { return ev.Reason == reasonQueueFull && ev.ClientID == "bound" })); n != 8-tt.keep {
				t.Errorf("%d QUEUE_FULL events, want %d", n, 8-tt.keep)
			}
			if n := len(st.keys(clientPrefix(keyQueued, "bound"))); n != tt.keep {
				t.Errorf("%d queued records, want %d", n, tt.keep)
			}
			c = e.persistent5(d, "bound")
			got := c.payloads("bound/t", tt.keep)
			for i, p := range got {
				if p != fmt.Sprintf("m%03d", i) {
					t.Errorf("kept %q, want the oldest first", got)
					break
				}
			}
		})
	}
}
