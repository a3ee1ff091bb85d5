package loadtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// connections: for each broker in turn, a fresh process; n devices connect and subscribe; connects/s
// and the broker's resident memory per idle connection.
func (b *bench) connections(ctx context.Context) error {
	n := b.sz.connections
	have := b.rep.Host.OpenFileMax
	if have < uint64(n)+200 {
		return fmt.Errorf("skipped: %d connections need an open-file limit above %d in both processes; the hard limit here is %d (raise it with ulimit -Hn or prlimit)", n, n+200, have)
	}
	if err := b.startFleet(ctx); err != nil {
		return err
	}
	c := NewIoTClient(b.health, 8)
	t0 := time.Now()
	devs, err := ProvisionDevices(ctx, c, ClientPrefix+"d", n, 8)
	if err != nil {
		return err
	}
	prov := time.Since(t0)
	b.rep.Add(Result{Phase: "connections", Name: "provision device (CSR + AttachPolicy)", Target: TargetIotlab, Metric: "rate", Value: Rate(n, prov), Unit: "devices/s", Better: "higher", N: n})
	b.logf("provisioned %d devices in %.1f s", n, prov.Seconds())
	// Every broker starts afresh, so that the memory measured is the connections'.
	b.stopFleet()

	var errs []error
	for _, name := range []string{TargetIotlab, TargetMochi, TargetMochiTuned, TargetMosquitto} {
		if (name == TargetMosquitto && b.mosqBin == "") || (name == TargetMochiTuned && !b.cfg.MochiTuned.Tuned()) {
			continue
		}
		if err := b.connectionsOn(ctx, name, devs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (b *bench) connectionsOn(ctx context.Context, name string, devs []Device) error {
	n := len(devs)
	var p *Proc
	var err error
	switch name {
	case TargetIotlab:
		p, _, err = b.startIotlab(ctx, b.fleetDir, "iotlab-connections.log", time.Minute)
		if err == nil {
			b.rep.Add(Result{Phase: "startup", Name: fmt.Sprintf("state dir with %s devices", groupThousands(int64(n))), Target: TargetIotlab, Metric: "once", Value: p.Ready.Sub(p.Started).Seconds(), Unit: "s", Better: "lower", N: 1})
		}
	case TargetMochi, TargetMochiTuned:
		var files certFiles
		if files, err = b.baselineFiles(); err == nil {
			mo := RawMochi{}
			if name == TargetMochiTuned {
				mo = b.cfg.MochiTuned
			}
			mo.CertFile, mo.KeyFile = files.cert, files.key
			p, err = StartRawMochi(ctx, b.cfg.Exe, filepath.Join(b.dir, name+"-connections.log"), mo)
		}
	case TargetMosquitto:
		var files certFiles
		var port int
		if files, err = b.baselineFiles(); err == nil {
			if port, err = FreePort(); err == nil {
				p, err = StartMosquitto(ctx, b.mosqBin, files.dir, MosquittoConfig{Port: port, CAFile: files.ca, CertFile: files.cert, KeyFile: files.key})
			}
		}
	}
	if err != nil {
		return err
	}
	defer p.Stop(15 * time.Second)
	if lim, err := p.OpenFileLimit(); err != nil || lim < uint64(n)+100 {
		return fmt.Errorf("skipped: the broker's open-file limit is %d (%v); %d connections need more", lim, err, n)
	}
	time.Sleep(b.sz.settle)
	rss0, err := p.RSS()
	if err != nil {
		return err
	}
	cpu0, _ := p.CPUTime()
	gen0, _ := selfCPUTime()
	r, err := connectMany(ctx, p.Addr, devs, 64, b.dialer(true))
	cpu1, _ := p.CPUTime()
	gen1, _ := selfCPUTime()
	defer closeAll(r.Clients)
	if err != nil {
		return fmt.Errorf("%d of %d connected: %w", r.Connected, n, err)
	}
	time.Sleep(b.sz.settle)
	rss1, err := p.RSS()
	if err != nil {
		return err
	}
	rate := Rate(r.Connected, r.Elapsed)
	per := float64(rss1-rss0) / float64(r.Connected)
	const phase, wl = "connections", "mTLS connect + subscribe"
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "rate", Value: rate, Unit: "conn/s", Better: "higher", N: r.Connected})
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "p99", Value: Percentile(r.Latency, 99).Seconds(), Unit: "s", Better: "lower", N: r.Connected})
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "rss_per_conn", Value: per, Unit: "B", Better: "lower", N: r.Connected})
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "rss", Value: float64(rss1), Unit: "B", Better: "lower", N: r.Connected})
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "cpu_per_conn", Value: (cpu1 - cpu0).Seconds() / float64(r.Connected), Unit: "s", Better: "lower", N: r.Connected})
	// The generator's side of the same handshakes shares the two cores: it bounds connects/s too.
	b.rep.Add(Result{Phase: phase, Name: wl, Target: name, Metric: "generator_cpu_per_conn", Value: (gen1 - gen0).Seconds() / float64(r.Connected), Unit: "s", Better: "lower", N: r.Connected})
	b.logf("connections %s: %d in %.1f s (%s/s), RSS %d → %d MB (%s per connection), broker CPU %s per connection",
		name, r.Connected, r.Elapsed.Seconds(), fmtRate(rate), rss0>>20, rss1>>20, fmtBytes(per), fmtMicros((cpu1-cpu0).Seconds()/float64(r.Connected)))
	return nil
}
