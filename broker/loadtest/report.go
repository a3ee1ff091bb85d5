package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets, as they are named in results.
const (
	TargetIotlab    = "iotlab"
	TargetMochi     = "mochi"     // baseline (a)
	TargetMosquitto = "mosquitto" // baseline (b)
	// TargetMochiTuned is raw mochi with Config.MochiTuned: an experiment, never a baseline.
	TargetMochiTuned = "mochi-tuned"
)

// Result is one figure. Phase, Name, Target and Metric identify it across runs.
type Result struct {
	Phase  string  `json:"phase"`  // throughput, latency, connections, controlplane, startup, persistence, go
	Name   string  `json:"name"`   // the workload or operation, e.g. "QoS 1 fan-in"
	Target string  `json:"target"` // iotlab, mochi, mosquitto ("" for iotlab-only figures)
	Metric string  `json:"metric"` // e.g. "rate", "p99", "rss_per_conn"
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"` // msgs/s, s, B, ns/op, allocs/op, req/s, conn/s
	// Better is "higher" or "lower": which way is an improvement.
	Better string `json:"better"`
	// N is the sample count behind the figure (messages, requests, connections), when it has one.
	N int `json:"n,omitempty"`
	// Min and Max are the extremes of the repetitions Value is the median of, when it is one.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
}

// Key identifies a result across runs.
func (r Result) Key() string { return r.Phase + "|" + r.Name + "|" + r.Target + "|" + r.Metric }

// Report is the JSON file `iotlab bench --json` writes.
type Report struct {
	Schema   int       `json:"schema"` // 1
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Quick    bool      `json:"quick"`
	Host     Host      `json:"host"`
	Iotlab   string    `json:"iotlab"` // version and VCS revision of the binary under test
	Results  []Result  `json:"results"`
	Notes    []string  `json:"notes,omitempty"` // skipped phases, failures, caveats
	Settings Settings  `json:"settings"`
	// MochiTuned lists the options of the "mochi-tuned" target, when the run had one.
	MochiTuned string `json:"mochiTuned,omitempty"`
}

// Host describes the machine, load included: figures from a loaded machine are not comparable with
// figures from an idle one.
type Host struct {
	CPUs        int    `json:"cpus"`
	GoVersion   string `json:"goVersion"`
	Kernel      string `json:"kernel,omitempty"`
	Mosquitto   string `json:"mosquitto,omitempty"`
	LoadBefore  string `json:"loadBefore,omitempty"` // /proc/loadavg at the start
	LoadAfter   string `json:"loadAfter,omitempty"`
	OpenFileMax uint64 `json:"openFileMax,omitempty"` // hard RLIMIT_NOFILE
}

// Settings records the sizes of the run.
type Settings struct {
	PayloadBytes    int `json:"payloadBytes"`
	Rounds          int `json:"rounds"`
	Messages        int `json:"messagesPerPublisherRound"`
	LatencyRate     int `json:"latencyRate"`
	LatencySeconds  int `json:"latencySeconds"`
	Connections     int `json:"connections"`
	Things          int `json:"things"`
	PublisherWindow int `json:"publisherWindow"`
	DeliveryWindow  int `json:"deliveryWindow"`
}

// Add appends a result.
func (r *Report) Add(res Result) { r.Results = append(r.Results, res) }

// Note records something the reader must know (a skipped phase, an error).
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Get finds a result.
func (r *Report) Get(phase, name, target, metric string) (Result, bool) {
	for _, x := range r.Results {
		if x.Phase == phase && x.Name == name && x.Target == target && x.Metric == metric {
			return x, true
		}
	}
	return Result{}, false
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("loadtest: %s: %w", path, err)
	}
	return &r, nil
}

// table is a text table with aligned columns; the first column is left-aligned, the others right.
type table struct {
	title string
	head  []string
	rows  [][]string
	foot  []string
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], len([]rune(c)))
			}
		}
	}
	fmt.Fprintf(w, "\n%s\n", t.title)
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString("  " + c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.head)
	for _, r := range t.rows {
		line(r)
	}
	for _, f := range t.foot {
		fmt.Fprintln(w, "  "+f)
	}
}

