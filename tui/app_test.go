package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

func TestChapterListKeys(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		screen screen
		sel    int
	}{
		{"starts on the list", nil, screenChapters, 2},
		{"down moves", []string{"down"}, screenChapters, 7},
		{"down stops at the end", []string{"down", "down", "down"}, screenChapters, 7},
		{"j and k move", []string{"j", "k"}, screenChapters, 2},
		{"enter opens", []string{"down", "enter"}, screenExercise, 7},
		{"a digit opens its chapter", []string{"7"}, screenExercise, 7},
		{"a digit without a chapter does nothing", []string{"5"}, screenChapters, 2},
		{"esc comes back", []string{"7", "esc"}, screenChapters, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, newFake(), Options{})
			press(t, a, tt.keys...)
			if a.screen != tt.screen {
				t.Errorf("screen = %v, want %v", a.screen, tt.screen)
			}
			if got := a.list.Selected(); got != tt.sel {
				t.Errorf("selected = %d, want %d", got, tt.sel)
			}
		})
	}
}

func TestOptionsChapterOpensIt(t *testing.T) {
	a := newApp(t, newFake(), Options{Chapter: 7})
	if a.screen != screenExercise || a.ex.Chapter() != 7 || a.ex.Step() != 0 {
		t.Fatalf("screen %v chapter %d step %d, want the exercise screen of chapter 7 at step 1", a.screen, a.ex.Chapter(), a.ex.Step())
	}
}

