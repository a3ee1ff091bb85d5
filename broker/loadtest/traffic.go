package loadtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// PayloadBytes is the size of every PUBLISH payload of the throughput and latency phases.
const PayloadBytes = 100

// Workload is a throughput shape: Publishers each send Messages per round, every message reaching
// every one of Subscribers (fan-in: many → 1 on a wildcard; fan-out: 1 → many on the same topic).
type Workload struct {
	Name        string
	QoS         byte
	Publishers  int
	Subscribers int
	Messages    int // per publisher and round
	// Persistent subscribers use Clean Session 0 (their session and QoS 1 queue outlive the connection).
	Persistent bool
}

// Deliveries is the number of messages subscribers receive in one round.
func (w Workload) Deliveries() int { return w.Publishers * w.Messages * w.Subscribers }

// Flow control of a round, the same for every broker: a publisher keeps at most PublisherWindow QoS 1
// messages unacknowledged (a client's in-flight window), and the whole round keeps at most
// DeliveryWindow deliveries outstanding (sent and not yet received), so that no broker's per-client
// queue (mochi's 8,192, Mosquitto's in-flight list) overflows and what is measured is the rate a
// broker sustains, not how fast it drops. DeliveryWindow must exceed Publishers × (fan-out − 1) (it
// does by far) for credits taken one at a time not to deadlock.
const (
	PublisherWindow = 100
	DeliveryWindow  = 2000
)

// flow is one workload's clients on one broker.
type flow struct {
	w        Workload
	pubs     []*Client
	subs     []*Client
	topics   []string // per publisher
	inflight []chan struct{}
	credit   chan struct{}

	cur atomic.Pointer[roundState] // the round in progress, read by the subscribers' read loops
}

// roundState counts one round's deliveries.
type roundState struct {
	want     int64
	received atomic.Int64
	start    time.Time
	elapsed  atomic.Int64 // from start to the last delivery
	once     sync.Once
	done     chan struct{}
}

// flowSeq numbers flows.
var flowSeq atomic.Int64

// connectFlow connects and subscribes the workload's clients; devices supply identities
// (Subscribers + Publishers of them).
func connectFlow(ctx context.Context, addr string, devs []Device, w Workload, dialer func(Device) Dialer) (*flow, error) {
	if len(devs) < w.Publishers+w.Subscribers {
		return nil, fmt.Errorf("loadtest: %s needs %d devices, have %d", w.Name, w.Publishers+w.Subscribers, len(devs))
	}
	f := &flow{w: w, credit: make(chan struct{}, DeliveryWindow)}
	f.cur.Store(&roundState{want: -1, done: make(chan struct{})})
	var err error
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	pubDevs, subDevs := devs[:w.Publishers], devs[w.Publishers:w.Publishers+w.Subscribers]
	// Each flow has a topic level of its own, so that two flows on one broker never cross.
	leaf := fmt.Sprintf("flow%d", flowSeq.Add(1))
	filter := "bench/+/" + leaf
	if w.Publishers == 1 {
		filter = "bench/" + pubDevs[0].ClientID + "/" + leaf
	}
	for _, dev := range subDevs {
		var c *Client
		if c, err = dialer(dev).Dial(ctx, addr, dev.ClientID, !w.Persistent); err != nil {
			return nil, err
		}
		f.subs = append(f.subs, c)
		if err = c.Subscribe(filter, w.QoS, 10*time.Second); err != nil {
			return nil, err
		}
		c.OnPublish = f.delivered
		c.Start()
	}
	for _, dev := range pubDevs {
		var c *Client
		if c, err = dialer(dev).Dial(ctx, addr, dev.ClientID, true); err != nil {
			return nil, err
		}
		f.pubs = append(f.pubs, c)
		f.topics = append(f.topics, "bench/"+dev.ClientID+"/"+leaf)
		win := make(chan struct{}, PublisherWindow)
		f.inflight = append(f.inflight, win)
		c.OnPuback = func(uint16) {
			select {
			case <-win:
			default:
			}
		}
		c.Start()
	}
	return f, nil
}

