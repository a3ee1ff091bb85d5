package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/exercises"
)

// Exercise is the screen of one chapter: the step's explanation and actions, its expected outcomes
// (✓/✗ once run) and the live MQTT and API traffic of the step. d opens the step's full details.
type Exercise struct {
	keys          KeyMap
	st            *Styles
	state         *state
	chapter       int
	step          int
	verbose       bool
	scroll        int // traffic lines hidden below the pane (0: follow the newest)
	details       bool
	detailOff     int
	width, height int
}

func newExercise(k KeyMap, st *Styles, s *state) *Exercise {
	return &Exercise{keys: k, st: st, state: s}
}

// SetSize implements Component.
func (m *Exercise) SetSize(w, h int) { m.width, m.height = w, h }

// SetChapter shows chapter n at its first step not run yet.
func (m *Exercise) SetChapter(n int) {
	m.chapter, m.scroll, m.details, m.detailOff = n, 0, false, 0
	m.step = 0
	if cs := m.state.chapter(n); cs != nil {
		m.step = min(cs.nextToRun(), len(cs.steps)-1)
	}
}

// Show moves to step i of the chapter.
func (m *Exercise) Show(i int) {
	if cs := m.state.chapter(m.chapter); cs != nil && i >= 0 && i < len(cs.steps) {
		m.step, m.scroll, m.detailOff = i, 0, 0
	}
}

// Chapter and Step are what is shown.
func (m *Exercise) Chapter() int { return m.chapter }
func (m *Exercise) Step() int    { return m.step }

// Update implements Component.
func (m *Exercise) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	cs := m.state.chapter(m.chapter)
	if !ok || cs == nil {
		return nil
	}
	if m.details {
		switch {
		case key.Matches(k, m.keys.Back), key.Matches(k, m.keys.Details):
			m.details = false
		case key.Matches(k, m.keys.Up):
			m.detailOff = max(0, m.detailOff-1)
		case key.Matches(k, m.keys.Down):
			m.detailOff++
		case key.Matches(k, m.keys.PageUp):
			m.detailOff = max(0, m.detailOff-m.height/2)
		case key.Matches(k, m.keys.PageDown):
			m.detailOff += m.height / 2
		}
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Run):
		if cs.steps[m.step].ran && !m.state.busy {
			m.Show(m.step + 1) // done: go on
			return nil
		}
		return send(runMsg{chapter: m.chapter, step: m.step})
	case key.Matches(k, m.keys.RunAll):
		return send(runMsg{chapter: m.chapter, step: len(cs.steps) - 1, all: true})
	case key.Matches(k, m.keys.Next):
		m.Show(m.step + 1)
	case key.Matches(k, m.keys.Prev):
		m.Show(m.step - 1)
	case key.Matches(k, m.keys.Restart):
		return send(restartMsg{chapter: m.chapter})
	case key.Matches(k, m.keys.Details):
		m.details, m.detailOff = true, 0
	case key.Matches(k, m.keys.Verbose):
		m.verbose = !m.verbose
		m.scroll = 0
	case key.Matches(k, m.keys.Up):
		m.scroll++
	case key.Matches(k, m.keys.Down):
		m.scroll = max(0, m.scroll-1)
	case key.Matches(k, m.keys.PageUp):
		m.scroll += max(1, m.height/3)
	case key.Matches(k, m.keys.PageDown):
		m.scroll = max(0, m.scroll-max(1, m.height/3))
	case key.Matches(k, m.keys.Follow):
		m.scroll = 0
	case key.Matches(k, m.keys.Back):
		return send(backMsg{})
	case key.Matches(k, m.keys.Inspect):
		return send(openInspectMsg{})
	case key.Matches(k, m.keys.AWS):
		return send(probeAWSMsg{})
	}
	return nil
}

