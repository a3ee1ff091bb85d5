package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"

	"github.com/iotlab/iotlab/exercises"
)

// Styles is the look, as data. Colours are the terminal's own 16 ANSI colours, which every theme
// tunes for its background, plus reverse video and bold: readable on light and dark terminals and on
// a projector. No signal is colour only: every status also has a mark and a word (see Marks).
type Styles struct {
	Header    lipgloss.Style // the top bar
	BadgeAWS  lipgloss.Style // the target badge when it is a real AWS account
	Badge     lipgloss.Style // the target badge on the local target
	Title     lipgloss.Style // a screen's first line
	Section   lipgloss.Style // a pane's heading
	Selected  lipgloss.Style // the row under the cursor
	Current   lipgloss.Style // the current step in the step strip
	Text      lipgloss.Style
	Muted     lipgloss.Style // secondary text (times, hints)
	Pass      lipgloss.Style
	Fail      lipgloss.Style
	NA        lipgloss.Style
	Todo      lipgloss.Style
	Running   lipgloss.Style
	Refused   lipgloss.Style // a refused operation in the traffic pane
	Outgoing  lipgloss.Style // a client's packet to the broker
	Incoming  lipgloss.Style // a packet a client received
	Notice    lipgloss.Style
	Error     lipgloss.Style
	Tab       lipgloss.Style
	ActiveTab lipgloss.Style
	Help      help.Styles
}

// DefaultStyles renders with r (lipgloss.DefaultRenderer() for the terminal; an ASCII one for golden
// files).
func DefaultStyles(r *lipgloss.Renderer) Styles {
	green, red, yellow, blue, cyan := lipgloss.Color("2"), lipgloss.Color("1"), lipgloss.Color("3"), lipgloss.Color("4"), lipgloss.Color("6")
	s := Styles{
		Header:    r.NewStyle().Reverse(true).Bold(true),
		BadgeAWS:  r.NewStyle().Background(red).Foreground(lipgloss.Color("15")).Bold(true),
		Badge:     r.NewStyle().Reverse(true),
		Title:     r.NewStyle().Bold(true),
		Section:   r.NewStyle().Bold(true).Underline(true),
		Selected:  r.NewStyle().Reverse(true),
		Current:   r.NewStyle().Reverse(true).Bold(true),
		Text:      r.NewStyle(),
		Muted:     r.NewStyle().Faint(true),
		Pass:      r.NewStyle().Foreground(green).Bold(true),
		Fail:      r.NewStyle().Foreground(red).Bold(true),
		NA:        r.NewStyle().Foreground(yellow),
		Todo:      r.NewStyle(),
		Running:   r.NewStyle().Foreground(cyan).Bold(true),
		Refused:   r.NewStyle().Foreground(red).Bold(true),
		Outgoing:  r.NewStyle().Foreground(blue),
		Incoming:  r.NewStyle().Foreground(green),
		Notice:    r.NewStyle().Bold(true),
		Error:     r.NewStyle().Foreground(red).Bold(true),
		Tab:       r.NewStyle().Padding(0, 1),
		ActiveTab: r.NewStyle().Padding(0, 1).Reverse(true).Bold(true),
	}
	s.Help = help.Styles{
		ShortKey:       r.NewStyle().Bold(true),
		ShortDesc:      r.NewStyle(),
		ShortSeparator: r.NewStyle().Faint(true),
		Ellipsis:       r.NewStyle().Faint(true),
		FullKey:        r.NewStyle().Bold(true),
		FullDesc:       r.NewStyle(),
		FullSeparator:  r.NewStyle().Faint(true),
	}
	return s
}

// Mark is how a status is shown: a symbol and a word, never a colour alone.
type Mark struct {
	Symbol string
	Word   string
}

// Marks are the status marks. "" is a step not run yet.
var Marks = map[exercises.Status]Mark{
	exercises.Pass:          {"✓", "PASS"},
	exercises.Fail:          {"✗", "FAIL"},
	exercises.NotApplicable: {"–", "N/A"},
	exercises.Skipped:       {"○", "SKIP"},
	exercises.NotProbed:     {"○", "SKIP"},
	"":                      {"·", "TODO"},
	statusRunning:           {"…", "RUN"},
	statusStarted:           {"…", "STARTED"},
}

// Pseudo-statuses of the UI.
const (
	statusRunning exercises.Status = "running"
	statusStarted exercises.Status = "started" // a chapter with some steps run
)

// mark renders a status as "✓ PASS" in its style, padded to the widest word.
func (s Styles) mark(st exercises.Status) string {
	m := Marks[st]
	return s.status(st).Render(m.Symbol + " " + pad(m.Word, 4))
}

// status is the style of a status.
func (s Styles) status(st exercises.Status) lipgloss.Style {
	switch st {
	case exercises.Pass:
		return s.Pass
	case exercises.Fail:
		return s.Fail
	case exercises.NotApplicable, exercises.Skipped, exercises.NotProbed:
		return s.NA
	case statusRunning, statusStarted:
		return s.Running
	}
	return s.Todo
}
