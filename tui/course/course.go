// Package course is the walkthrough's access to the exercises: one exercises/runner per chapter on the
// current target, the live events of every run, what the target holds (for the inspect view), and the
// switch to an AWS account with the list of what the chapters would create there. It owns no UI: the
// TUI (package tui) and the transcript (tui/plain) declare the narrow interfaces they need and *Course
// satisfies both.
//
// Names: every chapter runs with its own prefix, iotlab-<run id>-c<chapter>- (iotlab-<run id>-c<chapter>r<n>-
// after a restart), so chapters never collide with each other, with earlier walkthroughs in a long-lived
// state dir, or with anything else in a shared AWS account.
package course

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/runner"
	"github.com/iotlab/iotlab/exercises/target"
)

// EventBuffer is how many events wait for the UI before new ones are dropped (and counted).
const EventBuffer = 4096

// Options configure a Course. The zero value works: a random run id, no switch to AWS.
type Options struct {
	// RunID names this walkthrough's resources (default: runner.NewRunID()).
	RunID string
	// LocalMode says, for the header, how the local target was reached ("embedded iotlab",
	// "attached to iotlab pid 42").
	LocalMode string
	// OpenAWS opens the AWS target: it asks who the credentials are and where the endpoint is, and
	// creates nothing. Nil: the switch to AWS is not offered.
	OpenAWS func(ctx context.Context) (*target.Target, error)
}

// Info describes the target in use, for headers and transcripts.
type Info struct {
	Kind     target.Kind
	Mode     string // how it was reached: "embedded iotlab", "attached to …", "AWS account"
	Account  string
	Region   string
	Endpoint string // what DescribeEndpoint answers
	MQTTAddr string
	LabAddr  string // "" on AWS
	APIURL   string // "" on AWS
	StateDir string
	Caller   string // the STS caller ARN (AWS)
	Manifest string // the file listing what was created ("" when in memory)
	// Observing: the broker's own account of traffic, with the deciding policy statement, is visible
	// (an iotlab embedded in this process).
	Observing bool
	RunID     string
}

// Result is the outcome of one step.
type Result struct {
	Status   exercises.Status
	Outcomes []exercises.Outcome
	// Err is the first action that could not be performed, if any.
	Err      string
	Duration time.Duration
}

// Course runs the chapters against a target. Build it with New; Close it.
type Course struct {
	opt      Options
	chapters []exercises.Scenario
	byID     map[string]int // scenario id → chapter number
	events   chan exercises.Event
	dropped  atomic.Int64

	mu       sync.Mutex // guards the fields below
	t        *target.Target
	mode     string
	local    *target.Target
	pending  *target.Target // an AWS target probed but not in use yet
	runners  map[int]*runner.Runner
	attempts map[int]int
	sessions map[string]*Session
}

// New makes a course on the local target t, which it then owns (Close closes it).
func New(t *target.Target, o Options) *Course {
	if o.RunID == "" {
		o.RunID = runner.NewRunID()
	}
	if o.LocalMode == "" {
		o.LocalMode = string(t.Kind)
	}
	c := &Course{
		opt:      o,
		chapters: exercises.Chapters(),
		byID:     map[string]int{},
		events:   make(chan exercises.Event, EventBuffer),
		t:        t,
		mode:     o.LocalMode,
		local:    t,
		runners:  map[int]*runner.Runner{},
		attempts: map[int]int{},
		sessions: map[string]*Session{},
	}
	if t.Kind == target.AWS {
		c.mode = "AWS account"
	}
	for _, s := range c.chapters {
		c.byID[s.ID] = s.Chapter
	}
	return c
}

// Chapters is the course, in order.
func (c *Course) Chapters() []exercises.Scenario { return c.chapters }

// ChapterOf maps an event's step ("scenario/step") to its chapter number (0 when unknown).
func (c *Course) ChapterOf(step string) int {
	id, _, _ := strings.Cut(step, "/")
	return c.byID[id]
}

// Info describes the target in use.
func (c *Course) Info() Info {
	c.mu.Lock()
	t, mode := c.t, c.mode
	c.mu.Unlock()
	return info(t, mode, c.opt.RunID)
}

func info(t *target.Target, mode, runID string) Info {
	cancel, ok := t.Observe(func(exercises.Event) {})
	cancel()
	in := Info{Kind: t.Kind, Mode: mode, Account: t.Account, Region: t.Region, Endpoint: t.Endpoint, MQTTAddr: t.MQTTAddr,
		LabAddr: t.LabAddr, APIURL: t.APIURL, StateDir: t.StateDir, Caller: t.Caller, Observing: ok, RunID: runID}
	if t.Manifest != nil {
		in.Manifest = t.Manifest.Path()
	}
	return in
}

