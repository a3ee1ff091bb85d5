package tui

import (
	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
)

// Component is one screen: its model, its keys (help.KeyMap: the footer and the ? screen are built
// from them) and its size. Update changes the component in place and returns what it wants done; a
// component never does I/O itself: it returns intents (openChapterMsg, runMsg, …) that App turns into
// commands on the Course.
type Component interface {
	help.KeyMap
	SetSize(width, height int)
	Update(msg tea.Msg) tea.Cmd
	View() string
}
