package loadtest

import (
	"context"
	"crypto/x509"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Config is one bench run.
type Config struct {
	// Exe is the iotlab binary under test; it also runs baseline (a) (`bench baseline-mochi`).
	Exe string
	// Mosquitto is the mosquitto binary; "" looks for /usr/sbin/mosquitto, then PATH. Without one,
	// baseline (b) is left out and the report says so.
	Mosquitto string
	// Quick is the ≤ 60 s mode: smaller counts, one round.
	Quick bool
	// GoBench is `go test -bench` output to fold into the report (policy engine figures).
	GoBench string
	// Dir is the work directory (certificates, configurations, state dirs, child logs); "" makes a
	// temporary one, removed at the end.
	Dir string
	// Phases limits the run to these phases (see AllPhases); empty runs them all.
	Phases []string
	// MochiTuned, when any of its tuning fields is set, adds a fourth broker to the throughput, latency
	// and connection phases: raw mochi with these options, beside the stock baseline (a), to measure
	// what tuning mochi would buy (the `--mochi-*` flags).
	MochiTuned RawMochi
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// AllPhases, in the order they run.
var AllPhases = []string{"startup", "throughput", "latency", "persistence", "connections", "controlplane"}

// sizes are the counts and bounds of a run.
type sizes struct {
	rounds, messages      int           // throughput: rounds per target, messages per publisher and round
	roundTimeout          time.Duration // one round, all deliveries
	latencySeconds        int
	connections, things   int
	createBudget          time.Duration // the most CreateThing may take
	startups              int
	describeFor, listWalk time.Duration
	settle                time.Duration // before reading a broker's RSS
	// total bounds the whole run and phases each phase: a phase that runs out is cut short and noted,
	// and the next one starts.
	total  time.Duration
	phases map[string]time.Duration
}

func sizesFor(quick bool) sizes {
	if quick {
		return sizes{rounds: 1, messages: 1000, roundTimeout: 10 * time.Second, latencySeconds: 2,
			connections: 500, things: 2000, createBudget: 8 * time.Second, startups: 1,
			describeFor: time.Second, listWalk: time.Second, settle: 500 * time.Millisecond,
			total: time.Minute,
			phases: map[string]time.Duration{"startup": 10 * time.Second, "throughput": 20 * time.Second, "latency": 12 * time.Second,
				"persistence": 8 * time.Second, "connections": 25 * time.Second, "controlplane": 15 * time.Second}}
	}
	// Typically 5 minutes on 2 cores; `make bench` adds about one for the Go benchmarks.
	return sizes{rounds: 5, messages: 3000, roundTimeout: 30 * time.Second, latencySeconds: 5,
		connections: 10000, things: 100000, createBudget: 100 * time.Second, startups: 3,
		describeFor: 3 * time.Second, listWalk: 3 * time.Second, settle: 2 * time.Second,
		total: 7*time.Minute + 30*time.Second,
		phases: map[string]time.Duration{"startup": 30 * time.Second, "throughput": 150 * time.Second, "latency": time.Minute,
			"persistence": time.Minute, "connections": 4 * time.Minute, "controlplane": 150 * time.Second}}
}

// bench is one run in progress.
type bench struct {
	cfg   Config
	sz    sizes
	rep   *Report
	dir   string
	log   io.Writer
	roots *x509.CertPool

	// The fleet instance: iotlab with the bench policy and devices, and the baselines beside it.
	iot      *Proc
	health   Health
	devices  []Device // throughput and latency identities
	mochi    *Proc
	tuned    *Proc // raw mochi with Config.MochiTuned, when asked for
	mosq     *Proc
	mosqBin  string
	fleetDir string // iotlab's state dir (kept between restarts)
}

// Run runs the bench and returns its report; the caller prints it (Print) and writes it (WriteJSON).
// Phases that fail are noted in the report and do not stop the others.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Exe == "" {
		return nil, errors.New("loadtest: Config.Exe (the iotlab binary) is required")
	}
	b := &bench{cfg: cfg, sz: sizesFor(cfg.Quick), log: cfg.Log}
	if b.log == nil {
		b.log = io.Discard
	}
	b.rep = &Report{Schema: 1, Started: time.Now(), Quick: cfg.Quick, Host: hostInfo(), Iotlab: binaryVersion(cfg.Exe)}
	if cfg.MochiTuned.Tuned() {
		b.rep.MochiTuned = cfg.MochiTuned.String()
	}
	b.rep.Settings = Settings{
		PayloadBytes: PayloadBytes, Rounds: b.sz.rounds, Messages: b.sz.messages,
		LatencyRate: 1000, LatencySeconds: b.sz.latencySeconds,
		Connections: b.sz.connections, Things: b.sz.things,
		PublisherWindow: PublisherWindow, DeliveryWindow: DeliveryWindow,
	}
	b.dir = cfg.Dir
	if b.dir != "" {
		if err := os.MkdirAll(b.dir, 0o755); err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "iotlab-bench-")
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		defer os.RemoveAll(d)
		b.dir = d
	}
	// Mosquitto runs as its own user and must reach its files below the work dir.
	_ = os.Chmod(b.dir, 0o711)
	b.mosqBin = findMosquitto(cfg.Mosquitto)
	if b.mosqBin == "" {
		b.rep.Note("baseline (b) left out: mosquitto not found (apt-get install mosquitto)")
	} else if v, err := exec.Command(b.mosqBin, "-h").CombinedOutput(); err == nil || len(v) > 0 {
		if first, _, _ := strings.Cut(string(v), "\n"); strings.HasPrefix(first, "mosquitto version") {
			b.rep.Host.Mosquitto = strings.TrimPrefix(first, "mosquitto version ")
		}
	}
	if lim, err := RaiseOpenFileLimit(); err == nil {
		b.rep.Host.OpenFileMax = lim
	} else {
		b.rep.Note("open-file limit: %v", err)
	}
	defer b.stopFleet()
	ctx, cancel := context.WithTimeout(ctx, b.sz.total)
	defer cancel()

	for _, ph := range AllPhases {
		if len(cfg.Phases) > 0 && !slices.Contains(cfg.Phases, ph) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, b.sz.phases[ph])
		t0 := time.Now()
		b.logf("== %s", ph)
		err := b.phase(pctx, ph)
		cancel()
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				b.rep.Note("%s: %s", ph, line)
				b.logf("%s: %s", ph, line)
			}
		}
		b.logf("== %s done in %.1f s", ph, time.Since(t0).Seconds())
	}
	if cfg.GoBench != "" {
		if err := b.goBench(cfg.GoBench); err != nil {
			b.rep.Note("go benchmarks: %v", err)
		}
	}
	b.rep.Seconds = time.Since(b.rep.Started).Seconds()
	b.rep.Host.LoadAfter = loadAvg()
	return b.rep, ctx.Err()
}

