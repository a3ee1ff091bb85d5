// Package check is `iotlab check`: it runs every chapter's expectations and a probe for each
// client-observable behaviour of the research file's emulation checklist (§11) against a target, and
// reports each as a row — behaviour, expected, observed, verdict. Against iotlab it is a conformance test;
// against a real AWS account it shows exactly where iotlab differs, with the unverified (V) items flagged
// for confirmation.
package check

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/runner"
	"github.com/iotlab/iotlab/exercises/target"
)

// Options configure a check run. Zero values get defaults.
type Options struct {
	// Prefix starts every name the run creates (default "iotlab-<random>-").
	Prefix string
	// Chapters to run (default all); NoChapters runs none.
	Chapters   []int
	NoChapters bool
	// NoProbes skips the checklist probes.
	NoProbes bool
	// Parallel bounds how many chapters and probes run at once (default 4).
	Parallel int
	// Cleanup deletes what the run created (chapters and probes) at the end.
	Cleanup bool
	// Progress, when set, is told as each chapter or probe finishes.
	Progress func(Row)
}

// Row is one line of the report.
type Row struct {
	Section    string // "chapter 3: QoS 0 and QoS 1", or the checklist section
	ID         string // "3/publish-qos1", or "§11.21"
	Behaviour  string
	Expected   string
	Observed   string
	Status     exercises.Status
	Unverified bool // a (V) item: confirm against AWS
}

// Report is the outcome of a check run.
type Report struct {
	Target   string
	Kind     target.Kind
	Rows     []Row
	Duration time.Duration
	// CleanupErrors lists resources Cleanup could not delete.
	CleanupErrors []error
}

// Counts tallies rows by status.
func (r *Report) Counts() map[exercises.Status]int {
	n := map[exercises.Status]int{}
	for _, row := range r.Rows {
		n[row.Status]++
	}
	return n
}

// Failed reports whether any row failed.
func (r *Report) Failed() bool { return r.Counts()[exercises.Fail] > 0 }

// Run checks the target.
func Run(ctx context.Context, t *target.Target, o Options) *Report {
	start := time.Now()
	if o.Prefix == "" {
		o.Prefix = "iotlab-" + runner.NewRunID() + "-"
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	rep := &Report{Target: t.String(), Kind: t.Kind}
	var mu sync.Mutex // guards rep.Rows and orders
	var orders []int  // sort key of each row
	add := func(order int, rows ...Row) {
		mu.Lock()
		for _, r := range rows {
			rep.Rows = append(rep.Rows, r)
			orders = append(orders, order)
		}
		mu.Unlock()
		if o.Progress != nil {
			for _, r := range rows {
				o.Progress(r)
			}
		}
	}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			f()
		}()
	}

	probeRun := o.Prefix + "pr-"
	e := &env{t: t, n: exercises.Namer{Prefix: probeRun, Account: t.Account, Region: t.Region}, run: probeRun,
		policies: map[string]*once{}, devices: map[string]*once{}, lastConn: map[string]time.Time{}}
	probes := map[int]probe{}
	if !o.NoProbes {
		for _, set := range [][]probe{mqttProbes(), sessionProbes(), controlProbes(), shadowProbes(), ruleProbes(), moreProbes(), limitProbes(), portProbes()} {
			for _, p := range set {
				probes[p.n] = p
			}
		}
	}
	runProbe := func(p probe, it Item) {
		row := Row{Section: "checklist: " + it.Section, ID: fmt.Sprintf("§11.%d", it.N), Behaviour: it.Behaviour, Expected: p.expected, Unverified: it.Unverified}
		switch {
		case p.localOnly != "" && t.Kind == target.AWS:
			row.Observed, row.Status = "not run on AWS: "+p.localOnly, exercises.NotApplicable
		case p.needs != "" && !t.Has(p.needs):
			row.Observed, row.Status = t.Why(p.needs), exercises.NotApplicable
		default:
			pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			row.Observed, row.Status = p.run(pctx, e)
			cancel()
		}
		add(1000+it.N, row)
	}
	// Alone, before everything else: 93 reads the logging configuration before chapter 7 or 92 sets
	// one; 92 changes it (and puts it back), which no chapter may see half done.
	for _, n := range alone {
		if p, ok := probes[n]; ok {
			runProbe(p, Checklist[n-1])
		}
	}
	for _, it := range Checklist {
		p, ok := probes[it.N]
		switch {
		case ok && slices.Contains(alone, it.N):
		case ok:
			spawn(func() { runProbe(p, it) })
		default:
			add(1000+it.N, Row{Section: "checklist: " + it.Section, ID: fmt.Sprintf("§11.%d", it.N), Behaviour: it.Behaviour,
				Observed: "no probe yet", Status: exercises.NotProbed, Unverified: it.Unverified})
		}
	}

	var runners []*runner.Runner
	if !o.NoChapters {
		for _, sc := range exercises.Chapters() {
			if len(o.Chapters) > 0 && !contains(o.Chapters, sc.Chapter) {
				continue
			}
			r := runner.New(t, runner.Options{Prefix: fmt.Sprintf("%sc%d-", o.Prefix, sc.Chapter)})
			runners = append(runners, r)
			spawn(func() {
				res := r.RunScenario(ctx, sc)
				var rows []Row
				for _, s := range res.Steps {
					for _, out := range s.Outcomes {
						rows = append(rows, Row{Section: fmt.Sprintf("chapter %d: %s", sc.Chapter, sc.Title), ID: fmt.Sprintf("%d/%s", sc.Chapter, s.Step.ID),
							Behaviour: out.Behaviour, Expected: out.Expected, Observed: out.Observed, Status: out.Status})
					}
				}
				add(sc.Chapter, rows...)
			})
		}
	}
	wg.Wait()
	for _, r := range runners {
		r.Close(ctx)
	}
	if o.Cleanup {
		var mine []target.Resource
		for _, r := range t.Manifest.Resources("") {
			if strings.HasPrefix(r.Run, o.Prefix) {
				mine = append(mine, r)
			}
		}
		cr := t.Cleanup(context.WithoutCancel(ctx), mine)
		rep.CleanupErrors = cr.Errors
	}
	// Chapters first, in order, then the checklist in its order; rows of one source keep theirs.
	idx := make([]int, len(rep.Rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return orders[idx[a]] < orders[idx[b]] })
	rows := make([]Row, len(idx))
	for i, j := range idx {
		rows[i] = rep.Rows[j]
	}
	rep.Rows = rows
	rep.Duration = time.Since(start)
	return rep
}

// alone are the probes run one at a time before the others, in this order.
var alone = []int{93, 92}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
