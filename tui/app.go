// Package tui is the walkthrough: a bubbletea terminal UI that steps through the course's chapters
// (exercises.Chapters) on a target, with the simulated devices' live MQTT traffic, ✓/✗ per expected
// outcome, an inspect view of what the target holds, and the explicit switch to a real AWS account.
//
// Shape (as soft-serve's pkg/ui): App is the root tea.Model; each screen is a Component (model, keys,
// SetSize) — ChapterList, Exercise, Inspect, AWSSwitch. Keys (KeyMap) and looks (Styles) are data.
// Screens do no I/O: they return intents, and App turns them into tea.Cmds calling the narrow Course
// interface (tui/course is the real one, over exercises/runner). Live traffic arrives as eventsMsg,
// read from Course.Events by a command that re-arms itself.
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// Options configure the App. Zero values get defaults.
type Options struct {
	// Context cancels running steps when done (default: background).
	Context context.Context
	// StartAWS opens on the switch to AWS (iotlab tui --target aws).
	StartAWS bool
	// Chapter opens this chapter's exercise screen (0: the chapter list).
	Chapter int
	// Notice is shown first (e.g. why AWS is not available).
	Notice string
	// StepTimeout bounds one step (default 2 minutes: a step on AWS waits up to 20 s per outcome).
	StepTimeout time.Duration
	Keys        *KeyMap
	Styles      *Styles
}

type screen int

const (
	screenChapters screen = iota
	screenExercise
	screenInspect
	screenAWS
)

// App is the walkthrough's root model.
type App struct {
	course Course
	opt    Options
	keys   KeyMap
	st     Styles
	state  *state

	list    *ChapterList
	ex      *Exercise
	inspect *Inspect
	aws     *AWSSwitch
	help    help.Model

	screen, prev  screen
	showHelp      bool
	notice        string
	noticeErr     bool
	width, height int

	queue        []int // steps of queueChapter still to run, in order
	queueChapter int
	queueAll     bool
}

// New makes the App.
func New(c Course, o Options) *App {
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 2 * time.Minute
	}
	a := &App{course: c, opt: o, keys: DefaultKeyMap(), width: 80, height: 24}
	if o.Keys != nil {
		a.keys = *o.Keys
	}
	if o.Styles != nil {
		a.st = *o.Styles
	} else {
		a.st = DefaultStyles(lipgloss.DefaultRenderer())
	}
	a.state = newState(c)
	a.list = newChapterList(a.keys, &a.st, a.state)
	a.ex = newExercise(a.keys, &a.st, a.state)
	a.inspect = newInspect(a.keys, &a.st)
	a.aws = newAWSSwitch(a.keys, &a.st)
	a.help = help.New()
	a.help.Styles = a.st.Help
	a.notice = o.Notice
	if o.Chapter != 0 && a.state.chapter(o.Chapter) != nil {
		a.list.Select(o.Chapter)
		a.ex.SetChapter(o.Chapter)
		a.screen = screenExercise
	}
	a.setSize(a.width, a.height)
	return a
}

// Init implements tea.Model: listen to the course's events; probe AWS when asked to start there.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{listen(a.course.Events())}
	if a.opt.StartAWS {
		cmds = append(cmds, a.probeAWS())
	}
	return tea.Batch(cmds...)
}

// listen reads the next events (up to 256 already waiting, so a busy fleet costs one redraw).
func listen(ch <-chan exercises.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsMsg{closed: true}
		}
		evs := []exercises.Event{e}
		for len(evs) < 256 {
			select {
			case e, ok := <-ch:
				if !ok {
					return eventsMsg{events: evs, closed: true}
				}
				evs = append(evs, e)
			default:
				return eventsMsg{events: evs}
			}
		}
		return eventsMsg{events: evs}
	}
}

func (a *App) active() Component {
	switch a.screen {
	case screenExercise:
		return a.ex
	case screenInspect:
		return a.inspect
	case screenAWS:
		return a.aws
	}
	return a.list
}

