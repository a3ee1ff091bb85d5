package tui

import (
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// maxTraffic bounds each chapter's traffic log (a running fleet publishes forever).
const maxTraffic = 2000

// state is what the screens share: the course's chapters and, for each, how far the learner got.
// Only App's Update changes it.
type state struct {
	info     course.Info
	chapters []*chapterState
	busy     bool // a step is running
}

type chapterState struct {
	sc      exercises.Scenario
	prefix  string // the run's name prefix, hidden on screen
	steps   []stepState
	traffic []exercises.Event
}

type stepState struct {
	ran     bool
	running bool
	queued  bool
	result  course.Result
	na      string // why the target cannot run it ("" when it can)
}

func newState(c Course) *state {
	s := &state{info: c.Info()}
	for _, sc := range c.Chapters() {
		cs := &chapterState{sc: sc, prefix: c.Prefix(sc.Chapter), steps: make([]stepState, len(sc.Steps))}
		s.chapters = append(s.chapters, cs)
	}
	s.applicability(c)
	return s
}

// applicability notes, for every step, whether the current target can run it.
func (s *state) applicability(c Course) {
	for _, cs := range s.chapters {
		for i, st := range cs.sc.Steps {
			ok, why := c.Applicable(st)
			cs.steps[i].na = ""
			if !ok {
				cs.steps[i].na = why
			}
		}
	}
}

// chapter returns the state of chapter n, or nil.
func (s *state) chapter(n int) *chapterState {
	for _, cs := range s.chapters {
		if cs.sc.Chapter == n {
			return cs
		}
	}
	return nil
}

// reset forgets a chapter's progress (a restart, or a new target).
func (cs *chapterState) reset(prefix string) {
	cs.prefix = prefix
	for i := range cs.steps {
		na := cs.steps[i].na
		cs.steps[i] = stepState{na: na}
	}
	cs.traffic = nil
}

// status of a step: its result's, running, or "" (not run).
func (st stepState) status() exercises.Status {
	switch {
	case st.running:
		return statusRunning
	case st.ran:
		return st.result.Status
	case st.na != "":
		return exercises.NotApplicable
	}
	return ""
}

// progress sums a chapter up: steps done (run, or not applicable and run), and its status.
func (cs *chapterState) progress() (done, total int, status exercises.Status) {
	total = len(cs.steps)
	failed, na, running, cannot := false, 0, false, 0
	for _, st := range cs.steps {
		if st.na != "" {
			cannot++
		}
		if st.ran {
			done++
			switch st.result.Status {
			case exercises.Fail, exercises.Skipped:
				failed = true
			case exercises.NotApplicable:
				na++
			}
		}
		running = running || st.running || st.queued
	}
	switch {
	case failed:
		return done, total, exercises.Fail
	case done == total && na == total, cannot == total:
		return done, total, exercises.NotApplicable
	case done == total:
		return done, total, exercises.Pass
	case done > 0 || running:
		return done, total, statusStarted
	}
	return done, total, ""
}

// nextToRun is the first step not run yet (len(steps) when all ran).
func (cs *chapterState) nextToRun() int {
	for i, st := range cs.steps {
		if !st.ran {
			return i
		}
	}
	return len(cs.steps)
}

// addTraffic appends events, keeping the newest maxTraffic.
func (cs *chapterState) addTraffic(e exercises.Event) {
	cs.traffic = append(cs.traffic, e)
	if len(cs.traffic) > maxTraffic {
		cs.traffic = append(cs.traffic[:0:0], cs.traffic[len(cs.traffic)-maxTraffic/2:]...)
	}
}

// show turns run names into what the learner reads (see course.Show).
func (cs *chapterState) show(s string) string { return course.Show(cs.prefix, s) }