// View implements Component.
func (m *Exercise) View() string {
	cs := m.state.chapter(m.chapter)
	if cs == nil || len(cs.steps) == 0 {
		return fit("No such chapter.", m.width, m.height)
	}
	if m.details {
		return m.detailsView(cs)
	}
	w, st := m.width, m.st
	s, ss := cs.sc.Steps[m.step], cs.steps[m.step]

	var top []string
	top = append(top, spread(st.Title.Render(fmt.Sprintf("Chapter %d · %s", cs.sc.Chapter, cs.sc.Title)), " "+m.strip(cs), w))
	where := listenerName(s.Listener)
	if s.Setup {
		where = "set-up · " + where
	}
	top = append(top, spread(st.Title.Render(fmt.Sprintf("Step %d/%d · %s", m.step+1, len(cs.steps), cs.show(s.Title))), " "+where, w))
	for i, l := range wrap(cs.show(s.Do), w-4, 2) {
		top = append(top, label(i, "Do", l))
	}
	var acts []string
	for _, a := range s.Actions {
		acts = append(acts, cs.show(a.Describe()))
	}
	if len(acts) > 0 {
		for i, l := range wrap(strings.Join(acts, "; "), w-4, 2) {
			top = append(top, label(i, "Act", l))
		}
	}
	if ss.na != "" {
		top = append(top, st.NA.Render(cut("– N/A on this target: "+ss.na, w)))
	}

	rows := m.outcomeRows(cs, w)
	room := m.height - len(top) - 3 // a blank line and two headings
	minTraffic := min(max(3, room/3), room)
	nOut := min(len(rows), max(1, room-minTraffic))
	if len(rows) > nOut {
		more := len(rows) - nOut + 1
		rows = append(rows[:nOut-1], st.Muted.Render(fmt.Sprintf("  … %d more (d: details)", more)))
	}
	traffic := m.traffic(cs, m.step)
	nTraffic := max(0, room-len(rows))

	var b []string
	b = append(b, top...)
	b = append(b, "")
	b = append(b, spread(st.Section.Render("Expected outcomes"), m.stepStatus(ss), w))
	b = append(b, rows...)
	heading := "MQTT and API traffic of this step"
	if !m.state.info.Observing {
		heading = "Traffic of this step, as the clients see it" // no broker view: no policy statements
	}
	hint := "v: all traffic"
	if m.verbose {
		hint = "v: less"
	}
	if m.scroll > 0 {
		hint = fmt.Sprintf("↑%d · G: follow · ", m.scroll) + hint
	}
	b = append(b, spread(st.Section.Render(heading), st.Muted.Render(hint), w))
	b = append(b, m.trafficRows(traffic, ss.ran, nTraffic, w)...)
	return fit(strings.Join(b, "\n"), w, m.height)
}

// label puts a short label in front of the first wrapped line and indents the rest.
func label(i int, name, line string) string {
	if i == 0 {
		return pad(name, 4) + line
	}
	return "    " + line
}

func listenerName(l exercises.Listener) string {
	switch l {
	case exercises.Lab:
		return "lab listener (plain MQTT)"
	case exercises.MTLS:
		return "AWS IoT Core MQTT (mTLS)"
	case exercises.API:
		return "AWS API"
	}
	return string(l)
}

// strip is the chapter's steps as marks, the shown one highlighted: " 1✓  2✓ [3✗] 4· ".
func (m *Exercise) strip(cs *chapterState) string {
	var b strings.Builder
	for i, st := range cs.steps {
		s := fmt.Sprintf("%d%s", i+1, Marks[st.status()].Symbol)
		if i == m.step {
			b.WriteString(m.st.Current.Render("[" + s + "]"))
		} else {
			b.WriteString(" " + m.st.status(st.status()).Render(s) + " ")
		}
	}
	return b.String()
}

// stepStatus is the step's verdict, for the outcomes heading.
func (m *Exercise) stepStatus(ss stepState) string {
	switch {
	case ss.running:
		return m.st.mark(statusRunning) + " running…"
	case ss.queued:
		return m.st.Running.Render("… queued")
	case !ss.ran:
		return m.st.Muted.Render("enter: run this step")
	}
	d := ss.result.Duration.Round(10 * time.Millisecond).String()
	if ss.result.Duration < time.Second {
		d = fmt.Sprintf("%dms", ss.result.Duration.Milliseconds())
	}
	return m.st.mark(ss.result.Status) + " " + m.st.Muted.Render(d)
}

// outcomeRows are one line per expected outcome: "✓ PASS  behaviour — observed" once run, the
// expectation and "· TODO" before.
func (m *Exercise) outcomeRows(cs *chapterState, w int) []string {
	s, ss := cs.sc.Steps[m.step], cs.steps[m.step]
	var rows []string
	if ss.ran {
		for _, o := range ss.result.Outcomes {
			rows = append(rows, m.outcomeRows1(cs, o, w)...)
		}
		if len(rows) == 0 {
			rows = append(rows, m.st.mark(ss.result.Status)+cut("  the step's actions ran (no outcome to check)", w-7))
		}
		return rows
	}
	for _, e := range s.Expect {
		b, want := e.Describe()
		rows = append(rows, m.st.mark("")+"  "+cut(cs.show(b)+" — expected "+cs.show(want), w-8))
	}
	if len(rows) == 0 {
		rows = append(rows, m.st.Muted.Render("  nothing to check: the step sets things up"))
	}
	return rows
}