// chrome is the header, the notice line and the help footer.
const chrome = 3

func (a *App) setSize(w, h int) {
	a.width, a.height = w, h
	a.help.Width = w
	bh := max(1, h-chrome)
	for _, c := range []Component{a.list, a.ex, a.inspect, a.aws} {
		c.SetSize(w, bh)
	}
}

func (a *App) say(format string, args ...any) {
	a.notice, a.noticeErr = fmt.Sprintf(format, args...), false
}

func (a *App) warn(format string, args ...any) {
	a.notice, a.noticeErr = fmt.Sprintf(format, args...), true
}

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.setSize(msg.Width, msg.Height)
		return a, nil
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			// Keys typed (or sent by tmux) faster than they are read arrive as one message: each is
			// its own key here.
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				_, cmd := a.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
				cmds = append(cmds, cmd)
			}
			return a, tea.Sequence(cmds...)
		}
		a.notice, a.noticeErr = "", false
		switch {
		case key.Matches(msg, a.keys.Quit):
			return a, tea.Quit
		case key.Matches(msg, a.keys.Help):
			a.showHelp = !a.showHelp
			return a, nil
		case a.showHelp:
			a.showHelp = false // any key closes the help, and does nothing else
			return a, nil
		}
		return a, a.active().Update(msg)

	case openChapterMsg:
		a.ex.SetChapter(msg.chapter)
		a.list.Select(msg.chapter)
		a.screen = screenExercise
	case backMsg:
		switch a.screen {
		case screenInspect:
			a.screen = a.prev
		default:
			a.screen = screenChapters
		}
	case openInspectMsg:
		if a.screen != screenInspect {
			a.prev = a.screen
		}
		a.screen = screenInspect
		a.inspect.Loading()
		return a, a.inventory()
	case refreshMsg:
		a.inspect.Loading()
		return a, a.inventory()
	case inventoryMsg:
		a.inspect.SetInventory(msg.inv, msg.err)

	case runMsg:
		return a, a.enqueue(msg)
	case stepDoneMsg:
		return a, a.done(msg)
	case eventsMsg:
		for _, e := range msg.events {
			if cs := a.state.chapter(a.course.ChapterOf(e.Step)); cs != nil {
				cs.addTraffic(e)
			}
		}
		if msg.closed {
			return a, nil
		}
		return a, listen(a.course.Events())

	case restartMsg:
		if a.state.busy {
			a.warn("A step is running: restart when it is done.")
			return a, nil
		}
		return a, a.restart(msg.chapter)
	case restartedMsg:
		cs := a.state.chapter(msg.chapter)
		if cs == nil {
			return a, nil
		}
		cs.reset(msg.prefix)
		if a.ex.Chapter() == msg.chapter {
			a.ex.SetChapter(msg.chapter)
		}
		if msg.err != nil {
			a.warn("Chapter %d restarted (closing the old run: %v).", msg.chapter, msg.err)
		} else {
			a.say("Chapter %d starts again, with fresh names.", msg.chapter)
		}

	case probeAWSMsg:
		if a.state.info.Kind == "aws" {
			a.say("Already on AWS account %s, region %s.", a.state.info.Account, a.state.info.Region)
			return a, nil
		}
		if a.state.busy {
			a.warn("A step is running: switch to AWS when it is done.")
			return a, nil
		}
		return a, a.probeAWS()
	case planMsg:
		if msg.err != nil {
			a.warn("%s", course.Explain(msg.err))
			return a, nil
		}
		a.aws.SetPlan(msg.plan)
		a.notice = ""
		if a.screen != screenAWS {
			a.prev = a.screen
		}
		a.screen = screenAWS
	case awsDecisionMsg:
		a.screen = a.prev
		if a.screen == screenAWS {
			a.screen = screenChapters
		}
		if !msg.yes {
			a.say("Staying on the local target: nothing was created in AWS.")
			return a, nil
		}
		a.say("Switching to AWS…")
		return a, a.useAWS()
	case switchedMsg:
		if msg.err != nil && msg.info.Kind == "" {
			a.warn("%s", course.Explain(msg.err))
			return a, nil
		}
		a.state.info = msg.info
		a.state.applicability(a.course)
		for _, cs := range a.state.chapters {
			cs.reset(a.course.Prefix(cs.sc.Chapter))
		}
		a.screen = screenChapters
		a.say("Now on AWS %s (%s). `iotlab aws cleanup` deletes what the steps create.", msg.info.Account, msg.info.Region)
	}
	return a, nil
}

