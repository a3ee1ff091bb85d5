// Package runner executes the exercises' steps against a target: it performs each Action (API calls
// through the AWS SDK, MQTT through exercises/client), records what happened as Events, and evaluates
// each Expectation to an Outcome (expected, observed, pass/fail). The TUI drives it one step at a time;
// `iotlab check` and the tests drive whole scenarios.
//
// A Runner holds the state of one run of one scenario: the MQTT connections by name, the devices'
// credentials, the saved API results. Runs are isolated by their name prefix (see exercises.Namer).
package runner

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
	"github.com/iotlab/iotlab/exercises/target"
)

// Options configure a Runner.
type Options struct {
	// Prefix starts every name the run creates (default "iotlab-<random>-").
	Prefix string
	// Run identifies the run's resources in the target's manifest (default: Prefix).
	Run string
	// OnEvent sees every event as it happens (from several goroutines; it must not block).
	OnEvent func(exercises.Event)
	// Cleanup deletes the run's resources from the target on Close.
	Cleanup bool
	// FleetInterval is the reading interval of a fleet started by a step (default 250 ms).
	FleetInterval time.Duration
}

// NewRunID returns a short random id (lower-case letters and digits) for prefixes.
func NewRunID() string {
	var b [5]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:6]
}

// Runner runs steps of one scenario against one target.
type Runner struct {
	t     *target.Target
	opt   Options
	names exercises.Namer

	mu       sync.Mutex // guards the fields below
	clients  map[string]*conn
	devices  map[string]*fleet.Device
	saved    map[string]saved
	events   []exercises.Event // of the current step
	step     string
	lastConn map[string]time.Time // client id → last CONNECT, for AWS's 1 CONNECT/s quota
	quietAt  time.Time            // when "nothing arrived" may be concluded
	stops    []func()

	stopObserving func()
	observing     bool
}

// conn is a named MQTT client of the run.
type conn struct {
	c        *client.Conn // nil when the connect failed
	id       string       // client id
	version  byte
	ack      client.ConnAck
	refused  string // why the connect was refused ("" if accepted)
	pubs     map[string]pub
	subs     map[string]byte
	listener exercises.Listener
}

type pub struct {
	qos    byte
	code   byte
	closed bool // the broker closed the connection instead of acknowledging
	err    error
	at     time.Time
}

type saved struct {
	v   any
	err error
}

// New makes a runner. Close it to disconnect its clients (and clean up, if asked).
func New(t *target.Target, o Options) *Runner {
	if o.Prefix == "" {
		o.Prefix = "iotlab-" + NewRunID() + "-"
	}
	if o.Run == "" {
		o.Run = o.Prefix
	}
	if o.FleetInterval <= 0 {
		o.FleetInterval = 250 * time.Millisecond
	}
	r := &Runner{
		t: t, opt: o,
		names:    exercises.Namer{Prefix: o.Prefix, Account: t.Account, Region: t.Region},
		clients:  map[string]*conn{},
		devices:  map[string]*fleet.Device{},
		saved:    map[string]saved{},
		lastConn: map[string]time.Time{},
	}
	r.stopObserving, r.observing = t.Observe(func(e exercises.Event) {
		// The broker reports everyone's traffic: keep this run's (its client ids carry the prefix).
		if strings.HasPrefix(e.Client, o.Prefix) {
			r.emit(e)
		}
	})
	return r
}

// Target is where the runner runs.
func (r *Runner) Target() *target.Target { return r.t }

// Names is the run's namer.
func (r *Runner) Names() exercises.Namer { return r.names }

// Expand turns a step's template text into what the run uses (@{name} → prefixed name, @{=save.path}
// → a saved value).
func (r *Runner) Expand(s string) string {
	if strings.Contains(s, "@{=") {
		s = refs.ReplaceAllStringFunc(s, func(m string) string {
			save, path, _ := strings.Cut(m[3:len(m)-1], ".")
			r.mu.Lock()
			v, ok := r.saved[save]
			r.mu.Unlock()
			if !ok || v.err != nil {
				return m
			}
			got, ok := lookup(v.v, path)
			if !ok {
				return m
			}
			return render(got)
		})
	}
	return r.names.Expand(s)
}

// StepResult is the outcome of one step.
type StepResult struct {
	Scenario string
	Step     exercises.Step
	Status   exercises.Status
	// Err is the first action that could not be performed (an API or network failure that no
	// expectation anticipated).
	Err      error
	Outcomes []exercises.Outcome
	Events   []exercises.Event
	Duration time.Duration
}

// Applicable reports whether the target can run the step, and why not.
func (r *Runner) Applicable(s exercises.Step) (bool, string) {
	for _, c := range s.Requires() {
		if !r.t.Has(c) {
			return false, r.t.Why(c)
		}
	}
	return true, ""
}