// Formatting helpers: "—" stands for a figure the run does not have.
func fmtRate(v float64) string {
	if v == 0 {
		return "—"
	}
	return groupThousands(int64(math.Round(v)))
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// fmtMicros prints seconds as microseconds with one decimal (milliseconds from 1 ms), for CPU costs.
func fmtMicros(sec float64) string {
	switch {
	case sec == 0:
		return "—"
	case sec >= 1e-3:
		return fmt.Sprintf("%.2f ms", sec*1e3)
	}
	return fmt.Sprintf("%.1f µs", sec*1e6)
}

func fmtBytes(v float64) string {
	if v == 0 {
		return "—"
	}
	switch {
	case v < 10<<10:
		return fmt.Sprintf("%.1f KB", v/1024)
	case v < 10<<20:
		return fmt.Sprintf("%.0f KB", v/1024)
	}
	return fmt.Sprintf("%.0f MB", v/(1<<20))
}

// fmtRatio prints a/b with a mark saying whether it meets goal (a ratio that must be reached);
// goal 0 prints no mark.
func fmtRatio(a, b, goal float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	s := fmt.Sprintf("%.2f×", a/b)
	if goal > 0 {
		if a/b >= goal {
			s += " ✓"
		} else {
			s += " ✗"
		}
	}
	return s
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// GoBenchmark is one line of `go test -bench` output.
type GoBenchmark struct {
	Pkg, Name string
	Metrics   map[string]float64 // by unit: ns/op, B/op, allocs/op, and custom ones
}

// ParseGoBench reads `go test -bench -benchmem` output (the format benchstat reads).
func ParseGoBench(r io.Reader) ([]GoBenchmark, error) {
	var out []GoBenchmark
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil { // iterations
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		b := GoBenchmark{Pkg: pkg, Name: name, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.Metrics[f[i+1]] = v
		}
		out = append(out, b)
	}
	return out, sc.Err()
}

// Compare prints, for every figure two reports share, the old and new values and the change, marking
// changes of more than 10 % in the worse direction.
func Compare(w io.Writer, old, cur *Report) {
	prev := map[string]Result{}
	for _, r := range old.Results {
		prev[r.Key()] = r
	}
	t := &table{
		title: fmt.Sprintf("Compared with %s (%s, load %s) — now %s, load %s",
			old.Started.Format(time.DateTime), quickWord(old.Quick), old.Host.LoadBefore, quickWord(cur.Quick), cur.Host.LoadBefore),
		head: []string{"figure", "old", "new", "change"},
	}
	if old.Quick != cur.Quick || old.Settings != cur.Settings {
		t.foot = append(t.foot, "the two runs differ in size (--quick or settings): figures that depend on counts (RSS, ListThings, start-up) do not compare")
	}
	keys := make([]string, 0, len(cur.Results))
	byKey := map[string]Result{}
	for _, r := range cur.Results {
		if r.Phase == "go" {
			continue // benchstat compares those properly, from the go test output
		}
		if _, ok := prev[r.Key()]; ok {
			keys = append(keys, r.Key())
			byKey[r.Key()] = r
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, n := prev[k], byKey[k]
		change := "—"
		if o.Value != 0 {
			d := (n.Value - o.Value) / o.Value
			change = fmt.Sprintf("%+.1f%%", 100*d)
			if (n.Better == "higher" && d < -0.10) || (n.Better == "lower" && d > 0.10) {
				change += " worse"
			}
		}
		name := strings.TrimSuffix(strings.Join([]string{n.Phase, n.Name, n.Target, n.Metric}, " / "), " / ")
		t.row(name, fmtValue(o.Value, o.Unit), fmtValue(n.Value, n.Unit), change)
	}
	if len(keys) == 0 {
		t.foot = append(t.foot, "(no figure in common)")
	}
	t.foot = append(t.foot, "\"worse\": more than 10 % in the wrong direction. Go benchmarks: benchstat OLD NEW on their go test output.")
	t.write(w)
}

func quickWord(q bool) string {
	if q {
		return "--quick"
	}
	return "full"
}

func fmtValue(v float64, unit string) string {
	switch unit {
	case "s":
		if v < 100e-6 {
			return fmtMicros(v)
		}
		return fmtDur(time.Duration(v * float64(time.Second)))
	case "B":
		return fmtBytes(v)
	case "msgs/s", "req/s", "conn/s", "devices/s":
		return fmtRate(v) + " " + unit
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + " " + unit
}