// Prefix is the name prefix of the chapter's current run.
func (c *Course) Prefix(chapter int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prefixLocked(chapter)
}

func (c *Course) prefixLocked(chapter int) string {
	if n := c.attempts[chapter]; n > 0 {
		return fmt.Sprintf("iotlab-%s-c%dr%d-", c.opt.RunID, chapter, n)
	}
	return fmt.Sprintf("iotlab-%s-c%d-", c.opt.RunID, chapter)
}

// RunPrefix starts the names of everything this walkthrough creates.
func (c *Course) RunPrefix() string { return "iotlab-" + c.opt.RunID + "-" }

// Applicable reports whether the current target can run the step, and why not.
func (c *Course) Applicable(s exercises.Step) (bool, string) {
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	for _, cp := range s.Requires() {
		if !t.Has(cp) {
			return false, t.Why(cp)
		}
	}
	return true, ""
}

// RunStep runs one step of a chapter on the chapter's runner. Steps of one chapter must be run in
// order, one at a time.
func (c *Course) RunStep(ctx context.Context, chapter int, s exercises.Step) Result {
	sc, ok := c.scenario(chapter)
	if !ok {
		return Result{Status: exercises.Fail, Err: fmt.Sprintf("course: no chapter %d", chapter)}
	}
	r := c.runner(chapter)
	start := time.Now()
	res := r.RunStep(ctx, sc.ID, s)
	// Timed here: runner.StepResult.Duration (and Events) are set in a deferred function after the
	// result was copied, so they arrive empty.
	out := Result{Status: res.Status, Outcomes: res.Outcomes, Duration: time.Since(start)}
	if res.Err != nil {
		out.Err = res.Err.Error()
	}
	return out
}

func (c *Course) scenario(chapter int) (exercises.Scenario, bool) {
	for _, s := range c.chapters {
		if s.Chapter == chapter {
			return s, true
		}
	}
	return exercises.Scenario{}, false
}

func (c *Course) runner(chapter int) *runner.Runner {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.runners[chapter]; ok {
		return r
	}
	p := c.prefixLocked(chapter)
	r := runner.New(c.t, runner.Options{Prefix: p, Run: p, OnEvent: c.onEvent})
	c.runners[chapter] = r
	return r
}

// Restart forgets the chapter's run: its clients disconnect and the next step starts afresh, with new
// names (what the old run created stays, as it would in AWS).
func (c *Course) Restart(ctx context.Context, chapter int) error {
	c.mu.Lock()
	r := c.runners[chapter]
	delete(c.runners, chapter)
	c.attempts[chapter]++
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Close(ctx)
}

// Events is every run's events as they happen, in one stream (events are dropped, and counted in
// Dropped, when nobody reads).
func (c *Course) Events() <-chan exercises.Event { return c.events }

// Dropped counts the events no reader took in time.
func (c *Course) Dropped() int64 { return c.dropped.Load() }

// onEvent is every runner's OnEvent: it must not block.
func (c *Course) onEvent(e exercises.Event) {
	c.track(e)
	select {
	case c.events <- e:
	default:
		c.dropped.Add(1)
	}
}

// closeRunners closes every runner (their clients disconnect, their devices stop).
func (c *Course) closeRunners(ctx context.Context) error {
	c.mu.Lock()
	rs := c.runners
	c.runners = map[int]*runner.Runner{}
	c.mu.Unlock()
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.Close(ctx))
	}
	return errors.Join(errs...)
}

// Close stops every run and closes the targets (an embedded iotlab stops).
func (c *Course) Close(ctx context.Context) error {
	errs := []error{c.closeRunners(ctx)}
	c.mu.Lock()
	ts := []*target.Target{c.pending, c.t}
	if c.local != c.t {
		ts = append(ts, c.local)
	}
	c.pending = nil
	c.mu.Unlock()
	for _, t := range ts {
		if t != nil {
			errs = append(errs, t.Close())
		}
	}
	return errors.Join(errs...)
}

var template = regexp.MustCompile(`@\{([^}=][^}]*)\}`)

// Show turns a run's text into what the learner reads: the run's name prefix (and its rule-name form,
// '-' as '_') hidden, @{name} templates as plain names.
func Show(prefix, s string) string {
	if prefix != "" {
		s = strings.ReplaceAll(s, prefix, "")
		s = strings.ReplaceAll(s, strings.NewReplacer("-", "_", ".", "_").Replace(prefix), "")
	}
	return template.ReplaceAllString(s, "$1")
}
