package loadtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Workloads of the throughput phase.
func (b *bench) workloads() []Workload {
	m := b.sz.messages
	return []Workload{
		{Name: "QoS 0 fan-in", QoS: 0, Publishers: 10, Subscribers: 1, Messages: m},
		{Name: "QoS 0 fan-out", QoS: 0, Publishers: 1, Subscribers: 10, Messages: m},
		{Name: "QoS 1 fan-in", QoS: 1, Publishers: 10, Subscribers: 1, Messages: m},
		{Name: "QoS 1 fan-out", QoS: 1, Publishers: 1, Subscribers: 10, Messages: m},
	}
}

func (b *bench) throughput(ctx context.Context) error {
	var errs []error
	for _, w := range b.workloads() {
		var cs []contender
		for _, t := range b.targets(0) {
			cs = append(cs, contender{label: targetName(t), target: t, w: w, devs: b.devices})
		}
		errs = append(errs, b.runWorkload(ctx, "throughput", cs))
	}
	return errors.Join(errs...)
}

// contender is one workload on one broker, under a label (the target name in results).
type contender struct {
	label  string
	target *Proc
	w      Workload
	devs   []Device
	flow   *flow
	rates  []float64     // one per round
	cpu    time.Duration // the broker's CPU time over the rounds
}

// runWorkload connects every contender's clients, warms each up, runs the rounds alternating the
// contenders (rotating who goes first), and records one rate per contender: the median of its rounds'
// (the machine is shared: a median shrugs off a round that met someone else's burst).
func (b *bench) runWorkload(ctx context.Context, phase string, cs []contender) error {
	defer func() {
		for _, c := range cs {
			if c.flow != nil {
				c.flow.close()
			}
		}
	}()
	var errs []error
	fail := func(c *contender, err error) {
		errs = append(errs, fmt.Errorf("%s on %s: %w", c.w.Name, c.label, err))
		if c.flow != nil {
			c.flow.close()
			c.flow = nil
		}
	}
	for i := range cs {
		c := &cs[i]
		f, err := connectFlow(ctx, c.target.Addr, c.devs, c.w, b.dialer(false))
		if err != nil {
			fail(c, err)
			continue
		}
		c.flow = f
		if _, err := f.round(ctx, max(c.w.Messages/10, 1), b.sz.roundTimeout); err != nil { // warm-up
			fail(c, err)
		}
	}
	for r := range b.sz.rounds {
		for k := range cs {
			c := &cs[(k+r)%len(cs)]
			if c.flow == nil {
				continue
			}
			cpu0, _ := c.target.CPUTime()
			d, err := c.flow.round(ctx, c.w.Messages, b.sz.roundTimeout)
			if err != nil {
				fail(c, err)
				continue
			}
			cpu1, _ := c.target.CPUTime()
			c.cpu += cpu1 - cpu0
			c.rates = append(c.rates, Rate(c.w.Deliveries(), d))
			b.logf("%s %s round %d: %s: %s msgs/s", phase, c.w.Name, r+1, c.label, fmtRate(Rate(c.w.Deliveries(), d)))
		}
	}
	for _, c := range cs {
		if c.flow == nil {
			continue
		}
		b.rep.Add(Result{Phase: phase, Name: c.w.Name, Target: c.label, Metric: "rate", Value: Median(c.rates), Unit: "msgs/s", Better: "higher",
			N: c.w.Deliveries() * len(c.rates), Min: slices.Min(c.rates), Max: slices.Max(c.rates)})
		n := c.w.Deliveries() * len(c.rates)
		b.rep.Add(Result{Phase: phase, Name: c.w.Name, Target: c.label, Metric: "cpu_per_msg", Value: c.cpu.Seconds() / float64(n), Unit: "s", Better: "lower", N: n})
	}
	return errors.Join(errs...)
}