// enqueue runs a chapter's steps up to msg.step, starting with the first not run yet.
func (a *App) enqueue(msg runMsg) tea.Cmd {
	cs := a.state.chapter(msg.chapter)
	if cs == nil {
		return nil
	}
	if a.state.busy {
		a.warn("A step is running: wait for its outcome.")
		return nil
	}
	from := cs.nextToRun()
	if from > msg.step {
		if msg.all {
			a.say("Every step of chapter %d has run: R runs it again with fresh names.", msg.chapter)
		}
		return nil
	}
	a.queue, a.queueChapter, a.queueAll = nil, msg.chapter, msg.all
	for i := from; i <= msg.step; i++ {
		a.queue = append(a.queue, i)
		cs.steps[i].queued = true
	}
	return a.next()
}

// next starts the next queued step.
func (a *App) next() tea.Cmd {
	cs := a.state.chapter(a.queueChapter)
	if len(a.queue) == 0 || cs == nil {
		a.state.busy = false
		return nil
	}
	i := a.queue[0]
	a.queue = a.queue[1:]
	cs.steps[i].queued, cs.steps[i].running = false, true
	a.state.busy = true
	if a.queueAll && a.screen == screenExercise && a.ex.Chapter() == a.queueChapter {
		a.ex.Show(i)
	}
	c, ch, s, ctx, timeout := a.course, a.queueChapter, cs.sc.Steps[i], a.opt.Context, a.opt.StepTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return stepDoneMsg{chapter: ch, step: i, result: c.RunStep(ctx, ch, s)}
	}
}

// done records a step's result and starts the next one. After a set-up step that failed (or a step
// with nothing to check whose actions failed) the rest of the chapter is skipped, as RunScenario does.
func (a *App) done(msg stepDoneMsg) tea.Cmd {
	cs := a.state.chapter(msg.chapter)
	if cs == nil || msg.step >= len(cs.steps) {
		return a.next()
	}
	cs.steps[msg.step] = stepState{ran: true, result: msg.result, na: cs.steps[msg.step].na}
	s := cs.sc.Steps[msg.step]
	if msg.result.Status == exercises.Fail && (s.Setup || msg.result.Err != "" && len(s.Expect) == 0) {
		for _, i := range a.queue {
			cs.steps[i].queued = false
		}
		a.queue = nil
		for i := msg.step + 1; i < len(cs.steps); i++ {
			cs.steps[i] = stepState{ran: true, na: cs.steps[i].na, result: course.Result{Status: exercises.Skipped,
				Err: "skipped: an earlier set-up step failed (R restarts the chapter)"}}
		}
		a.warn("Step %d could not set things up: the rest of chapter %d is skipped. R restarts it.", msg.step+1, msg.chapter)
	}
	return a.next()
}

func (a *App) inventory() tea.Cmd {
	c, ctx := a.course, a.opt.Context
	return func() tea.Msg {
		inv, err := c.Inventory(ctx)
		return inventoryMsg{inv: inv, err: err}
	}
}

func (a *App) restart(chapter int) tea.Cmd {
	c, ctx := a.course, a.opt.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := c.Restart(ctx, chapter)
		return restartedMsg{chapter: chapter, prefix: c.Prefix(chapter), err: err}
	}
}