func (b *bench) phase(ctx context.Context, ph string) error {
	switch ph {
	case "startup":
		return b.startup(ctx)
	case "throughput", "latency", "persistence":
		if err := b.startFleet(ctx); err != nil {
			return err
		}
		switch ph {
		case "throughput":
			return b.throughput(ctx)
		case "latency":
			return b.latency(ctx)
		}
		return b.persistence(ctx)
	case "connections":
		return b.connections(ctx)
	case "controlplane":
		return b.controlPlane(ctx)
	}
	return fmt.Errorf("loadtest: unknown phase %q", ph)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// iotlabArgs are the flags of every iotlab the bench starts, after the state-dir flag.
var iotlabArgs = []string{"--limits", "none", "--api-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--lab-addr", "off", "--log-level", "warn"}

// startIotlab starts `iotlab up` on stateDir ("" = --ephemeral).
func (b *bench) startIotlab(ctx context.Context, stateDir, logName string, timeout time.Duration) (*Proc, Health, error) {
	args := []string{"--ephemeral"}
	if stateDir != "" {
		args = []string{"--state-dir", stateDir}
	}
	return StartIotlab(ctx, b.cfg.Exe, filepath.Join(b.dir, logName), timeout, append(args, iotlabArgs...)...)
}

// startup measures `iotlab up --ephemeral` to "ready" on a fresh state dir (CA creation included).
func (b *bench) startup(ctx context.Context) error {
	var secs []float64
	for i := range b.sz.startups {
		p, _, err := b.startIotlab(ctx, "", fmt.Sprintf("startup-%d.log", i), 30*time.Second)
		if err != nil {
			return err
		}
		secs = append(secs, p.Ready.Sub(p.Started).Seconds())
		if err := p.Stop(10 * time.Second); err != nil {
			b.rep.Note("startup: %v", err)
		}
	}
	b.rep.Add(Result{Phase: "startup", Name: "fresh --ephemeral", Target: TargetIotlab, Metric: "median", Value: Median(secs), Unit: "s", Better: "lower", N: len(secs)})
	b.logf("start-up to ready (fresh): %s", fmtDur(time.Duration(Median(secs)*float64(time.Second))))
	return nil
}

// startFleet starts, once, iotlab on a state dir of its own with the bench policy and the throughput
// devices, then the two baselines with iotlab's server certificate.
func (b *bench) startFleet(ctx context.Context) error {
	if b.iot != nil {
		return nil
	}
	b.fleetDir = filepath.Join(b.dir, "fleet-state")
	if err := os.RemoveAll(b.fleetDir); err != nil { // a kept --dir from an earlier run
		return fmt.Errorf("loadtest: %w", err)
	}
	p, h, err := b.startIotlab(ctx, b.fleetDir, "iotlab-fleet.log", 30*time.Second)
	if err != nil {
		return err
	}
	b.iot, b.health = p, h
	if b.roots, err = rootPool(h.RootCA); err != nil {
		return err
	}
	c := NewIoTClient(h, 8)
	if err := CreatePolicy(ctx, c, h); err != nil {
		return err
	}
	if b.devices, err = ProvisionDevices(ctx, c, ClientPrefix+"t", 22, 4); err != nil {
		return err
	}
	return b.startBaselines(ctx)
}

// startBaselines starts raw mochi and mosquitto with the fleet's server certificate.
func (b *bench) startBaselines(ctx context.Context) error {
	files, err := b.baselineFiles()
	if err != nil {
		return err
	}
	if b.mochi, err = StartRawMochi(ctx, b.cfg.Exe, filepath.Join(b.dir, "mochi.log"), RawMochi{CertFile: files.cert, KeyFile: files.key}); err != nil {
		return err
	}
	if b.cfg.MochiTuned.Tuned() {
		mo := b.cfg.MochiTuned
		mo.CertFile, mo.KeyFile = files.cert, files.key
		if b.tuned, err = StartRawMochi(ctx, b.cfg.Exe, filepath.Join(b.dir, "mochi-tuned.log"), mo); err != nil {
			return err
		}
		b.tuned.Name = TargetMochiTuned
	}
	if b.mosqBin != "" {
		port, err := FreePort()
		if err != nil {
			return err
		}
		m := MosquittoConfig{Port: port, CAFile: files.ca, CertFile: files.cert, KeyFile: files.key}
		if b.mosq, err = StartMosquitto(ctx, b.mosqBin, files.dir, m); err != nil {
			return err
		}
	}
	return nil
}

type certFiles struct{ dir, ca, cert, key string }

// baselineFiles copies iotlab's server certificate and key, and its root and device CA (what client
// certificates chain to, for Mosquitto), out of the fleet's state dir.
func (b *bench) baselineFiles() (certFiles, error) {
	dir := filepath.Join(b.dir, "baseline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return certFiles{}, fmt.Errorf("loadtest: %w", err)
	}
	f := certFiles{dir: dir, ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key")}
	var errs []error
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(b.fleetDir, name))
		errs = append(errs, err)
		return data
	}
	ca := append(read("root-ca.pem"), read("device-ca.pem")...)
	cert, key := read("server.pem"), read("server.key")
	if err := errors.Join(errs...); err != nil {
		return certFiles{}, fmt.Errorf("loadtest: iotlab's certificates: %w", err)
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.ca, ca}, {f.cert, cert}, {f.key, key}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return certFiles{}, fmt.Errorf("loadtest: %w", err)
		}
	}
	return f, nil
}

