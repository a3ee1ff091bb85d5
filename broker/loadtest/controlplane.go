package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// controlPlaneWorkers is the number of concurrent SDK callers, as a provisioning script with a small
// pool would run.
const controlPlaneWorkers = 8

// ListPageSize is maxResults of the ListThings pages timed (AWS's maximum for ListThings).
const ListPageSize = 250

// controlPlane measures, on an iotlab of its own, CreateThing and DescribeThing requests/s through
// aws-sdk-go-v2 and the time of a ListThings page once the registry holds b.sz.things things; then
// restarts it to time start-up with them.
func (b *bench) controlPlane(ctx context.Context) error {
	dir := filepath.Join(b.dir, "controlplane-state")
	if err := os.RemoveAll(dir); err != nil { // a kept --dir from an earlier run
		return fmt.Errorf("loadtest: %w", err)
	}
	p, h, err := b.startIotlab(ctx, dir, "iotlab-controlplane.log", 30*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(15 * time.Second) }()
	c := NewIoTClient(h, controlPlaneWorkers)
	n := b.sz.things
	name := func(i int) string { return fmt.Sprintf("bench-thing-%06d", i) }

	// On a busy machine 100,000 CreateThing calls could take the whole phase: stop at the budget and
	// go on with the things created.
	n, d, err := parallel(ctx, b.sz.things, controlPlaneWorkers, time.Now().Add(b.sz.createBudget), func(ctx context.Context, i int) error {
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name(i))})
		return err
	})
	if err != nil {
		return fmt.Errorf("CreateThing: %w", err)
	}
	if n < b.sz.things {
		b.rep.Note("controlplane: CreateThing stopped at its %s budget with %d of %d things; the ListThings and start-up figures are for %d",
			b.sz.createBudget, n, b.sz.things, n)
	}
	b.add("controlplane", "CreateThing", "rate", Rate(n, d), "req/s", "higher", n)
	b.logf("CreateThing: %d in %.1f s (%s/s)", n, d.Seconds(), fmtRate(Rate(n, d)))

	calls, d, err := parallel(ctx, -1, controlPlaneWorkers, time.Now().Add(b.sz.describeFor), func(ctx context.Context, _ int) error {
		_, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name(rand.IntN(n)))})
		return err
	})
	if err != nil {
		return fmt.Errorf("DescribeThing: %w", err)
	}
	b.add("controlplane", "DescribeThing", "rate", Rate(calls, d), "req/s", "higher", calls)
	b.logf("DescribeThing: %s/s", fmtRate(Rate(calls, d)))

	// ListThings: walk the pages from the first, one caller, for listWalk (or to the end).
	var pages []time.Duration
	token := (*string)(nil)
	deadline := time.Now().Add(b.sz.listWalk)
	for time.Now().Before(deadline) {
		t0 := time.Now()
		out, err := c.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(ListPageSize), NextToken: token})
		if err != nil {
			return fmt.Errorf("ListThings: %w", err)
		}
		pages = append(pages, time.Since(t0))
		if len(out.Things) == 0 {
			return errors.New("ListThings: empty page")
		}
		token = out.NextToken // nil after the last page: the walk starts again from the first

	}
	label := fmt.Sprintf("ListThings page (%d of %s things)", ListPageSize, groupThousands(int64(n)))
	b.add("controlplane", label, "p50", Percentile(pages, 50).Seconds(), "s", "lower", len(pages))
	b.add("controlplane", label, "p99", Percentile(pages, 99).Seconds(), "s", "lower", len(pages))
	b.logf("ListThings: %d pages, p50 %s p99 %s", len(pages), fmtDur(Percentile(pages, 50)), fmtDur(Percentile(pages, 99)))

	if err := p.Stop(15 * time.Second); err != nil {
		return err
	}
	p, _, err = b.startIotlab(ctx, dir, "iotlab-controlplane-restart.log", time.Minute)
	if err != nil {
		return fmt.Errorf("restart with %d things: %w", n, err)
	}
	b.add("startup", fmt.Sprintf("state dir with %s things", groupThousands(int64(n))), "once", p.Ready.Sub(p.Started).Seconds(), "s", "lower", 1)
	b.logf("start-up with %d things: %s", n, fmtDur(p.Ready.Sub(p.Started)))
	if fi, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		b.rep.Note("controlplane: state.db with %d things is %d MB", n, fi.Size()>>20)
	}
	return nil
}

// add records an iotlab-only result.
func (b *bench) add(phase, name, metric string, v float64, unit, better string, n int) {
	b.rep.Add(Result{Phase: phase, Name: name, Target: TargetIotlab, Metric: metric, Value: v, Unit: unit, Better: better, N: n})
}

// parallel calls fn(i) for i in [0, n) (n < 0: without end) with `workers` goroutines until until;
// it stops at the first error and returns the number of calls that succeeded and the time taken.
func parallel(ctx context.Context, n, workers int, until time.Time, fn func(context.Context, int) error) (int, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, done atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(until) {
				i := int(next.Add(1) - 1)
				if n >= 0 && i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if first != nil {
		return int(done.Load()), d, first
	}
	return int(done.Load()), d, ctx.Err()
}

// goBench folds `go test -bench` output into the report: every benchmark as phase "go" (for
// comparisons), the policy engine's in the table.
func (b *bench) goBench(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bs, err := ParseGoBench(f)
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		return fmt.Errorf("no benchmark lines in %s", path)
	}
	for _, g := range bs {
		name := strings.TrimPrefix(g.Pkg, "github.com/iotlab/iotlab/") + "." + g.Name
		for _, m := range []string{"ns/op", "allocs/op", "B/op"} {
			if v, ok := g.Metrics[m]; ok {
				b.rep.Add(Result{Phase: "go", Name: name, Metric: m, Value: v, Unit: m, Better: "lower"})
			}
		}
	}
	return nil
}