// latency: one publisher → one subscriber, QoS 1, 1,000 msg/s. The time is cut in one-second slices
// that rotate over the brokers, so that a burst of someone else's load on the machine falls on all of
// them rather than on whichever was being measured.
func (b *bench) latency(ctx context.Context) error {
	samples := map[*Proc][]time.Duration{}
	lost, sent := map[*Proc]int{}, map[*Proc]int{}
	failed := map[*Proc]error{}
	for slice := range b.sz.latencySeconds {
		for _, t := range b.targets(slice) {
			if failed[t] != nil {
				continue
			}
			r, err := b.latencySlice(ctx, t, time.Second)
			if err != nil {
				failed[t] = err
				continue
			}
			samples[t] = append(samples[t], r.Samples...)
			lost[t] += r.Lost
			sent[t] += r.Sent
		}
	}
	const name = "QoS 1 1→1 @1000/s"
	var errs []error
	for _, t := range b.targets(0) {
		if err := failed[t]; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", targetName(t), err))
			continue
		}
		if lost[t] > 0 {
			b.rep.Note("latency on %s: %d of %d messages not delivered within 5 s", targetName(t), lost[t], sent[t])
		}
		ss := samples[t]
		for _, q := range []struct {
			metric string
			p      float64
		}{{"p50", 50}, {"p99", 99}, {"max", 100}} {
			b.rep.Add(Result{Phase: "latency", Name: name, Target: targetName(t), Metric: q.metric, Value: Percentile(ss, q.p).Seconds(), Unit: "s", Better: "lower", N: len(ss)})
		}
		b.logf("latency %s: p50 %s p99 %s (%d samples)", targetName(t), fmtDur(Percentile(ss, 50)), fmtDur(Percentile(ss, 99)), len(ss))
	}
	return errors.Join(errs...)
}

// latencySlice connects a publisher and a subscriber to t and measures for d, after a short warm-up.
func (b *bench) latencySlice(ctx context.Context, t *Proc, d time.Duration) (LatencyResult, error) {
	pd, sd := b.devices[0], b.devices[1]
	topic := "bench/" + pd.ClientID + "/lat"
	sub, err := b.dialer(false)(sd).Dial(ctx, t.Addr, sd.ClientID, true)
	if err != nil {
		return LatencyResult{}, err
	}
	defer sub.Abort()
	if err := sub.Subscribe(topic, 1, 10*time.Second); err != nil {
		return LatencyResult{}, err
	}
	pub, err := b.dialer(false)(pd).Dial(ctx, t.Addr, pd.ClientID, true)
	if err != nil {
		return LatencyResult{}, err
	}
	defer pub.Abort()
	const rate, warm = 1000, 100
	return measureLatency(ctx, pub, sub, topic, rate, d, warm)
}

// persistence: iotlab's QoS 1 fan-in with the subscriber on a clean session and on a persistent one
// (Clean Session 0: each message is queued in the session, on disk when the broker has a store).
func (b *bench) persistence(ctx context.Context) error {
	w := b.workloads()[2]
	clean, persistent := w, w
	clean.Name = "QoS 1 fan-in, clean session"
	persistent.Name = "QoS 1 fan-in, persistent session"
	persistent.Persistent = true
	durable := "no"
	if _, err := os.Stat(filepath.Join(b.health.StateDir, "broker.db")); err == nil {
		durable = "yes"
	}
	b.rep.Note("persistence: iotlab state dir has broker.db (persistent sessions on disk): %s", durable)
	// Two sets of identities, so that both flows can be connected at once and their rounds alternate.
	n := w.Publishers + w.Subscribers
	err := b.runWorkload(ctx, "persistence", []contender{
		{label: TargetIotlab, target: b.iot, w: clean, devs: b.devices[:n]},
		{label: TargetIotlab, target: b.iot, w: persistent, devs: b.devices[n:]},
	})
	// End the persistent session: a broker keeps it (and its subscription) otherwise.
	sd := b.devices[n+w.Publishers]
	if c, derr := b.dialer(false)(sd).Dial(ctx, b.iot.Addr, sd.ClientID, true); derr == nil {
		_ = c.Close()
	}
	return err
}