// RunStep performs the step's actions, then evaluates its expectations. It never panics on a failing
// target: failures are in the result.
func (r *Runner) RunStep(ctx context.Context, scenario string, s exercises.Step) (res StepResult) {
	start := time.Now()
	res = StepResult{Scenario: scenario, Step: s}
	r.mu.Lock()
	r.step, r.events = scenario+"/"+s.ID, nil
	r.mu.Unlock()
	r.emit(exercises.Event{Source: "runner", Kind: exercises.EvStep, Detail: s.Title})
	// A named result, so what the deferred function sets reaches the caller.
	defer func() {
		r.mu.Lock()
		res.Events, r.events = r.events, nil
		r.mu.Unlock()
		res.Duration = time.Since(start)
	}()

	if ok, why := r.Applicable(s); !ok {
		res.Status = exercises.NotApplicable
		for _, e := range s.Expect {
			b, w := e.Describe()
			res.Outcomes = append(res.Outcomes, exercises.Outcome{Behaviour: r.Expand(b), Expected: r.Expand(w), Observed: why, Status: exercises.NotApplicable})
		}
		return res
	}
	for _, a := range s.Actions {
		if err := r.do(ctx, s, a); err != nil {
			res.Err = fmt.Errorf("%s: %w", r.Expand(a.Describe()), err)
			break
		}
	}
	r.mu.Lock()
	r.quietAt = time.Now().Add(r.t.Quiet)
	r.mu.Unlock()
	res.Status = exercises.Pass
	if res.Err != nil {
		res.Status = exercises.Fail
		res.Outcomes = append(res.Outcomes, exercises.Outcome{Behaviour: "the step's actions run", Expected: "no error",
			Observed: res.Err.Error(), Status: exercises.Fail})
	}
	for _, e := range s.Expect {
		o := exercises.Outcome{Status: exercises.Skipped, Observed: "not evaluated: an action failed"}
		b, w := e.Describe()
		o.Behaviour, o.Expected = r.Expand(b), r.Expand(w)
		if res.Err == nil {
			o.Observed, o.Status = r.evaluate(ctx, e)
		}
		if o.Status == exercises.Fail {
			res.Status = exercises.Fail
		}
		r.emit(exercises.Event{Source: "runner", Kind: exercises.EvExpectation, Detail: fmt.Sprintf("%s: %s — expected %s, observed %s", o.Status, o.Behaviour, o.Expected, o.Observed)})
		res.Outcomes = append(res.Outcomes, o)
	}
	return res
}

// ScenarioResult is the outcome of a whole scenario.
type ScenarioResult struct {
	Scenario exercises.Scenario
	Steps    []StepResult
	Status   exercises.Status
}

// RunScenario runs every step in order. When a setup step fails, the steps after it are skipped.
func (r *Runner) RunScenario(ctx context.Context, sc exercises.Scenario) ScenarioResult {
	out := ScenarioResult{Scenario: sc, Status: exercises.Pass}
	failedSetup := false
	for _, s := range sc.Steps {
		var res StepResult
		if failedSetup || ctx.Err() != nil {
			res = StepResult{Scenario: sc.ID, Step: s, Status: exercises.Skipped}
			for _, e := range s.Expect {
				b, w := e.Describe()
				res.Outcomes = append(res.Outcomes, exercises.Outcome{Behaviour: r.Expand(b), Expected: r.Expand(w), Observed: "skipped: an earlier set-up step failed", Status: exercises.Skipped})
			}
		} else {
			res = r.RunStep(ctx, sc.ID, s)
		}
		if res.Status == exercises.Fail {
			out.Status = exercises.Fail
			failedSetup = failedSetup || s.Setup
		}
		out.Steps = append(out.Steps, res)
	}
	return out
}

// Close disconnects the run's clients, stops its devices and, with Options.Cleanup, deletes what the
// run created.
func (r *Runner) Close(ctx context.Context) error {
	r.stopObserving()
	r.mu.Lock()
	clients, stops := r.clients, r.stops
	r.clients, r.stops = map[string]*conn{}, nil
	r.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	for _, c := range clients {
		if c.c != nil {
			c.c.Disconnect()
		}
	}
	if !r.opt.Cleanup {
		return nil
	}
	rep := r.t.Cleanup(ctx, r.t.Manifest.Resources(r.opt.Run))
	return errors.Join(rep.Errors...)
}

// emit records an event of the current step and passes it on.
func (r *Runner) emit(e exercises.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.mu.Lock()
	e.Step = r.step
	r.events = append(r.events, e)
	on := r.opt.OnEvent
	r.mu.Unlock()
	if on != nil {
		on(e)
	}
}

// trace turns a client's packet into an event.
func (r *Runner) trace(tr client.Trace) {
	s := tr.Summary()
	if s.Kind == "" {
		return
	}
	r.emit(exercises.Event{Time: tr.Time, Source: "client", Kind: exercises.EventKind(s.Kind), Client: tr.ClientID,
		Topic: s.Topic, QoS: int(s.QoS), Retain: s.Retain, Dup: s.Dup, Payload: string(s.Payload), Code: s.Code, Detail: s.Detail})
}

// record adds a resource the run created to the target's manifest.
func (r *Runner) record(res target.Resource) {
	res.Account, res.Region, res.Run = r.t.Account, r.t.Region, r.opt.Run
	_ = r.t.Manifest.Add(res)
}

func (r *Runner) save(key string, v any, err error) {
	if key == "" {
		return
	}
	r.mu.Lock()
	r.saved[key] = saved{v: v, err: err}
	r.mu.Unlock()
}

// Saved returns a saved result (for the TUI's detail view).
func (r *Runner) Saved(key string) (any, error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.saved[key]
	return s.v, s.err, ok
}