func (f *flow) delivered(_, _ []byte) {
	select {
	case <-f.credit:
	default:
	}
	r := f.cur.Load()
	if r.received.Add(1) == r.want {
		r.elapsed.Store(int64(time.Since(r.start)))
		r.once.Do(func() { close(r.done) })
	}
}

// round sends one round and returns the time from the first PUBLISH to the last delivery. It fails
// after timeout, or as soon as no delivery has arrived for stallAfter (messages lost).
func (f *flow) round(ctx context.Context, messages int, timeout time.Duration) (time.Duration, error) {
	r := &roundState{want: int64(f.w.Publishers * messages * f.w.Subscribers), done: make(chan struct{}), start: time.Now()}
	for len(f.credit) > 0 { // a previous round that failed
		<-f.credit
	}
	payload := make([]byte, PayloadBytes)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stalled atomic.Bool
	go func() {
		tick := time.NewTicker(stallAfter / 10)
		defer tick.Stop()
		seen, since := int64(-1), time.Now()
		for {
			select {
			case <-r.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if n := r.received.Load(); n != seen {
					seen, since = n, time.Now()
				} else if time.Since(since) >= stallAfter {
					stalled.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	errs := make(chan error, len(f.pubs))
	f.cur.Store(r)
	for i, c := range f.pubs {
		go func() { errs <- f.publish(ctx, c, f.topics[i], f.inflight[i], messages, payload) }()
	}
	var err error
	for range f.pubs {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err == nil {
		select {
		case <-r.done:
			return time.Duration(r.elapsed.Load()), nil
		case <-ctx.Done():
		}
	}
	n := r.received.Load()
	switch {
	case stalled.Load():
		return 0, fmt.Errorf("loadtest: %s: %d of %d deliveries, then none for %s: messages lost", f.w.Name, n, r.want, stallAfter)
	case err != nil:
		return 0, fmt.Errorf("%w (%d of %d deliveries)", err, n, r.want)
	}
	return 0, fmt.Errorf("loadtest: %s: %d of %d deliveries within %s", f.w.Name, n, r.want, timeout)
}

// stallAfter is how long a round may see no delivery at all before it is declared lost.
const stallAfter = 5 * time.Second

func (f *flow) publish(ctx context.Context, c *Client, topic string, win chan struct{}, n int, payload []byte) error {
	take := func(ch chan struct{}) error {
		select {
		case ch <- struct{}{}:
			return nil
		default:
		}
		if err := c.Flush(); err != nil { // about to wait: send what is buffered first
			return err
		}
		select {
		case ch <- struct{}{}:
			return nil
		case <-c.Done():
			return fmt.Errorf("loadtest: publisher connection lost: %v", c.Err())
		case <-ctx.Done():
			return fmt.Errorf("loadtest: %s: publisher stopped: %w", f.w.Name, ctx.Err())
		}
	}
	for range n {
		for range f.w.Subscribers {
			if err := take(f.credit); err != nil {
				return err
			}
		}
		if f.w.QoS > 0 {
			if err := take(win); err != nil {
				return err
			}
		}
		if _, err := c.Publish(topic, f.w.QoS, payload); err != nil {
			return err
		}
	}
	return c.Flush()
}

func (f *flow) close() {
	for _, c := range append(f.pubs, f.subs...) {
		_ = c.Close()
	}
}

// LatencyResult holds one broker's latency samples.
type LatencyResult struct {
	Samples []time.Duration
	Sent    int
	Lost    int
}

// measureLatency publishes at rate msg/s for d from pub to sub (both QoS 1) and records, for each
// delivery, the time from just before its PUBLISH was written to its arrival (one process, one
// monotonic clock). The first warm messages are not recorded.
func measureLatency(ctx context.Context, pub, sub *Client, topic string, rate int, d time.Duration, warm int) (LatencyResult, error) {
	n := int(d.Seconds()*float64(rate)) + warm
	base := time.Now()
	lat := make([]time.Duration, n)
	seen := make([]bool, n)
	var got atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	sub.OnPublish = func(_, p []byte) {
		if len(p) < 16 {
			return
		}
		sent := time.Duration(binary.BigEndian.Uint64(p))
		seq := int(binary.BigEndian.Uint64(p[8:]))
		if seq < n && !seen[seq] {
			seen[seq] = true
			lat[seq] = time.Since(base) - sent
			if got.Add(1) == int64(n) {
				once.Do(func() { close(all) })
			}
		}
	}
	pub.OnPuback = func(uint16) {}
	sub.Start()
	pub.Start()
	interval := time.Second / time.Duration(rate)
	payload := make([]byte, PayloadBytes)
	next := time.Now()
	for i := range n {
		next = next.Add(interval)
		if w := time.Until(next); w > 0 {
			time.Sleep(w)
		}
		if ctx.Err() != nil {
			return LatencyResult{}, ctx.Err()
		}
		binary.BigEndian.PutUint64(payload, uint64(time.Since(base)))
		binary.BigEndian.PutUint64(payload[8:], uint64(i))
		if _, err := pub.Publish(topic, 1, payload); err != nil {
			return LatencyResult{}, err
		}
		if err := pub.Flush(); err != nil {
			return LatencyResult{}, err
		}
	}
	select {
	case <-all:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	// Once its read loop has ended, nothing writes lat and seen any more.
	r := LatencyResult{Sent: n - warm}
	_ = pub.Close()
	_ = sub.Close()
	<-sub.Done()
	for i := warm; i < n; i++ {
		if seen[i] {
			r.Samples = append(r.Samples, lat[i])
		} else {
			r.Lost++
		}
	}
	return r, nil
}

// ConnectResult is one broker's connection-scale run.
type ConnectResult struct {
	Connected int
	Elapsed   time.Duration   // first dial to last SUBACK
	Latency   []time.Duration // per device: TLS handshake + CONNECT/CONNACK + SUBSCRIBE/SUBACK
	Clients   []*Client
}

// connectMany connects every device (workers at a time) and subscribes each to its own command topic,
// keeping the connections open and idle. It stops at the first failure.
func connectMany(ctx context.Context, addr string, devs []Device, workers int, dial func(Device) Dialer) (ConnectResult, error) {
	r := ConnectResult{Latency: make([]time.Duration, len(devs)), Clients: make([]*Client, len(devs))}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range min(workers, len(devs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(devs) {
					return
				}
				t0 := time.Now()
				c, err := dial(devs[i]).Dial(ctx, addr, devs[i].ClientID, true)
				if err == nil {
					if err = c.Subscribe("bench/"+devs[i].ClientID+"/cmd", 1, 10*time.Second); err != nil {
						c.Abort()
					}
				}
				if err != nil {
					err = fmt.Errorf("device %d of %d: %w", i+1, len(devs), err)
					failed.CompareAndSwap(nil, &err)
					return
				}
				r.Latency[i] = time.Since(t0)
				r.Clients[i] = c
			}
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	var kept []*Client
	var lat []time.Duration
	for i, c := range r.Clients {
		if c != nil {
			kept = append(kept, c)
			lat = append(lat, r.Latency[i])
		}
	}
	r.Clients, r.Latency, r.Connected = kept, lat, len(kept)
	if p := failed.Load(); p != nil {
		return r, *p
	}
	return r, ctx.Err()
}

// closeAll closes connections without DISCONNECT, workers at a time.
func closeAll(cs []*Client) {
	var wg sync.WaitGroup
	ch := make(chan *Client)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				_ = c.Abort()
			}
		}()
	}
	for _, c := range cs {
		ch <- c
	}
	close(ch)
	wg.Wait()
}
