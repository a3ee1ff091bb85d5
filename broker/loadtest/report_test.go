package loadtest

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/iotlab/iotlab/emulator/policy
cpu: AMD EPYC
BenchmarkEvaluate10Policies-2      	 1880074	       639.2 ns/op	      32 B/op	       1 allocs/op
BenchmarkDecide10Policies-2        	 2497298	       526.8 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/iotlab/iotlab/emulator/policy	8.450s
pkg: github.com/iotlab/iotlab/broker
BenchmarkFanInFanOutQoS1-2   	       1	1117306446 ns/op	     14164 iotlab-msgs/s	         0.9781 ratio	142009744 B/op	 1087143 allocs/op
--- BENCH: BenchmarkFanInFanOutQoS1-2
    bench_test.go:87: QoS 1 fan-in/fan-out
pkg: github.com/iotlab/iotlab/emulator/rules/sql
BenchmarkEvaluate/sql-2         	  258081	      4944 ns/op	  20.02 MB/s	    3056 B/op	      10 allocs/op
`

func TestParseGoBench(t *testing.T) {
	bs, err := ParseGoBench(strings.NewReader(goBenchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 4 {
		t.Fatalf("parsed %d benchmarks, want 4: %+v", len(bs), bs)
	}
	tests := []struct {
		i         int
		pkg, name string
		unit      string
		want      float64
	}{
		{0, "github.com/iotlab/iotlab/emulator/policy", "BenchmarkEvaluate10Policies", "ns/op", 639.2},
		{1, "github.com/iotlab/iotlab/emulator/policy", "BenchmarkDecide10Policies", "allocs/op", 0},
		{2, "github.com/iotlab/iotlab/broker", "BenchmarkFanInFanOutQoS1", "ratio", 0.9781},
		{3, "github.com/iotlab/iotlab/emulator/rules/sql", "BenchmarkEvaluate/sql", "MB/s", 20.02},
	}
	for _, tc := range tests {
		b := bs[tc.i]
		if b.Pkg != tc.pkg || b.Name != tc.name {
			t.Errorf("benchmark %d = %s %s, want %s %s", tc.i, b.Pkg, b.Name, tc.pkg, tc.name)
		}
		if got, ok := b.Metrics[tc.unit]; !ok || got != tc.want {
			t.Errorf("%s %s = %v (%v), want %v", b.Name, tc.unit, got, ok, tc.want)
		}
	}
}

func sampleReport() *Report {
	r := &Report{Schema: 1, Started: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Seconds: 312,
		Host:   Host{CPUs: 2, GoVersion: "go1.26.8", Kernel: "6.1", Mosquitto: "2.0.11", LoadBefore: "1.50 1.20 1.00", LoadAfter: "2.00 1.50 1.10"},
		Iotlab: "iotlab dev abcdef123456",
		Settings: Settings{PayloadBytes: 100, Rounds: 3, Messages: 3000, LatencyRate: 1000, LatencySeconds: 5,
			Connections: 10000, Things: 100000, PublisherWindow: 100, DeliveryWindow: 2000},
	}
	for _, x := range []struct {
		name    string
		i, a, b float64
	}{{"QoS 0 fan-in", 70000, 100000, 40000}, {"QoS 0 fan-out", 160000, 140000, 30000},
		{"QoS 1 fan-in", 37000, 22000, 17000}, {"QoS 1 fan-out", 80000, 45000, 29000}} {
		r.Add(Result{Phase: "throughput", Name: x.name, Target: TargetIotlab, Metric: "rate", Value: x.i, Unit: "msgs/s", Better: "higher", N: 90000,
			Min: 0.9 * x.i, Max: 1.2 * x.i})
		r.Add(Result{Phase: "throughput", Name: x.name, Target: TargetMochi, Metric: "rate", Value: x.a, Unit: "msgs/s", Better: "higher", N: 90000})
		r.Add(Result{Phase: "throughput", Name: x.name, Target: TargetMosquitto, Metric: "rate", Value: x.b, Unit: "msgs/s", Better: "higher", N: 90000})
		for _, c := range []struct {
			target string
			sec    float64
		}{{TargetIotlab, 9e-6}, {TargetMochi, 11e-6}, {TargetMosquitto, 14.5e-6}} {
			r.Add(Result{Phase: "throughput", Name: x.name, Target: c.target, Metric: "cpu_per_msg", Value: c.sec, Unit: "s", Better: "lower", N: 90000})
		}
	}
	for _, tg := range []struct {
		id            string
		p50, p99, max float64
	}{{TargetIotlab, 180e-6, 240e-6, 2e-3}, {TargetMochi, 200e-6, 230e-6, 3e-3}, {TargetMosquitto, 120e-6, 150e-6, 1e-3}} {
		for _, m := range []struct {
			metric string
			v      float64
		}{{"p50", tg.p50}, {"p99", tg.p99}, {"max", tg.max}} {
			r.Add(Result{Phase: "latency", Name: "QoS 1 1→1 @1000/s", Target: tg.id, Metric: m.metric, Value: m.v, Unit: "s", Better: "lower", N: 5000})
		}
	}
	const cn = "mTLS connect + subscribe"
	r.Add(Result{Phase: "connections", Name: cn, Target: TargetIotlab, Metric: "rate", Value: 2100, Unit: "conn/s", Better: "higher", N: 10000})
	r.Add(Result{Phase: "connections", Name: cn, Target: TargetIotlab, Metric: "p99", Value: 0.05, Unit: "s", Better: "lower", N: 10000})
	r.Add(Result{Phase: "connections", Name: cn, Target: TargetIotlab, Metric: "rss_per_conn", Value: 25 << 10, Unit: "B", Better: "lower", N: 10000})
	r.Add(Result{Phase: "connections", Name: cn, Target: TargetIotlab, Metric: "rss", Value: 300 << 20, Unit: "B", Better: "lower", N: 10000})
	r.Add(Result{Phase: "connections", Name: cn, Target: TargetIotlab, Metric: "cpu_per_conn", Value: 420e-6, Unit: "s", Better: "lower", N: 10000})
	r.Add(Result{Phase: "controlplane", Name: "CreateThing", Target: TargetIotlab, Metric: "rate", Value: 1100, Unit: "req/s", Better: "higher", N: 100000})
	r.Add(Result{Phase: "startup", Name: "fresh --ephemeral", Target: TargetIotlab, Metric: "median", Value: 0.026, Unit: "s", Better: "lower", N: 3})
	r.Add(Result{Phase: "persistence", Name: "QoS 1 fan-in, clean session", Target: TargetIotlab, Metric: "rate", Value: 33000, Unit: "msgs/s", Better: "higher"})
	r.Add(Result{Phase: "persistence", Name: "QoS 1 fan-in, persistent session", Target: TargetIotlab, Metric: "rate", Value: 31000, Unit: "msgs/s", Better: "higher"})
	r.Add(Result{Phase: "go", Name: "emulator/policy.BenchmarkEvaluate10Policies", Metric: "ns/op", Value: 639.2, Unit: "ns/op", Better: "lower"})
	r.Add(Result{Phase: "go", Name: "emulator/policy.BenchmarkEvaluate10Policies", Metric: "allocs/op", Value: 1, Unit: "allocs/op", Better: "lower"})
	r.Add(Result{Phase: "go", Name: "emulator/policy.BenchmarkEvaluate10Policies", Metric: "B/op", Value: 32, Unit: "B/op", Better: "lower"})
	r.MochiTuned = "--mochi-write-buffer 32768"
	r.Add(Result{Phase: "throughput", Name: "QoS 1 fan-in", Target: TargetMochiTuned, Metric: "rate", Value: 30000, Unit: "msgs/s", Better: "higher"})
	r.Add(Result{Phase: "throughput", Name: "QoS 1 fan-in", Target: TargetMochiTuned, Metric: "cpu_per_msg", Value: 8e-6, Unit: "s", Better: "lower"})
	r.Note("persistence: iotlab state dir has broker.db (persistent sessions on disk): no")
	return r
}

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	Print(&b, sampleReport())
	golden(t, "print.txt", b.String())
}

func TestReportJSONRoundTripAndCompare(t *testing.T) {
	old := sampleReport()
	path := filepath.Join(t.TempDir(), "results.json")
	if err := old.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(old.Results) || back.Settings != old.Settings || !back.Started.Equal(old.Started) {
		t.Fatalf("JSON round trip lost data: %+v", back)
	}
	cur := sampleReport()
	for i := range cur.Results {
		switch cur.Results[i].Key() {
		case "throughput|QoS 1 fan-in|iotlab|rate":
			cur.Results[i].Value *= 0.8 // 20 % fewer messages/s: worse
		case "latency|QoS 1 1→1 @1000/s|iotlab|p99":
			cur.Results[i].Value *= 0.5 // half the latency: better
		}
	}
	var out bytes.Buffer
	Compare(&out, back, cur)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		for _, key := range []string{"throughput / QoS 1 fan-in / iotlab / rate", "latency / QoS 1 1→1 @1000/s / iotlab / p99"} {
			if strings.Contains(l, key) {
				lines[key] = l
			}
		}
	}
	if l := lines["throughput / QoS 1 fan-in / iotlab / rate"]; !strings.Contains(l, "-20.0% worse") {
		t.Errorf("a 20 %% throughput drop is not marked worse: %q", l)
	}
	if l := lines["latency / QoS 1 1→1 @1000/s / iotlab / p99"]; !strings.Contains(l, "-50.0%") || strings.Contains(l, "worse") {
		t.Errorf("a halved latency is not reported as an improvement: %q", l)
	}
}