func (b *bench) stopFleet() {
	for _, p := range []*Proc{b.iot, b.mochi, b.tuned, b.mosq} {
		if err := p.Stop(10 * time.Second); err != nil {
			b.rep.Note("%v", err)
		}
	}
	b.iot, b.mochi, b.tuned, b.mosq = nil, nil, nil, nil
}

// targets are the fleet's brokers, in a rotating order so that no broker always runs first.
func (b *bench) targets(round int) []*Proc {
	ts := []*Proc{b.iot, b.mochi}
	for _, p := range []*Proc{b.tuned, b.mosq} {
		if p != nil {
			ts = append(ts, p)
		}
	}
	k := round % len(ts)
	return append(ts[k:], ts[:k]...)
}

func targetName(p *Proc) string {
	switch p.Name {
	case "iotlab":
		return TargetIotlab
	case "raw mochi":
		return TargetMochi
	case TargetMochiTuned:
		return TargetMochiTuned
	}
	return TargetMosquitto
}

func (b *bench) dialer(small bool) func(Device) Dialer {
	return func(d Device) Dialer {
		dl := Dialer{TLS: d.TLS(b.roots)}
		if small {
			dl.ReadBuffer, dl.WriteBuffer = 512, 512
		}
		return dl
	}
}

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

// latency: one publisher → one subscriber, QoS 1, 1,000 msg/s, on each target in turn.
func (b *bench) latency(ctx context.Context) error {
	var errs []error
	for _, t := range b.targets(0) {
		if err := b.latencyOn(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", targetName(t), err))
		}
	}
	return errors.Join(errs...)
}