func (a *App) probeAWS() tea.Cmd {
	a.say("Asking AWS who these credentials are (STS) and where the endpoint is…")
	c, ctx := a.course, a.opt.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		p, err := c.ProbeAWS(ctx)
		return planMsg{plan: p, err: err}
	}
}

func (a *App) useAWS() tea.Cmd {
	c, ctx := a.course, a.opt.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		info, err := c.UseAWS(ctx)
		return switchedMsg{info: info, err: err}
	}
}

// View implements tea.Model: header, the screen, a notice line and the help footer, exactly
// width × height.
func (a *App) View() string {
	w, h := a.width, a.height
	body := ""
	bh := max(1, h-chrome)
	if a.showHelp {
		body = a.helpView(bh)
	} else {
		body = a.active().View()
	}
	var footer string
	if a.showHelp {
		footer = a.help.ShortHelpView([]key.Binding{a.keys.Help, a.keys.Back, a.keys.Quit})
	} else {
		footer = a.help.ShortHelpView(a.active().ShortHelp())
	}
	return strings.Join([]string{a.header(), fit(body, w, bh), a.noticeLine(), fit(footer, w, 1)}, "\n")
}

func (a *App) header() string {
	in := a.state.info
	var badge string
	if in.Kind == "aws" {
		badge = a.st.BadgeAWS.Render(fmt.Sprintf(" AWS · account %s · %s ", in.Account, in.Region))
	} else {
		badge = a.st.Badge.Render(fmt.Sprintf(" LOCAL · %s · %s ", in.Mode, in.Region))
	}
	left := " iotlab · AWS IoT Core walkthrough"
	if a.width < 90 {
		left = " iotlab walkthrough"
	}
	bw := width(badge)
	if bw >= a.width {
		return cut(badge, a.width)
	}
	return a.st.Header.Render(pad(left, a.width-bw-1)+" ") + badge
}

func (a *App) noticeLine() string {
	if a.notice != "" {
		if a.noticeErr {
			return a.st.Error.Render(cut("✗ "+a.notice, a.width))
		}
		return a.st.Notice.Render(cut(a.notice, a.width))
	}
	if a.state.busy {
		cs := a.state.chapter(a.queueChapter)
		for i, st := range cs.steps {
			if st.running {
				return a.st.Running.Render(cut(fmt.Sprintf("… running chapter %d, step %d/%d: %s", cs.sc.Chapter, i+1, len(cs.steps), cs.show(cs.sc.Steps[i].Title)), a.width))
			}
		}
	}
	return ""
}

// helpView is the ? screen: every key of the current screen, and what the marks mean.
func (a *App) helpView(h int) string {
	hm := a.help
	b := []string{a.st.Title.Render("Keys"), hm.FullHelpView(a.active().FullHelp()), "", a.st.Title.Render("Marks")}
	for _, st := range []exercises.Status{exercises.Pass, exercises.Fail, exercises.NotApplicable, exercises.Skipped, "", statusRunning} {
		var what string
		switch st {
		case exercises.Pass:
			what = "the expected outcome was observed"
		case exercises.Fail:
			what = "it was not: expected and observed differ (d shows both)"
		case exercises.NotApplicable:
			what = "not applicable on this target (e.g. the lab listener on AWS)"
		case exercises.Skipped:
			what = "not tried: an earlier set-up step failed"
		case "":
			what = "not run yet"
		case statusRunning:
			what = "running"
		}
		b = append(b, "  "+a.st.mark(st)+"  "+what)
	}
	b = append(b, "", a.st.Title.Render("Traffic"),
		"  → a client sends   ← a client receives   ✗ refused (with the deciding policy statement)",
		"  names are shown without the run's prefix ("+a.state.info.RunID+")")
	return fit(strings.Join(b, "\n"), a.width, h)
}
