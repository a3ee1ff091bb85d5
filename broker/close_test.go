package broker

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Close must not hang however busy the broker is (mochi-mqtt v2.7.9's own Close can deadlock under
// connect/disconnect churn, upstream issue #488), must tell MQTT 5 clients (DISCONNECT 0x8B), and must
// leave no goroutine behind.
func TestCloseUnderTraffic(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t, func(o *Options) { o.Limits = NoQuotas(); o.HandshakeTimeout = time.Second })
	e.policy("all", allow("iot:*", "*"))
	d := e.device("churn", "all")

	sub, err := e.dial5(d, "close-sub", v5Opts{})
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe("load/#")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // publishers
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := e.dial5(d, fmt.Sprintf("close-pub-%d", i), v5Opts{})
			if err != nil {
				return
			}
			for ctx.Err() == nil {
				if _, err := c.c.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: 1, Payload: []byte("x")}); err != nil {
					return
				}
			}
		}(i)
	}
	for i := 0; i < 4; i++ { // connect/disconnect churn, including peers that never finish
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				switch n % 3 {
				case 0:
					if c, err := e.dial5(d, fmt.Sprintf("churn-%d-%d", i, n), v5Opts{}); err == nil {
						_ = c.c.Disconnect(&paho.Disconnect{})
					}
				case 1:
					if c, err := net.Dial("tcp", e.addr()); err == nil {
						c.Close()
					}
				case 2:
					if c, err := net.Dial("tcp", e.addr()); err == nil {
						defer c.Close() // silent until Close
					}
				}
			}
		}(i)
	}
	e.events.wait(t, "some traffic", func(ev Event) bool { return ev.Kind == EventDeliver })
	e.events.wait(t, "some churn", func(ev Event) bool { return ev.Kind == EventDisconnect })

	start := time.Now()
	if err := e.Srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Close took %v", el)
	}
	select {
	case dis := <-sub.discon:
		if dis.ReasonCode != packets.ErrServerShuttingDown.Code {
			t.Errorf("DISCONNECT 0x%02x, want 0x8b", dis.ReasonCode)
		}
	case <-time.After(waitFor):
		t.Error("the subscriber got no DISCONNECT")
	}
	e.events.wait(t, "server disconnect", func(ev Event) bool {
		return ev.Kind == EventDisconnect && ev.ClientID == "close-sub" && ev.Reason == reasonServerInitiated
	})
	cancel()
	wg.Wait()
	if err := e.Srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := e.Srv.Publish("a", nil, 0, false); err != ErrNotStarted {
		t.Errorf("Publish after Close: %v, want ErrNotStarted", err)
	}

	// Client goroutines (paho) wind down on their own; the broker's are gone once Close returned.
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a counter that has no event to wait on
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
