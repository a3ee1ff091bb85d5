package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/iotlab/iotlab/broker/awslog"
)

// Fan-in/fan-out workload: benchPublishers clients each publish benchMessages QoS 1 messages on their
// own topic; benchSubscribers clients subscribe to all of them, so every message reaches every
// subscriber (benchPublishers × benchMessages × benchSubscribers deliveries per round).
const (
	benchPublishers  = 4
	benchSubscribers = 4
	benchMessages    = 500
	benchPayload     = 64
)

// BenchmarkFanInFanOutQoS1 compares, in the same run, iotlab's broker with every check on (mutual TLS
// identity, iot:Connect/Publish/Subscribe/Receive through policies with variables, topic rules,
// lifecycle events; quotas off as with `--limits none`, V2 logging not configured) against raw
// mochi-mqtt v2.7.9 with only an allow-all hook (mochi refuses every client without one) and the same
// TLS configuration. Rounds alternate between the two. It reports both rates and their ratio
// (goal ≥ 0.85):
//
//	go test ./broker/ -run '^$' -bench FanInFanOut -benchtime 10x
func BenchmarkFanInFanOutQoS1(b *testing.B) {
	e := newEnv(b, func(o *Options) {
		o.Limits = NoQuotas()
		o.LogDir = ""
	})
	e.stopRecording()
	e.Dir.setLogging(awslog.Config{})
	e.Srv.LoggingChanged()
	e.policy("bench",
		allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}"),
		allow("iot:Publish", "topic/bench/${iot:Connection.Thing.ThingName}/*"),
		allow("iot:Subscribe", "topicfilter/bench/+/*"),
		allow("iot:Receive", "topic/bench/*"),
		deny("iot:Receive", "topic/bench/secret/*"))
	d := e.device("bench", "bench")
	var things []string
	for i := 0; i < benchPublishers; i++ {
		things = append(things, fmt.Sprintf("pub%d", i))
	}
	for i := 0; i < benchSubscribers; i++ {
		things = append(things, fmt.Sprintf("sub%d", i))
	}
	for _, th := range things {
		e.Dir.addThing(th, nil, d.ID)
	}
	iot := newBenchClients(b, e.addr(), e.clientTLS(d), "iotlab")

	raw := startRawMochi(b, e.Opts.TLSConfig)
	moc := newBenchClients(b, raw, e.clientTLS(d), "mochi")

	var iotTime, mochiTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			mochiTime += moc.round(b, i)
			iotTime += iot.round(b, i)
		} else {
			iotTime += iot.round(b, i)
			mochiTime += moc.round(b, i)
		}
	}
	b.StopTimer()
	deliveries := float64(b.N * benchPublishers * benchMessages * benchSubscribers)
	iotRate, mochiRate := deliveries/iotTime.Seconds(), deliveries/mochiTime.Seconds()
	b.ReportMetric(iotRate, "iotlab-msgs/s")
	b.ReportMetric(mochiRate, "mochi-msgs/s")
	b.ReportMetric(iotRate/mochiRate, "ratio")
	b.Logf("QoS 1 fan-in/fan-out, %d publishers × %d messages × %d subscribers, %d rounds: iotlab %.0f msgs/s, raw mochi %.0f msgs/s, ratio %.3f (goal ≥ 0.85)",
		benchPublishers, benchMessages, benchSubscribers, b.N, iotRate, mochiRate, iotRate/mochiRate)
}

// startRawMochi runs mochi-mqtt v2.7.9 as it comes, plus an allow-all hook, on 127.0.0.1:0.
func startRawMochi(b *testing.B, tc *tls.Config) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.ReceiveMaximum = noQuotaReceiveMaximum // what iotlab advertises under NoQuotas
	s := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(allowAllHook), nil); err != nil {
		b.Fatal(err)
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "tls", Address: addr, TLSConfig: tc.Clone()})); err != nil {
		b.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		done := make(chan struct{})
		go func() { _ = s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeTimeout):
			b.Log("raw mochi did not close in time (upstream issue #488)")
		}
	})
	return addr
}

type benchClients struct {
	pubs     []*paho.Client
	subs     []*paho.Client
	received atomic.Int64
	want     int64
	done     chan struct{}
	mu       sync.Mutex // guards done
}

func newBenchClients(b *testing.B, addr string, tc *tls.Config, name string) *benchClients {
	b.Helper()
	bc := &benchClients{}
	connect := func(id string, onMsg func()) *paho.Client {
		conn, err := tls.Dial("tcp", addr, tc)
		if err != nil {
			b.Fatal(err)
		}
		cfg := paho.ClientConfig{Conn: conn, PingHandler: quietPinger{}, PacketTimeout: 30 * time.Second}
		if onMsg != nil {
			cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) {
				onMsg()
				return true, nil
			}}
		}
		c := paho.NewClient(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 600, CleanStart: true}); err != nil {
			b.Fatalf("%s: connect %s: %v", name, id, err)
		}
		b.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
		return c
	}
	count := func() {
		if bc.received.Add(1) == bc.want {
			bc.mu.Lock()
			close(bc.done)
			bc.mu.Unlock()
		}
	}
	for i := 0; i < benchSubscribers; i++ {
		c := connect(fmt.Sprintf("sub%d", i), count)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "bench/+/#", QoS: 1}}}); err != nil {
			b.Fatalf("%s: subscribe: %v", name, err)
		}
		cancel()
		bc.subs = append(bc.subs, c)
	}
	for i := 0; i < benchPublishers; i++ {
		bc.pubs = append(bc.pubs, connect(fmt.Sprintf("pub%d", i), nil))
	}
	return bc
}

// round publishes one workload and returns the time until every subscriber has every message.
func (bc *benchClients) round(b *testing.B, n int) time.Duration {
	bc.received.Store(0)
	bc.want = benchPublishers * benchMessages * benchSubscribers
	bc.mu.Lock()
	bc.done = make(chan struct{})
	done := bc.done
	bc.mu.Unlock()
	payload := make([]byte, benchPayload)
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range bc.pubs {
		wg.Add(1)
		go func(i int, p *paho.Client) {
			defer wg.Done()
			topic := fmt.Sprintf("bench/pub%d/%d", i, n)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for m := 0; m < benchMessages; m++ {
				if _, err := p.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
					b.Errorf("publish: %v", err)
					return
				}
			}
		}(i, p)
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("round %d: %d of %d deliveries", n, bc.received.Load(), bc.want)
	}
	return time.Since(start)
}
