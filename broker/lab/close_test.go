package lab

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Close must return while clients connect, publish, drop and reconnect (mochi v2.7.9's own Close can hang
// then). The bound is the test's, not an assertion on how long Close takes.
func TestCloseUnderTraffic(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.db")
	s, err := New(Options{Addr: "127.0.0.1:0", DBPath: db, ConnectTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()

	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	var ops, persisted counter
	worker := func(f func(i int)) {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stopped() {
					f(i)
					ops.add()
				}
			}()
		}
	}
	// MQTT 3.1.1 clients, clean and persistent, that connect, subscribe, publish and disconnect.
	worker(func(i int) {
		o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprint("churn311-", i)).
			SetCleanSession(i%2 == 0).SetAutoReconnect(false).SetConnectTimeout(2 * time.Second).
			SetDefaultPublishHandler(func(mqtt3.Client, mqtt3.Message) {})
		c := mqtt3.NewClient(o)
		if c.Connect().WaitTimeout(2*time.Second) && c.IsConnected() {
			if i == 1 {
				persisted.add()
			}
			c.Subscribe("load/#", 1, nil).WaitTimeout(time.Second)
			c.Publish(fmt.Sprint("load/", i), 1, true, "x").WaitTimeout(time.Second)
			c.Disconnect(0)
		}
	})
	// MQTT 5 clients with wills and session expiry that drop their connection without DISCONNECT.
	worker(func(i int) {
		c, _, err := tryDialV5(addr, &paho.Connect{ClientID: fmt.Sprint("drop5-", i), CleanStart: i == 0,
			Properties:  &paho.ConnectProperties{SessionExpiryInterval: u32(60)},
			WillMessage: &paho.WillMessage{Topic: "load/will", Payload: []byte("w"), QoS: 1, Retain: true}})
		if err != nil {
			return
		}
		ctx, cancel := contextWithTimeout(time.Second)
		_, _ = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "load/#", QoS: 2}}})
		_, _ = c.Publish(ctx, &paho.Publish{Topic: "load/v5", QoS: 2, Payload: []byte("y")})
		cancel()
		_ = c.conn.Close()
	})
	// Connections that never send CONNECT, or close at once.
	worker(func(i int) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		if i == 0 {
			_ = conn.Close()
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Read(make([]byte, 1)) // until the connect deadline or Close
		_ = conn.Close()
	})

	waitFor(t, "traffic to build up", func() bool { return ops.get() > 100 && persisted.get() > 2 })
	closed := make(chan error, 1)
	t0 := time.Now()
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return under traffic")
	}
	t.Logf("Close took %v after %d operations", time.Since(t0), ops.get())
	close(stop)
	wg.Wait()
	t.Logf("workers stopped after %v", time.Since(t0))

	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Error("the listener still accepts connections after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The state file is closed and consistent: a new server opens it and restores the sessions.
	s2 := startServer(t, Options{DBPath: db})
	if _, ok := s2.mochi.Clients.Get("churn311-1"); !ok {
		t.Error("persistent session churn311-1 was not restored after Close under traffic")
	}
}

// An MQTT 5 client learns why the server went away.
func TestCloseTellsMQTT5Clients(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s, 5)
	if ack := r.connect("told", true); ack.ReasonCode != 0 {
		t.Fatalf("CONNACK 0x%02x", ack.ReasonCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pk := r.read()
	if pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != packets.ErrServerShuttingDown.Code {
		t.Errorf("got packet type %d reason 0x%02x, want DISCONNECT 0x8B", pk.FixedHeader.Type, pk.ReasonCode)
	}
	r.expectClosed()
}

// Close waits for the goroutines the server started; mochi's event loop ends right after (it is told, not
// waited for). Afterwards no goroutine runs server code.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "lab.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c5, _ := dialV5(t, s, &paho.Connect{ClientID: "g5", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}})
	c5.sub(t, 1, "g/#")
	c3 := dialV3(t, s, "g3", func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) })
	c3.sub(t, 1, "g/#")
	c3.pub(t, "g/x", 1, true, "x")
	dialRaw(t, s, 4) // a connection that sends nothing
	if serverGoroutines() == "" {
		t.Fatal("the stack filter finds no server goroutine while the server runs")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "server goroutines to end", func() bool { return serverGoroutines() == "" })
}

// serverGoroutines returns the stacks of goroutines running mochi or this package's server code.
func serverGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "mochi-mqtt/server/v2.") || strings.Contains(g, "broker/lab.(*listener)") ||
			strings.Contains(g, "broker/lab.(*store)") {
			found = append(found, g)
		}
	}
	return strings.Join(found, "\n\n")
}

func TestCloseBeforeStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Listener: ln, DBPath: filepath.Join(t.TempDir(), "lab.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on the given listener after Close: %v, want net.ErrClosed", err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Close: no error")
	}
}