func (b *bench) latencyOn(ctx context.Context, t *Proc) error {
	pd, sd := b.devices[0], b.devices[1]
	topic := "bench/" + pd.ClientID + "/lat"
	sub, err := b.dialer(false)(sd).Dial(ctx, t.Addr, sd.ClientID, true)
	if err != nil {
		return err
	}
	defer sub.Abort()
	if err := sub.Subscribe(topic, 1, 10*time.Second); err != nil {
		return err
	}
	pub, err := b.dialer(false)(pd).Dial(ctx, t.Addr, pd.ClientID, true)
	if err != nil {
		return err
	}
	defer pub.Abort()
	const rate, warm = 1000, 200
	r, err := measureLatency(ctx, pub, sub, topic, rate, time.Duration(b.sz.latencySeconds)*time.Second, warm)
	if err != nil {
		return err
	}
	if r.Lost > 0 {
		b.rep.Note("latency on %s: %d of %d messages not delivered within 5 s", targetName(t), r.Lost, r.Sent)
	}
	name := "QoS 1 1→1 @1000/s"
	for _, q := range []struct {
		metric string
		p      float64
	}{{"p50", 50}, {"p99", 99}, {"max", 100}} {
		v := Percentile(r.Samples, q.p)
		b.rep.Add(Result{Phase: "latency", Name: name, Target: targetName(t), Metric: q.metric, Value: v.Seconds(), Unit: "s", Better: "lower", N: len(r.Samples)})
	}
	b.logf("latency %s: p50 %s p99 %s (%d samples)", targetName(t), fmtDur(Percentile(r.Samples, 50)), fmtDur(Percentile(r.Samples, 99)), len(r.Samples))
	return nil
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
	b.rep.Add(Result{Phase: "connections", Name: "provision device (CSR + AttachPolicy)", Target: TargetIotlab, Metric: "rate", Value: Rate(n, prov), Unit: "req/s", Better: "higher", N: n})
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
	r, err := connectMany(ctx, p.Addr, devs, 64, b.dialer(true))
	cpu1, _ := p.CPUTime()
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
	b.logf("connections %s: %d in %.1f s (%s/s), RSS %d → %d MB (%s per connection), broker CPU %s per connection",
		name, r.Connected, r.Elapsed.Seconds(), fmtRate(rate), rss0>>20, rss1>>20, fmtBytes(per), fmtMicros((cpu1-cpu0).Seconds()/float64(r.Connected)))
	return nil
}

func rootPool(path string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loadtest: root CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("loadtest: no certificate in %s", path)
	}
	return pool, nil
}

func findMosquitto(path string) string {
	if path != "" {
		return path
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return ""
}

func hostInfo() Host {
	h := Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// binaryVersion describes the binary under test: `iotlab version` and its VCS revision.
func binaryVersion(exe string) string {
	out, err := exec.Command(exe, "version").Output()
	v := strings.TrimSpace(string(out))
	if err != nil || v == "" {
		v = "iotlab (version unknown)"
	}
	if bi, err := buildinfo.ReadFile(exe); err == nil {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			v += " " + rev[:min(12, len(rev))] + dirty
		}
	}
	return v
}