// outcomeRows1 is an outcome's row — a failed one's second row says what was expected and observed.
func (m *Exercise) outcomeRows1(cs *chapterState, o exercises.Outcome, w int) []string {
	text := cs.show(o.Behaviour)
	if o.Status == exercises.Fail {
		return []string{
			m.st.mark(o.Status) + "  " + m.st.Fail.Render(cut(text, w-8)),
			"        " + m.st.Fail.Render(cut("expected "+cs.show(o.Expected)+" · observed "+cs.show(o.Observed), w-8)),
		}
	}
	return []string{m.st.mark(o.Status) + "  " + cut(text+" — "+cs.show(o.Observed), w-8)}
}

// traffic is the step's lines (the whole chapter's with verbose), oldest first.
func (m *Exercise) traffic(cs *chapterState, step int) []trafficLine {
	id := cs.sc.ID + "/" + cs.sc.Steps[step].ID
	var out []trafficLine
	for _, e := range cs.traffic {
		if e.Step != id && !m.verbose {
			continue
		}
		if l, ok := describe(e, cs.show, m.verbose); ok {
			out = append(out, l)
		}
	}
	return out
}

func (m *Exercise) trafficRows(lines []trafficLine, ran bool, n, w int) []string {
	if n <= 0 {
		return nil
	}
	if len(lines) == 0 {
		note := "  nothing yet: run the step (enter) to see who publishes, receives and is refused"
		switch {
		case ran:
			note = "  no MQTT or API traffic in this step"
		case m.state.busy:
			note = "  …"
		}
		return []string{m.st.Muted.Render(cut(note, w))}
	}
	scroll := min(m.scroll, max(0, len(lines)-n))
	end := len(lines) - scroll
	start := max(0, end-n)
	var rows []string
	for _, l := range lines[start:end] {
		rows = append(rows, l.render(*m.st, w))
	}
	return rows
}

// detailsView is everything about the step, uncut and scrollable.
func (m *Exercise) detailsView(cs *chapterState) string {
	w, st := m.width, m.st
	s, ss := cs.sc.Steps[m.step], cs.steps[m.step]
	var b []string
	add := func(prefix, text string) {
		for i, l := range wrap(text, max(10, w-len(prefix)), 1000) {
			if i == 0 {
				b = append(b, prefix+l)
			} else {
				b = append(b, strings.Repeat(" ", len(prefix))+l)
			}
		}
	}
	b = append(b, st.Title.Render(cut(fmt.Sprintf("Chapter %d · Step %d/%d · %s", cs.sc.Chapter, m.step+1, len(cs.steps), cs.show(s.Title)), w)))
	add("Where  ", listenerName(s.Listener))
	add("Doc    ", s.Doc)
	add("Do     ", cs.show(s.Do))
	if ss.na != "" {
		add("N/A    ", ss.na)
	}
	b = append(b, "", st.Section.Render("Actions"))
	for i, a := range s.Actions {
		add(fmt.Sprintf("%3d. ", i+1), cs.show(a.Describe()))
	}
	b = append(b, "", st.Section.Render("Expected outcomes"))
	if ss.ran {
		if ss.result.Err != "" {
			add(st.mark(exercises.Fail)+"  ", "could not run: "+cs.show(ss.result.Err))
		}
		for _, o := range ss.result.Outcomes {
			b = append(b, st.mark(o.Status)+"  "+cut(cs.show(o.Behaviour), w-8))
			add("          expected  ", cs.show(o.Expected))
			add("          observed  ", cs.show(o.Observed))
		}
	} else {
		for _, e := range s.Expect {
			be, want := e.Describe()
			b = append(b, st.mark("")+"  "+cut(cs.show(be), w-8))
			add("          expected  ", cs.show(want))
		}
	}
	b = append(b, "", st.Section.Render("Traffic"))
	for _, l := range m.traffic(cs, m.step) {
		add("", l.mark+" "+l.who+" "+l.what+" "+l.detail)
	}
	off := min(m.detailOff, max(0, len(b)-m.height))
	return fit(strings.Join(b[off:], "\n"), w, m.height)
}

// ShortHelp implements help.KeyMap.
func (m *Exercise) ShortHelp() []key.Binding {
	if m.details {
		return []key.Binding{m.keys.Up, m.keys.Down, m.keys.Back, m.keys.Quit}
	}
	return []key.Binding{m.keys.Run, m.keys.Next, m.keys.RunAll, m.keys.Details, m.keys.Inspect, m.keys.Back, m.keys.Help, m.keys.Quit}
}

// FullHelp implements help.KeyMap.
func (m *Exercise) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.keys.Run, m.keys.RunAll, m.keys.Next, m.keys.Prev, m.keys.Restart},
		{m.keys.Details, m.keys.Verbose, m.keys.Up, m.keys.Down, m.keys.Follow},
		{m.keys.Inspect, m.keys.AWS, m.keys.Back, m.keys.Help, m.keys.Quit},
	}
}
