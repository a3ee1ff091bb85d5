package loadtest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Goals from the issue; the table marks each ratio against its goal, and nothing fails on them.
const (
	gateVsMochi          = 0.85 // throughput, iotlab ÷ (a)
	stretchVsMosquitto0  = 1.8  // QoS 0 throughput, iotlab ÷ (b)
	stretchVsMosquitto1  = 1.5  // QoS 1 throughput, iotlab ÷ (b)
	goalConnectsPerSec   = 2000
	goalBytesPerIdleConn = 20 << 10
)

// Print writes the report as tables.
func Print(w io.Writer, r *Report) {
	mode := "full"
	if r.Quick {
		mode = "--quick"
	}
	fmt.Fprintf(w, "\niotlab bench — %s — %s, %s, %.0f s\n", r.Iotlab, r.Started.Format(time.DateTime), mode, r.Seconds)
	fmt.Fprintf(w, "machine: %d CPUs, %s, kernel %s, mosquitto %s; load average %s before, %s after\n",
		r.Host.CPUs, r.Host.GoVersion, orDash(r.Host.Kernel), orDash(r.Host.Mosquitto), orDash(r.Host.LoadBefore), orDash(r.Host.LoadAfter))
	fmt.Fprintln(w, "Each ratio compares figures from this run on this machine; generator and brokers share its CPUs, and any")
	fmt.Fprintln(w, "other load on it (see the load averages) weighs on every figure. Compare runs with `iotlab bench compare`.")
	fmt.Fprintln(w, "iotlab = `iotlab up --limits none` (mTLS identity, policies, events, rules on); (a) = raw mochi v2.7.9 + allow-all")
	fmt.Fprintln(w, "hook, same TLS config; (b) = Mosquitto, mTLS + equivalent ACL, max_inflight_messages 0.")

	printThroughput(w, r)
	printLatency(w, r)
	printConnections(w, r)
	printControlPlane(w, r)
	printStartup(w, r)
	printPersistence(w, r)
	printPolicy(w, r)
	printMochiTuned(w, r)
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes")
		for _, n := range r.Notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func (r *Report) value(phase, name, target, metric string) float64 {
	x, _ := r.Get(phase, name, target, metric)
	return x.Value
}

func (r *Report) has(phase string) bool {
	for _, x := range r.Results {
		if x.Phase == phase {
			return true
		}
	}
	return false
}

func printThroughput(w io.Writer, r *Report) {
	if !r.has("throughput") {
		return
	}
	s := r.Settings
	t := &table{
		title: fmt.Sprintf("Throughput — %d-byte payloads, deliveries/s, %d round(s) of %s deliveries (≤ %d unacked per publisher, ≤ %s outstanding)",
			s.PayloadBytes, s.Rounds, groupThousands(int64(10*s.Messages)), s.PublisherWindow, groupThousands(int64(s.DeliveryWindow))),
		head: []string{"workload", "iotlab", "(a) mochi", "(b) mosquitto", "iotlab÷(a) ≥0.85", "iotlab÷(b) stretch", "(a)÷(b)"},
	}
	for _, name := range []string{"QoS 0 fan-in", "QoS 0 fan-out", "QoS 1 fan-in", "QoS 1 fan-out"} {
		i := r.value("throughput", name, TargetIotlab, "rate")
		a := r.value("throughput", name, TargetMochi, "rate")
		b := r.value("throughput", name, TargetMosquitto, "rate")
		stretch := stretchVsMosquitto1
		if strings.HasPrefix(name, "QoS 0") {
			stretch = stretchVsMosquitto0
		}
		t.row(name, fmtRate(i), fmtRate(a), fmtRate(b), fmtRatio(i, a, gateVsMochi),
			fmtRatio(i, b, stretch)+fmt.Sprintf(" (≥%.1f)", stretch), fmtRatio(a, b, 0))
	}
	t.foot = []string{"fan-in: 10 publishers → 1 subscriber on bench/+/…; fan-out: 1 publisher → 10 subscribers; median of the rounds."}
	if x, spread := widestSpread(r, "throughput"); spread > 0 {
		t.foot = append(t.foot, fmt.Sprintf("rounds vary by up to %.0f%% of the median (%s on %s): read ratios near a goal as a tie.", 100*spread, x.Name, x.Target))
	}
	t.write(w)

	c := &table{title: "Broker CPU per delivery — CPU time of the broker process ÷ deliveries (less sensitive to other load than rates)",
		head: []string{"workload", "iotlab", "(a) mochi", "(b) mosquitto", "iotlab÷(a)", "iotlab÷(b)"}}
	for _, name := range []string{"QoS 0 fan-in", "QoS 0 fan-out", "QoS 1 fan-in", "QoS 1 fan-out"} {
		i := r.value("throughput", name, TargetIotlab, "cpu_per_msg")
		a := r.value("throughput", name, TargetMochi, "cpu_per_msg")
		b := r.value("throughput", name, TargetMosquitto, "cpu_per_msg")
		if i == 0 && a == 0 && b == 0 {
			continue
		}
		c.row(name, fmtMicros(i), fmtMicros(a), fmtMicros(b), fmtRatio(i, a, 0), fmtRatio(i, b, 0))
	}
	if len(c.rows) > 0 {
		c.foot = []string{"Lower is better: the ratios compare work done per delivery, not speed."}
		c.write(w)
	}
}

// widestSpread is the result of phase whose rounds varied most, (max − min) ÷ median.
func widestSpread(r *Report, phase string) (Result, float64) {
	var worst Result
	spread := 0.0
	for _, x := range r.Results {
		if x.Phase == phase && x.Value > 0 && x.Max > 0 {
			if s := (x.Max - x.Min) / x.Value; s > spread {
				worst, spread = x, s
			}
		}
	}
	return worst, spread
}

func printLatency(w io.Writer, r *Report) {
	if !r.has("latency") {
		return
	}
	const name = "QoS 1 1→1 @1000/s"
	n := 0
	t := &table{head: []string{"broker", "p50", "p99", "max"}}
	for _, tg := range []struct{ id, label string }{{TargetIotlab, "iotlab"}, {TargetMochi, "(a) mochi"}, {TargetMosquitto, "(b) mosquitto"}} {
		x, ok := r.Get("latency", name, tg.id, "p50")
		if !ok {
			continue
		}
		n = x.N
		sec := func(m string) string {
			return fmtDur(time.Duration(r.value("latency", name, tg.id, m) * float64(time.Second)))
		}
		t.row(tg.label, sec("p50"), sec("p99"), sec("max"))
	}
	t.title = fmt.Sprintf("Latency — QoS 1, 1 publisher → 1 subscriber at 1,000 msg/s, PUBLISH written → delivered, %s samples each", groupThousands(int64(n)))
	ip, bp := r.value("latency", name, TargetIotlab, "p99"), r.value("latency", name, TargetMosquitto, "p99")
	if ip > 0 && bp > 0 {
		mark := "✗"
		if ip <= bp {
			mark = "✓"
		}
		t.foot = append(t.foot, fmt.Sprintf("stretch: iotlab p99 ≤ (b)'s: %s", mark))
	}
	t.write(w)
}

func printConnections(w io.Writer, r *Report) {
	const name = "mTLS connect + subscribe"
	if _, ok := r.Get("connections", name, TargetIotlab, "rate"); !ok {
		if _, ok := r.Get("connections", name, TargetMochi, "rate"); !ok {
			return
		}
	}
	t := &table{
		title: fmt.Sprintf("Connections — %s mTLS devices (ECDSA P-256, certificates from CreateCertificateFromCsr), each subscribed, kept idle",
			groupThousands(int64(r.Settings.Connections))),
		head: []string{"broker", "connects/s", "p99 connect", "broker CPU/conn", "generator CPU/conn", "RSS per conn", "RSS"},
	}
	for _, tg := range []struct{ id, label string }{{TargetIotlab, "iotlab"}, {TargetMochi, "(a) mochi"}, {TargetMosquitto, "(b) mosquitto"}} {
		if _, ok := r.Get("connections", name, tg.id, "rate"); !ok {
			continue
		}
		t.row(tg.label, fmtRate(r.value("connections", name, tg.id, "rate")),
			fmtDur(time.Duration(r.value("connections", name, tg.id, "p99")*float64(time.Second))),
			fmtMicros(r.value("connections", name, tg.id, "cpu_per_conn")),
			fmtMicros(r.value("connections", name, tg.id, "generator_cpu_per_conn")),
			fmtBytes(r.value("connections", name, tg.id, "rss_per_conn")),
			fmt.Sprintf("%.0f MB", r.value("connections", name, tg.id, "rss")/(1<<20)))
	}
	rate, per := r.value("connections", name, TargetIotlab, "rate"), r.value("connections", name, TargetIotlab, "rss_per_conn")
	if rate > 0 {
		t.foot = append(t.foot, fmt.Sprintf("goals (iotlab, identity and policy on): ≥ %s connects/s %s; ≤ %d KB per idle connection %s",
			groupThousands(goalConnectsPerSec), mark(rate >= goalConnectsPerSec), goalBytesPerIdleConn>>10, mark(per <= goalBytesPerIdleConn)))
	}
	t.foot = append(t.foot, "64 connecting at a time; RSS per conn = (RSS with every device connected − RSS before) ÷ devices.")
	if p := r.value("connections", "provision device (CSR + AttachPolicy)", TargetIotlab, "rate"); p > 0 {
		t.foot = append(t.foot, fmt.Sprintf("provisioning through the API (CreateCertificateFromCsr + AttachPolicy, 8 callers): %s devices/s", fmtRate(p)))
	}
	t.write(w)
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func printControlPlane(w io.Writer, r *Report) {
	if !r.has("controlplane") {
		return
	}
	t := &table{title: fmt.Sprintf("Control plane — aws-sdk-go-v2, %d concurrent callers (SigV4 signing included)", controlPlaneWorkers),
		head: []string{"operation", "figure"}}
	for _, x := range r.Results {
		if x.Phase != "controlplane" {
			continue
		}
		label := x.Name
		if x.Metric != "rate" {
			label += " " + x.Metric
		} else if x.Name == "CreateThing" {
			label += fmt.Sprintf(" (%s things)", groupThousands(int64(x.N)))
		}
		t.row(label, fmtValue(x.Value, x.Unit))
	}
	t.write(w)
}

func printStartup(w io.Writer, r *Report) {
	if !r.has("startup") {
		return
	}
	t := &table{title: `Start-up — process start to "ready" on stdout`, head: []string{"state", "time"}}
	for _, x := range r.Results {
		if x.Phase != "startup" {
			continue
		}
		label := x.Name
		if x.Metric == "median" {
			label += fmt.Sprintf(" (median of %d)", x.N)
		}
		t.row(label, fmtValue(x.Value, x.Unit))
	}
	t.write(w)
}

func printPersistence(w io.Writer, r *Report) {
	if !r.has("persistence") {
		return
	}
	c := r.value("persistence", "QoS 1 fan-in, clean session", TargetIotlab, "rate")
	p := r.value("persistence", "QoS 1 fan-in, persistent session", TargetIotlab, "rate")
	t := &table{title: "Persistence — iotlab, QoS 1 fan-in, the subscriber's session clean vs persistent (Clean Session 0)",
		head: []string{"session", "deliveries/s"}}
	t.row("clean", fmtRate(c))
	t.row("persistent", fmtRate(p))
	t.foot = []string{"persistent ÷ clean: " + fmtRatio(p, c, 0)}
	t.write(w)
}

func printPolicy(w io.Writer, r *Report) {
	t := &table{title: "Policy engine — go test -bench ./emulator/policy/ (same run)", head: []string{"benchmark", "ns/op", "allocs/op", "B/op"}}
	seen := map[string]bool{}
	for _, x := range r.Results {
		if x.Phase != "go" || !strings.HasPrefix(x.Name, "emulator/policy.") || seen[x.Name] {
			continue
		}
		seen[x.Name] = true
		t.row(strings.TrimPrefix(x.Name, "emulator/policy."),
			fmt.Sprintf("%.0f", r.value("go", x.Name, "", "ns/op")),
			fmt.Sprintf("%.0f", r.value("go", x.Name, "", "allocs/op")),
			fmt.Sprintf("%.0f", r.value("go", x.Name, "", "B/op")))
	}
	if len(t.rows) == 0 {
		return
	}
	t.foot = []string{"All Go benchmarks are in the JSON (phase \"go\"); compare two runs' go test output with benchstat."}
	t.write(w)
}

// printMochiTuned shows the experiment of `--mochi-*`: stock raw mochi against raw mochi with the
// options, measured in the same run.
func printMochiTuned(w io.Writer, r *Report) {
	if r.MochiTuned == "" {
		return
	}
	t := &table{title: "mochi options — (a) stock against (a′) " + r.MochiTuned + ", same run",
		head: []string{"figure", "(a) mochi", "(a′) tuned", "(a′)÷(a)"}}
	for _, name := range []string{"QoS 0 fan-in", "QoS 0 fan-out", "QoS 1 fan-in", "QoS 1 fan-out"} {
		a, b := r.value("throughput", name, TargetMochi, "rate"), r.value("throughput", name, TargetMochiTuned, "rate")
		if a > 0 || b > 0 {
			t.row(name+" msgs/s", fmtRate(a), fmtRate(b), fmtRatio(b, a, 0))
		}
		a, b = r.value("throughput", name, TargetMochi, "cpu_per_msg"), r.value("throughput", name, TargetMochiTuned, "cpu_per_msg")
		if a > 0 || b > 0 {
			t.row(name+" CPU/delivery", fmtMicros(a), fmtMicros(b), fmtRatio(b, a, 0))
		}
	}
	const lat, conn = "QoS 1 1→1 @1000/s", "mTLS connect + subscribe"
	for _, m := range []string{"p50", "p99"} {
		a, b := r.value("latency", lat, TargetMochi, m), r.value("latency", lat, TargetMochiTuned, m)
		if a > 0 || b > 0 {
			t.row("latency "+m, fmtValue(a, "s"), fmtValue(b, "s"), fmtRatio(b, a, 0))
		}
	}
	for _, m := range []struct{ metric, label, unit string }{
		{"rate", "connects/s", "conn/s"}, {"cpu_per_conn", "CPU per connect", "s"}, {"rss_per_conn", "RSS per idle conn", "B"}} {
		a, b := r.value("connections", conn, TargetMochi, m.metric), r.value("connections", conn, TargetMochiTuned, m.metric)
		if a > 0 || b > 0 {
			t.row(m.label, fmtValue(a, m.unit), fmtValue(b, m.unit), fmtRatio(b, a, 0))
		}
	}
	t.write(w)
}
