package client_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/iotlab/iotlab/broker/lab"
	"github.com/iotlab/iotlab/exercises/client"
)

func startLab(t *testing.T) string {
	t.Helper()
	s, err := lab.New(lab.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr().String()
}

// TestPublishSubscribeBothVersions: a 3.1.1 publisher and a 5 subscriber, and every packet traced.
func TestPublishSubscribeBothVersions(t *testing.T) {
	addr := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex // guards kinds
	var kinds []string
	sub, ack, err := client.Dial(ctx, client.Options{Addr: addr, Version: client.V5, ClientID: "sub", Clean: true,
		OnPacket: func(tr client.Trace) { mu.Lock(); kinds = append(kinds, tr.Summary().Kind); mu.Unlock() }})
	if err != nil || ack.Code != 0 {
		t.Fatalf("dial: %v %+v", err, ack)
	}
	defer sub.Disconnect()
	codes, err := sub.Subscribe(ctx, client.Sub{Filter: "home/+/temperature", QoS: 1})
	if err != nil || len(codes) != 1 || codes[0] != 1 {
		t.Fatalf("subscribe: % x %v", codes, err)
	}
	pub, _, err := client.Dial(ctx, client.Options{Addr: addr, ClientID: "pub", Clean: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect()
	if ack, err := pub.Publish(ctx, client.Message{Topic: "home/hall/temperature", Payload: []byte("21.5"), QoS: 1, Retain: true}); err != nil || ack.Code != 0 {
		t.Fatalf("publish: %+v %v", ack, err)
	}
	m, ok := sub.WaitFor(ctx, 5*time.Second, func(m client.Message) bool { return m.Topic == "home/hall/temperature" })
	if !ok || string(m.Payload) != "21.5" || m.QoS != 1 {
		t.Fatalf("received %+v %v", m, ok)
	}
	if n, err := sub.Next(ctx); err != nil || n.Topic != m.Topic {
		t.Fatalf("Next = %+v %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"connect", "connack", "subscribe", "suback", "receive"}
	for i, k := range want {
		if i >= len(kinds) || kinds[i] != k {
			t.Fatalf("traced %v, want a prefix %v", kinds, want)
		}
	}
}

// TestNoConnack: a server that closes the connection after CONNECT gives ErrNoConnack; nothing
// listening gives ErrUnreachable.
func TestNoConnack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Read(make([]byte, 64))
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := client.Dial(ctx, client.Options{Addr: ln.Addr().String(), ClientID: "x"}); !errors.Is(err, client.ErrNoConnack) {
		t.Fatalf("got %v, want ErrNoConnack", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, _, err := client.Dial(ctx, client.Options{Addr: addr, ClientID: "x"}); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
}