func TestRunStepRunsTheStepsBeforeIt(t *testing.T) {
	f := newFake()
	a := newApp(t, f, Options{})
	press(t, a, "7", "right", "right") // step 3 of chapter 7, steps 1 and 2 not run
	if a.ex.Step() != 2 {
		t.Fatalf("step = %d, want 2", a.ex.Step())
	}
	press(t, a, "enter")
	if got, want := f.ranSteps(), []string{"7/setup", "7/allowed", "7/denied"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	cs := a.state.chapter(7)
	for i, st := range cs.steps[:3] {
		if !st.ran || st.result.Status != exercises.Pass || st.running || st.queued {
			t.Errorf("step %d = %+v, want ran and passed", i+1, st)
		}
	}
	if a.state.busy {
		t.Error("still busy after the last step")
	}
	if a.ex.Step() != 2 {
		t.Errorf("the view moved to step %d; a single run stays on the step asked for (2)", a.ex.Step())
	}
	// enter on a step that ran goes on to the next one, without running anything.
	press(t, a, "enter")
	if a.ex.Step() != 3 || len(f.ranSteps()) != 3 {
		t.Errorf("after enter on a run step: step %d, ran %v; want step 3 and nothing more run", a.ex.Step(), f.ranSteps())
	}
}

func TestRunAllFollowsTheRunningStep(t *testing.T) {
	f := newFake()
	a := newApp(t, f, Options{})
	var shown []int
	drive(t, a, openChapterMsg{chapter: 2})
	_, cmd := a.Update(keyMsg("a"))
	for cmd != nil {
		msg := cmd()
		if m, ok := msg.(stepDoneMsg); ok {
			shown = append(shown, a.ex.Step())
			_ = m
		}
		_, cmd = a.Update(msg)
	}
	if want := []int{0, 1, 2}; !slices.Equal(shown, want) {
		t.Errorf("steps shown while running = %v, want %v", shown, want)
	}
	if done, total, st := a.state.chapter(2).progress(); done != total || st != exercises.Pass {
		t.Errorf("progress = %d/%d %s, want all passed", done, total, st)
	}
}

func TestBusyRefusesAnotherRun(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	drive(t, a, openChapterMsg{chapter: 2})
	_, cmd := a.Update(runMsg{chapter: 2, step: 0})
	if cmd == nil || !a.state.busy {
		t.Fatal("the first run did not start")
	}
	_, cmd2 := a.Update(runMsg{chapter: 2, step: 1})
	if cmd2 != nil {
		t.Error("a second run started while the first was running")
	}
	if !a.noticeErr || !strings.Contains(a.notice, "running") {
		t.Errorf("notice = %q, want a word about the running step", a.notice)
	}
	_, cmd3 := a.Update(restartMsg{chapter: 2})
	if cmd3 != nil {
		t.Error("a restart started while a step was running")
	}
	drive(t, a, cmd())
	if a.state.busy {
		t.Error("still busy after the step finished")
	}
}

func TestFailedSetUpSkipsTheRest(t *testing.T) {
	f := newFake()
	f.results["7/setup"] = course.Result{Status: exercises.Fail, Err: "create policy: AccessDenied",
		Outcomes: []exercises.Outcome{{Behaviour: "the step's actions run", Expected: "no error", Observed: "AccessDenied", Status: exercises.Fail}}}
	a := newApp(t, f, Options{})
	press(t, a, "7", "a")
	if got := f.ranSteps(); !slices.Equal(got, []string{"7/setup"}) {
		t.Fatalf("ran %v, want only the set-up step", got)
	}
	cs := a.state.chapter(7)
	for i, st := range cs.steps[1:] {
		if st.status() != exercises.Skipped {
			t.Errorf("step %d status %q, want skipped", i+2, st.status())
		}
	}
	if _, _, st := cs.progress(); st != exercises.Fail {
		t.Errorf("chapter status %q, want fail", st)
	}
	if !a.noticeErr || !strings.Contains(a.notice, "R restarts") {
		t.Errorf("notice %q, want the way out (R restarts)", a.notice)
	}
	// R restarts the chapter with fresh names; it runs again from step 1.
	press(t, a, "R")
	if cs.prefix != "iotlab-k3x9ab-c7r1-" || cs.steps[0].ran || cs.steps[1].ran {
		t.Errorf("after R: prefix %q, steps %+v; want a fresh chapter", cs.prefix, cs.steps[:2])
	}
}

func TestEventsGoToTheirChapterAndListeningGoesOn(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	_, cmd := a.Update(eventsMsg{events: []exercises.Event{
		{Time: at, Step: "topics/temperature", Source: "client", Kind: exercises.EvPublish, Client: "iotlab-k3x9ab-c2-sensor", Topic: "iotlab-k3x9ab-c2-home/livingroom/temperature", Payload: "21.5"},
		{Time: at, Step: "policy/denied", Source: "broker", Kind: exercises.EvRefused, Client: "iotlab-k3x9ab-c7-livingroom-sensor", Action: "iot:Publish"},
		{Time: at, Step: "nowhere/x", Source: "client", Kind: exercises.EvPublish},
	}})
	if cmd == nil {
		t.Error("no command to read the next events")
	}
	if n := len(a.state.chapter(2).traffic); n != 1 {
		t.Errorf("chapter 2 has %d events, want 1", n)
	}
	if n := len(a.state.chapter(7).traffic); n != 1 {
		t.Errorf("chapter 7 has %d events, want 1", n)
	}
	if _, cmd := a.Update(eventsMsg{closed: true}); cmd != nil {
		t.Error("listening goes on after the stream closed")
	}
}

func TestTrafficIsBounded(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	evs := make([]exercises.Event, 3*maxTraffic)
	for i := range evs {
		evs[i] = exercises.Event{Step: "topics/temperature", Source: "client", Kind: exercises.EvReceive}
	}
	a.Update(eventsMsg{events: evs})
	if n := len(a.state.chapter(2).traffic); n > maxTraffic {
		t.Errorf("%d events kept, want at most %d", n, maxTraffic)
	}
}

func TestSwitchToAWSAsksFirst(t *testing.T) {
	f := newFake()
	f.plan = samplePlan()
	a := newApp(t, f, Options{})
	press(t, a, "A")
	if a.screen != screenAWS {
		t.Fatalf("screen %v, want the switch to AWS", a.screen)
	}
	press(t, a, "n")
	if a.screen != screenChapters || a.state.info.Kind != "local" || !strings.Contains(a.notice, "nothing was created") {
		t.Fatalf("after n: screen %v, target %s, notice %q; want back on the list, local, and told so", a.screen, a.state.info.Kind, a.notice)
	}
	press(t, a, "A", "y")
	if a.state.info.Kind != "aws" || a.state.info.Account != "210987654321" {
		t.Fatalf("after y: target %+v, want the AWS account", a.state.info)
	}
	if !strings.Contains(a.header(), "AWS · account 210987654321 · us-east-1") {
		t.Errorf("header %q does not name the AWS account", a.header())
	}
	// The lab chapter is not applicable on AWS; progress starts again with the AWS names.
	cs := a.state.chapter(2)
	if cs.steps[0].na == "" || cs.steps[0].ran {
		t.Errorf("chapter 2 step 1 on AWS: %+v, want not applicable and not run", cs.steps[0])
	}
	press(t, a, "A")
	if a.screen == screenAWS || !strings.Contains(a.notice, "Already on AWS") {
		t.Errorf("A on AWS: screen %v, notice %q", a.screen, a.notice)
	}
}

func TestSwitchToAWSWithoutCredentialsStaysLocal(t *testing.T) {
	f := newFake()
	f.planErr = errNoCreds
	a := newApp(t, f, Options{StartAWS: true})
	for _, c := range []tea.Cmd{a.Init()} {
		drive(t, a, c())
	}
	if a.screen == screenAWS || a.state.info.Kind != "local" {
		t.Fatalf("screen %v, target %s: want to stay local", a.screen, a.state.info.Kind)
	}
	if !a.noticeErr || !strings.Contains(a.notice, "No AWS credentials found") || !strings.Contains(a.notice, "staying local") {
		t.Errorf("notice %q, want it said plainly", a.notice)
	}
}

func TestStartAWSOpensTheSwitch(t *testing.T) {
	f := newFake()
	f.plan = samplePlan()
	a := newApp(t, f, Options{StartAWS: true})
	drive(t, a, a.Init()())
	if a.screen != screenAWS {
		t.Fatalf("screen %v, want the switch to AWS first", a.screen)
	}
	if a.state.info.Kind != "local" {
		t.Fatal("switched before the learner said yes")
	}
}

func TestInspectFetchesAndGoesBack(t *testing.T) {
	f := newFake()
	f.inv = sampleInventory()
	a := newApp(t, f, Options{})
	press(t, a, "7", "i")
	if a.screen != screenInspect || !a.inspect.loaded || len(a.inspect.inv.Things) != 3 {
		t.Fatalf("screen %v loaded %v things %d", a.screen, a.inspect.loaded, len(a.inspect.inv.Things))
	}
	press(t, a, "tab", "tab", "tab")
	if a.inspect.tab != 3 {
		t.Errorf("tab = %d, want 3 (sessions)", a.inspect.tab)
	}
	press(t, a, "esc")
	if a.screen != screenExercise {
		t.Errorf("esc from inspect: screen %v, want the exercise it came from", a.screen)
	}
}

func TestHelpToggles(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	press(t, a, "?")
	if !a.showHelp || !strings.Contains(a.View(), "Marks") {
		t.Fatal("? did not open the help")
	}
	press(t, a, "esc")
	if a.showHelp || a.screen != screenChapters {
		t.Fatal("esc did not close the help (or left the list)")
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		a := newApp(t, newFake(), Options{})
		seen := press(t, a, k)
		if _, ok := seen[len(seen)-1].(tea.QuitMsg); !ok {
			t.Errorf("%s: no quit (saw %T)", k, seen[len(seen)-1])
		}
	}
}

func TestExerciseScrollsTraffic(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	drive(t, a, openChapterMsg{chapter: 2})
	var evs []exercises.Event
	for i := range 40 {
		evs = append(evs, exercises.Event{Step: "topics/subscribers", Source: "client", Kind: exercises.EvReceive, Client: "c", Topic: "t", Payload: string(rune('a' + i%26))})
	}
	a.Update(eventsMsg{events: evs})
	press(t, a, "up", "up")
	if a.ex.scroll != 2 || !strings.Contains(a.View(), "↑2") {
		t.Errorf("scroll = %d; the heading should say ↑2", a.ex.scroll)
	}
	press(t, a, "G")
	if a.ex.scroll != 0 {
		t.Errorf("G: scroll = %d, want 0 (follow)", a.ex.scroll)
	}
}

// Every screen is exactly the terminal's size, at any size (the trainer resizes the window).
func TestViewsFitEverySize(t *testing.T) {
	f := newFake()
	f.plan = samplePlan()
	f.inv = sampleInventory()
	for _, size := range [][2]int{{80, 24}, {60, 16}, {100, 30}, {140, 45}, {40, 10}} {
		a := newApp(t, f, Options{})
		populate(t, a)
		drive(t, a, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		views := map[string]func(){
			"chapters": func() { drive(t, a, backMsg{}) },
			"exercise": func() { drive(t, a, openChapterMsg{chapter: 7}); a.ex.Show(2) },
			"details":  func() { press(t, a, "d") },
			"inspect":  func() { press(t, a, "esc"); drive(t, a, openInspectMsg{}) },
			"aws":      func() { drive(t, a, planMsg{plan: samplePlan()}) },
			"help":     func() { press(t, a, "?") },
		}
		for _, name := range []string{"chapters", "exercise", "details", "inspect", "aws", "help"} {
			views[name]()
			v := a.View()
			lines := strings.Split(v, "\n")
			if len(lines) != size[1] {
				t.Errorf("%dx%d %s: %d lines", size[0], size[1], name, len(lines))
			}
			for i, l := range lines {
				if w := width(l); w > size[0] {
					t.Errorf("%dx%d %s: line %d is %d wide: %q", size[0], size[1], name, i+1, w, l)
				}
			}
		}
	}
}

// Keys that arrive together (fast typing, tmux send-keys) are each handled.
func TestKeysArrivingTogether(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	press(t, a, "7")
	drive(t, a, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("nn")})
	if a.ex.Step() != 2 {
		t.Errorf("step = %d after \"nn\", want 2", a.ex.Step())
	}
}
