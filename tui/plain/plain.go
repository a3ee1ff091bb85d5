// Package plain is `iotlab tui --plain`: the walkthrough's steps as a non-interactive transcript, for
// classes (a log to hand out) and CI. Every expected outcome is a line marked ✓ PASS, ✗ FAIL, – N/A or
// ○ SKIP, and Summary.OK says whether any failed.
package plain

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// Course is what the transcript needs; *course.Course is the real one.
type Course interface {
	Chapters() []exercises.Scenario
	Info() course.Info
	Prefix(chapter int) string
	RunStep(ctx context.Context, chapter int, s exercises.Step) course.Result
}

// Options configure a transcript.
type Options struct {
	// Chapters to run, in the course's order (default: all).
	Chapters []int
	// Events, when set, are printed after each step: the step's MQTT and API traffic.
	Events <-chan exercises.Event
	// Note is printed under the header (why AWS was not used, say).
	Note string
	// StepTimeout bounds one step (default 2 minutes).
	StepTimeout time.Duration
}

// Summary counts the expected outcomes by verdict.
type Summary struct {
	Pass, Fail, NA, Skipped int
	Chapters                []int
	Duration                time.Duration
}

// OK is true when no outcome failed.
func (s Summary) OK() bool { return s.Fail == 0 }

var marks = map[exercises.Status]string{
	exercises.Pass:          "✓ PASS",
	exercises.Fail:          "✗ FAIL",
	exercises.NotApplicable: "– N/A ",
	exercises.Skipped:       "○ SKIP",
	exercises.NotProbed:     "○ SKIP",
}

// Mark is the transcript's mark of a status: "✓ PASS", "✗ FAIL", "– N/A ", "○ SKIP".
func Mark(s exercises.Status) string {
	if m, ok := marks[s]; ok {
		return m
	}
	return "? " + string(s)
}

// Run runs the chapters' steps in order and writes the transcript to w.
func Run(ctx context.Context, c Course, w io.Writer, o Options) Summary {
	if o.StepTimeout <= 0 {
		o.StepTimeout = 2 * time.Minute
	}
	start := time.Now()
	in := c.Info()
	fmt.Fprintln(w, "iotlab walkthrough — transcript")
	where := fmt.Sprintf("target: %s (%s), account %s, region %s, endpoint %s", in.Kind, in.Mode, in.Account, in.Region, in.Endpoint)
	if in.Kind == "aws" && in.Caller != "" {
		where += ", caller " + in.Caller
	}
	fmt.Fprintln(w, where)
	fmt.Fprintf(w, "names: this run's resources start iotlab-%s-c<chapter>- (shown here without it)\n", in.RunID)
	if o.Note != "" {
		fmt.Fprintln(w, "note:", o.Note)
	}
	var sum Summary
	count := func(s exercises.Status) {
		switch s {
		case exercises.Pass:
			sum.Pass++
		case exercises.Fail:
			sum.Fail++
		case exercises.NotApplicable:
			sum.NA++
		default:
			sum.Skipped++
		}
	}
	for _, sc := range c.Chapters() {
		if len(o.Chapters) > 0 && !slices.Contains(o.Chapters, sc.Chapter) {
			continue
		}
		sum.Chapters = append(sum.Chapters, sc.Chapter)
		prefix := c.Prefix(sc.Chapter)
		show := func(s string) string { return course.Show(prefix, s) }
		fmt.Fprintf(w, "\n== Chapter %d · %s\n", sc.Chapter, sc.Title)
		fmt.Fprintf(w, "   %s\n", sc.Summary)
		skip := ""
		for i, s := range sc.Steps {
			fmt.Fprintf(w, "\n-- Step %d/%d · %s [%s]\n", i+1, len(sc.Steps), show(s.Title), s.Listener)
			fmt.Fprintf(w, "   do: %s\n", show(s.Do))
			if skip != "" || ctx.Err() != nil {
				why := skip
				if why == "" {
					why = "interrupted"
				}
				for _, e := range s.Expect {
					b, want := e.Describe()
					fmt.Fprintf(w, "   %s  %s: expected %s — %s\n", Mark(exercises.Skipped), show(b), show(want), why)
					count(exercises.Skipped)
				}
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, o.StepTimeout)
			res := c.RunStep(sctx, sc.Chapter, s)
			cancel()
			for _, out := range res.Outcomes {
				line := fmt.Sprintf("   %s  %s: expected %s, observed %s", Mark(out.Status), show(out.Behaviour), show(out.Expected), show(out.Observed))
				fmt.Fprintln(w, line)
				count(out.Status)
			}
			if len(res.Outcomes) == 0 {
				what := "the step's actions ran"
				if res.Status == exercises.NotApplicable {
					what = "not applicable on this target"
				}
				fmt.Fprintf(w, "   %s  %s\n", Mark(res.Status), what)
			}
			if res.Err != "" && len(res.Outcomes) == 0 {
				fmt.Fprintf(w, "          error: %s\n", show(res.Err))
				count(exercises.Fail)
			}
			printTraffic(w, o.Events, show)
			if res.Status == exercises.Fail && (s.Setup || res.Err != "" && len(s.Expect) == 0) {
				skip = "skipped: an earlier set-up step failed"
			}
		}
	}
	sum.Duration = time.Since(start)
	var chs []string
	for _, n := range sum.Chapters {
		chs = append(chs, fmt.Sprint(n))
	}
	verdict := "PASS"
	if !sum.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n== %s: %d ✓ passed, %d ✗ failed, %d – not applicable, %d ○ skipped (chapters %s) in %s\n",
		verdict, sum.Pass, sum.Fail, sum.NA, sum.Skipped, strings.Join(chs, ", "), sum.Duration.Round(100*time.Millisecond))
	return sum
}

// printTraffic prints the events waiting in ch (the step's), if any.
func printTraffic(w io.Writer, ch <-chan exercises.Event, show func(string) string) {
	if ch == nil {
		return
	}
	for {
		select {
		case e := <-ch:
			if e.Source == "runner" {
				continue
			}
			fmt.Fprintf(w, "      | %s\n", show(e.String()))
		default:
			return
		}
	}
}
