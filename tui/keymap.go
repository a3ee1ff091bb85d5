package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key of the walkthrough, as data; each screen shows the ones it uses in its help
// footer. Keys are letters and arrows that work in any terminal (and over ssh, and in tmux).
type KeyMap struct {
	Quit key.Binding
	Help key.Binding

	// Lists and panes.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Jump     key.Binding // 1–9, 0: chapter 10
	Open     key.Binding
	Back     key.Binding

	// The exercise screen.
	Run     key.Binding // run the step (and the ones before it that have not run), or go on
	RunAll  key.Binding
	Next    key.Binding
	Prev    key.Binding
	Restart key.Binding
	Details key.Binding
	Verbose key.Binding
	Follow  key.Binding

	// Anywhere.
	Inspect key.Binding
	AWS     key.Binding

	// The inspect view.
	NextTab key.Binding
	PrevTab key.Binding
	Refresh key.Binding

	// The switch to AWS.
	Confirm key.Binding
	Decline key.Binding
}

// DefaultKeyMap is the walkthrough's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),

		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑↓", "move")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "page down")),
		Jump:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9", "0"), key.WithHelp("1-9,0", "chapter")),
		Open:     key.NewBinding(key.WithKeys("enter", "right", "l"), key.WithHelp("enter", "open")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),

		Run:     key.NewBinding(key.WithKeys("enter", " "), key.WithHelp("enter", "run")),
		RunAll:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all")),
		Next:    key.NewBinding(key.WithKeys("right", "n", "l"), key.WithHelp("→", "next")),
		Prev:    key.NewBinding(key.WithKeys("left", "p", "h"), key.WithHelp("←", "prev")),
		Restart: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restart chapter")),
		Details: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "details")),
		Verbose: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "all traffic")),
		Follow:  key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "follow traffic")),

		Inspect: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "inspect")),
		AWS:     key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "to AWS")),

		NextTab: key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab/→", "next tab")),
		PrevTab: key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("←", "prev tab")),
		Refresh: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),

		Confirm: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, use AWS")),
		Decline: key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no, stay local")),
	}
}
