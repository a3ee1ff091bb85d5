package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iotlab/iotlab/broker/awslog"
)

// BenchmarkPersistentQoS1 measures what durability costs, in the same run: two brokers, one keeping
// its state in a bbolt file (Options.StorePath, an fsync per group commit) and one in memory, rounds
// alternating between them, quotas off, QoS 1 everywhere, subscribers with persistent sessions
// (MQTT 5 Session Expiry Interval 3600). Each publisher waits for the PUBACK of each message.
//
// online: 4 publishers × 500 messages to 4 connected subscribers, in deliveries per second. A PUBACK
// goes once the message's batch is on disk or every subscriber has acknowledged the message,
// whichever comes first.
//
// offline: 4 publishers × 500 messages to 4 subscribers that are away, in publishes per second:
// every message is on disk before its PUBACK.
//
//	go test ./broker/ -run '^$' -bench 'PersistentQoS1|StoreCommit' -benchtime 6x
func BenchmarkPersistentQoS1(b *testing.B) {
	for _, online := range []bool{true, false} {
		name := "offline"
		if online {
			name = "online"
		}
		b.Run(name, func(b *testing.B) {
			disk := newPersistBench(b, filepath.Join(b.TempDir(), "broker.db"), online)
			mem := newPersistBench(b, "", online)
			var diskTime, memTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					memTime += mem.round(b, i)
					diskTime += disk.round(b, i)
				} else {
					diskTime += disk.round(b, i)
					memTime += mem.round(b, i)
				}
			}
			b.StopTimer()
			n := float64(b.N * benchPublishers * benchMessages)
			unit := "publishes"
			if online {
				n *= benchSubscribers
				unit = "deliveries"
			}
			diskRate, memRate := n/diskTime.Seconds(), n/memTime.Seconds()
			b.ReportMetric(diskRate, "bbolt-msgs/s")
			b.ReportMetric(memRate, "memory-msgs/s")
			b.ReportMetric(diskRate/memRate, "ratio")
			b.Logf("QoS 1 to %d %s persistent subscribers, %d publishers × %d messages, %d rounds: %s/s with bbolt %.0f, in memory %.0f, ratio %.3f (commits: %d)",
				benchSubscribers, name, benchPublishers, benchMessages, b.N, unit, diskRate, memRate, diskRate/memRate, disk.commits())
		})
	}
}

// persistBench is one broker of BenchmarkPersistentQoS1 with its clients.
type persistBench struct {
	e        *env
	d        device
	online   bool
	pubs     []*paho.Client
	received atomic.Int64
	want     int64
	mu       sync.Mutex // guards done
	done     chan struct{}
	st       *countingStore
}

// countingStore counts commits.
type countingStore struct {
	Store
	n atomic.Int64
}

func (c *countingStore) Apply(ops ...StoreOp) error {
	c.n.Add(1)
	return c.Store.Apply(ops...)
}

func (pb *persistBench) commits() int64 {
	if pb.st == nil {
		return 0
	}
	return pb.st.n.Load()
}

func newPersistBench(b *testing.B, path string, online bool) *persistBench {
	b.Helper()
	pb := &persistBench{online: online}
	var st *countingStore
	if path != "" {
		inner, err := OpenStore(path)
		if err != nil {
			b.Fatal(err)
		}
		st = &countingStore{Store: inner}
		pb.st = st
	}
	pb.e = newEnv(b, func(o *Options) {
		o.Limits = NoQuotas()
		o.Limits.SessionQueueMessages = 1 << 20
		o.Limits.SessionQueueBytes = 1 << 30
		o.LogDir = ""
		if st != nil {
			o.Store = st
		}
	})
	pb.e.stopRecording()
	pb.e.Dir.setLogging(awslog.Config{})
	pb.e.Srv.LoggingChanged()
	pb.e.policy("all", allow("iot:*", "*"))
	pb.d = pb.e.device("persist-bench", "all")
	tc := pb.e.clientTLS(pb.d)
	for i := range benchSubscribers {
		c := pb.connect(b, tc, fmt.Sprintf("psub%d", i), true)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "pbench/#", QoS: 1}}}); err != nil {
			b.Fatal(err)
		}
		cancel()
		if !online {
			_ = c.Disconnect(&paho.Disconnect{})
		}
	}
	for i := range benchPublishers {
		pb.pubs = append(pb.pubs, pb.connect(b, tc, fmt.Sprintf("ppub%d", i), false))
	}
	return pb
}

func (pb *persistBench) connect(b *testing.B, tc *tls.Config, id string, sub bool) *paho.Client {
	b.Helper()
	conn, err := tls.Dial("tcp", pb.e.addr(), tc)
	if err != nil {
		b.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, PingHandler: quietPinger{}, PacketTimeout: 30 * time.Second}
	if sub {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) {
			if pb.received.Add(1) == pb.want {
				pb.mu.Lock()
				close(pb.done)
				pb.mu.Unlock()
			}
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	sei := uint32(3600)
	cp := &paho.Connect{ClientID: id, KeepAlive: 600, CleanStart: !sub}
	if sub {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &sei}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := c.Connect(ctx, cp); err != nil {
		b.Fatalf("connect %s: %v", id, err)
	}
	b.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// round publishes one workload and returns the time until every subscriber has every message
// (online) or until every publish is acknowledged (offline). Offline sessions are emptied afterwards,
// off the clock.
func (pb *persistBench) round(b *testing.B, n int) time.Duration {
	pb.received.Store(0)
	pb.want = benchPublishers * benchMessages * benchSubscribers
	pb.mu.Lock()
	pb.done = make(chan struct{})
	done := pb.done
	pb.mu.Unlock()
	payload := make([]byte, benchPayload)
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range pb.pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := fmt.Sprintf("pbench/%d/%d", i, n)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range benchMessages {
				if _, err := p.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
					b.Errorf("publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !pb.online {
		el := time.Since(start)
		b.StopTimer()
		for i := range benchSubscribers {
			pb.e.Srv.discardQueue(fmt.Sprintf("psub%d", i))
		}
		b.StartTimer()
		return el
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("round %d: %d of %d deliveries", n, pb.received.Load(), pb.want)
	}
	return time.Since(start)
}

// discardQueue drops what is queued for an offline session (benchmarks only).
func (s *Server) discardQueue(id string) {
	ss := s.sessionOf(id)
	if ss == nil {
		return
	}
	ss.mu.Lock()
	for _, e := range ss.stored.drain() {
		s.release(ss, e)
	}
	ss.mu.Unlock()
}

// BenchmarkStoreCommit is the cost of one durable commit of the broker's bbolt file (a queue record
// and its message, as an offline persistent session's QoS 1 message needs): the floor under the
// latency of a PUBACK that waits for the disk.
func BenchmarkStoreCommit(b *testing.B) {
	st, err := OpenStore(filepath.Join(b.TempDir(), "broker.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	payload := make([]byte, benchPayload)
	b.ResetTimer()
	for i := range b.N {
		seq := uint64(i + 1)
		m := &message{seq: seq, topic: "bench/t", payload: payload, qos: 1, created: time.Now()}
		if err := st.Apply(StoreOp{Key: messageKey(seq), Value: mustJSON(m.record())},
			StoreOp{Key: queuedKey("bench-sub", seq), Value: mustJSON(queuedRec{})}); err != nil {
			b.Fatal(err)
		}
	}
}
