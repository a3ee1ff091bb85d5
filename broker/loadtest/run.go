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
	// Connections is the number of devices of the connections phase; 0 takes the mode's (10,000, or
	// 500 with Quick).
	Connections int
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
	latencySeconds        int           // one-second latency slices per broker
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
	if cfg.Connections > 0 {
		b.sz.connections = cfg.Connections
	}
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
var iotlabArgs = []string{"--limits", "none", "--api-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--lab-addr", "off", "--https-addr", "off", "--log-level", "warn"}

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
