package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// ChapterList is the first screen: the chapters with their progress, and the selected one's summary.
type ChapterList struct {
	keys          KeyMap
	st            *Styles
	state         *state
	cursor        int
	width, height int
}

func newChapterList(k KeyMap, st *Styles, s *state) *ChapterList {
	return &ChapterList{keys: k, st: st, state: s}
}

// SetSize implements Component.
func (m *ChapterList) SetSize(w, h int) { m.width, m.height = w, h }

// Selected is the chapter number under the cursor.
func (m *ChapterList) Selected() int {
	if len(m.state.chapters) == 0 {
		return 0
	}
	return m.state.chapters[m.cursor].sc.Chapter
}

// Select moves the cursor to chapter n.
func (m *ChapterList) Select(n int) {
	for i, cs := range m.state.chapters {
		if cs.sc.Chapter == n {
			m.cursor = i
		}
	}
}

// Update implements Component.
func (m *ChapterList) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Up):
		if m.cursor > 0 {
			m.cursor--
		}
	case key.Matches(k, m.keys.Down):
		if m.cursor < len(m.state.chapters)-1 {
			m.cursor++
		}
	case key.Matches(k, m.keys.Jump):
		n := int(k.String()[0] - '0')
		if n == 0 {
			n = 10
		}
		if m.state.chapter(n) != nil {
			m.Select(n)
			return send(openChapterMsg{chapter: n})
		}
	case key.Matches(k, m.keys.Open):
		return send(openChapterMsg{chapter: m.Selected()})
	case key.Matches(k, m.keys.Inspect):
		return send(openInspectMsg{})
	case key.Matches(k, m.keys.AWS):
		return send(probeAWSMsg{})
	}
	return nil
}

// View implements Component.
func (m *ChapterList) View() string {
	w := m.width
	var b []string
	b = append(b, spread(m.st.Title.Render("Chapters"), m.st.Title.Render("Progress")+" ", w))
	for i, cs := range m.state.chapters {
		done, total, status := cs.progress()
		right := m.st.mark(status) + fmt.Sprintf(" %2d/%-2d", done, total)
		cursor := "  "
		if i == m.cursor {
			cursor = "▸ "
		}
		left := fmt.Sprintf("%s%2d  %s", cursor, cs.sc.Chapter, cs.sc.Title)
		if w >= 100 {
			left = pad(left, w-15-24) + "  " + listeners(cs.sc.Listeners)
		}
		line := spread(left, right+" ", w)
		if i == m.cursor {
			line = m.st.Selected.Render(spread(left, Marks[status].Symbol+" "+pad(Marks[status].Word, 4)+fmt.Sprintf(" %2d/%-2d", done, total)+" ", w))
		}
		b = append(b, line)
	}
	b = append(b, "")
	if len(m.state.chapters) > 0 {
		cs := m.state.chapters[m.cursor]
		room := m.height - len(b) - 3
		b = append(b, m.st.Title.Render(cut(fmt.Sprintf("Chapter %d · %s", cs.sc.Chapter, cs.sc.Title), w)))
		b = append(b, wrap(cs.sc.Summary, w, max(1, room))...)
		b = append(b, cut("Uses: "+listeners(cs.sc.Listeners)+" · "+fmt.Sprintf("%d steps", len(cs.sc.Steps)), w))
		b = append(b, m.st.Muted.Render(cut(cs.sc.Doc, w)))
	}
	if room := m.height - len(b); room > 1 {
		b = append(b, make([]string, room-1)...)
		b = append(b, m.st.Muted.Render(cut(where(m.state.info), w)))
	}
	return fit(strings.Join(b, "\n"), w, m.height)
}

// listeners names where a chapter talks to.
func listeners(ls []exercises.Listener) string {
	var out []string
	for _, l := range ls {
		switch l {
		case exercises.Lab:
			out = append(out, "lab MQTT")
		case exercises.MTLS:
			out = append(out, "mTLS MQTT")
		case exercises.API:
			out = append(out, "AWS API")
		default:
			out = append(out, string(l))
		}
	}
	return strings.Join(out, ", ")
}

// ShortHelp implements help.KeyMap.
func (m *ChapterList) ShortHelp() []key.Binding {
	return []key.Binding{m.keys.Up, m.keys.Open, m.keys.Jump, m.keys.Inspect, m.keys.AWS, m.keys.Help, m.keys.Quit}
}

// FullHelp implements help.KeyMap.
func (m *ChapterList) FullHelp() [][]key.Binding {
	return [][]key.Binding{{m.keys.Up, m.keys.Down, m.keys.Open, m.keys.Jump}, {m.keys.Inspect, m.keys.AWS, m.keys.Help, m.keys.Quit}}
}

// where says how to reach the target with one's own clients (boto3, the aws CLI, mosquitto_pub).
func where(in course.Info) string {
	var parts []string
	if in.APIURL != "" {
		parts = append(parts, "API "+strings.TrimPrefix(in.APIURL, "http://"))
	}
	if in.MQTTAddr != "" {
		parts = append(parts, "mTLS "+in.MQTTAddr)
	}
	if in.LabAddr != "" {
		parts = append(parts, "lab "+in.LabAddr)
	}
	if len(parts) == 0 {
		return ""
	}
	return "Target: " + strings.Join(parts, " · ")
}
