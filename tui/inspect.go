package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/tui/course"
)

// Inspect shows what the target holds of this walkthrough: things, certificates, policies, MQTT
// sessions and retained messages, one tab each.
type Inspect struct {
	keys          KeyMap
	st            *Styles
	inv           course.Inventory
	loaded        bool
	loading       bool
	err           error
	tab           int
	offset        int
	width, height int
}

var inspectTabs = []string{"Things", "Certificates", "Policies", "Sessions", "Retained"}

func newInspect(k KeyMap, st *Styles) *Inspect { return &Inspect{keys: k, st: st} }

// SetSize implements Component.
func (m *Inspect) SetSize(w, h int) { m.width, m.height = w, h }

// Loading marks the inventory as being fetched.
func (m *Inspect) Loading() { m.loading = true }

// SetInventory shows a fetched inventory.
func (m *Inspect) SetInventory(inv course.Inventory, err error) {
	m.inv, m.err, m.loaded, m.loading = inv, err, true, false
	m.offset = 0
}

// Update implements Component.
func (m *Inspect) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.NextTab):
		m.tab, m.offset = (m.tab+1)%len(inspectTabs), 0
	case key.Matches(k, m.keys.PrevTab):
		m.tab, m.offset = (m.tab+len(inspectTabs)-1)%len(inspectTabs), 0
	case key.Matches(k, m.keys.Up):
		m.offset = max(0, m.offset-1)
	case key.Matches(k, m.keys.Down):
		m.offset++
	case key.Matches(k, m.keys.PageUp):
		m.offset = max(0, m.offset-m.height/2)
	case key.Matches(k, m.keys.PageDown):
		m.offset += m.height / 2
	case key.Matches(k, m.keys.Refresh):
		return send(refreshMsg{})
	case key.Matches(k, m.keys.Back):
		return send(backMsg{})
	case key.Matches(k, m.keys.AWS):
		return send(probeAWSMsg{})
	}
	return nil
}

func (m *Inspect) count(tab int) int {
	switch tab {
	case 0:
		return len(m.inv.Things)
	case 1:
		return len(m.inv.Certificates)
	case 2:
		return len(m.inv.Policies)
	case 3:
		return len(m.inv.Sessions)
	}
	return len(m.inv.Retained)
}

// View implements Component.
func (m *Inspect) View() string {
	w, st := m.width, m.st
	var tabs []string
	for i, name := range inspectTabs {
		label := fmt.Sprintf("%s %d", name, m.count(i))
		if i == m.tab {
			tabs = append(tabs, st.ActiveTab.Render("["+label+"]"))
		} else {
			tabs = append(tabs, st.Tab.Render(" "+label+" "))
		}
	}
	b := []string{
		st.Title.Render(cut("What the target holds of this walkthrough", w)),
		cut(strings.Join(tabs, ""), w),
	}
	show := func(s string) string { return strings.ReplaceAll(s, m.inv.Prefix, "") }
	header, rows := m.table(show)
	switch {
	case m.loading && !m.loaded:
		rows = []string{"  asking the target…"}
	case m.err != nil:
		b = append(b, st.Error.Render(cut("✗ "+m.err.Error(), w)))
	}
	for _, e := range m.inv.Errors {
		b = append(b, st.Error.Render(cut("✗ "+e, w)))
	}
	b = append(b, st.Section.Render(cut(header, w)))
	if len(rows) == 0 {
		rows = []string{st.Muted.Render("  none yet: run a chapter's steps, then r to refresh")}
	}
	room := max(1, m.height-len(b)-1)
	off := min(m.offset, max(0, len(rows)-room))
	end := min(len(rows), off+room)
	for _, r := range rows[off:end] {
		b = append(b, cut(r, w))
	}
	note := fmt.Sprintf("names start %s (hidden) · %d–%d of %d", m.inv.Prefix, min(off+1, len(rows)), end, len(rows))
	if m.loading && m.loaded {
		note = "refreshing… · " + note
	}
	return fit(strings.Join(b, "\n"), w, m.height-1) + "\n" + st.Muted.Render(cut(note, w))
}

// table is the selected tab's heading and rows.
func (m *Inspect) table(show func(string) string) (string, []string) {
	var rows []string
	switch m.tab {
	case 0:
		for _, t := range m.inv.Things {
			rows = append(rows, fmt.Sprintf("%-30s %-22s %s", show(t.Name), show(t.Type), t.AttrString()))
		}
		return fmt.Sprintf("%-30s %-22s %s", "thing", "type", "attributes"), rows
	case 1:
		for _, c := range m.inv.Certificates {
			id := c.ID
			if len(id) > 16 {
				id = id[:16] + "…"
			}
			rows = append(rows, fmt.Sprintf("%-30s %-18s %s", show(c.Device), id, c.Status))
		}
		return fmt.Sprintf("%-30s %-18s %s", "made for", "certificate id", "status"), rows
	case 2:
		for _, p := range m.inv.Policies {
			rows = append(rows, fmt.Sprintf("%-30s %s", show(p.Name), strings.Join(p.Sids, ", ")))
		}
		return fmt.Sprintf("%-30s %s", "policy", "statements (Sid)"), rows
	case 3:
		for _, s := range m.inv.Sessions {
			state := "offline"
			switch {
			case s.Connected:
				state = "CONNECTED"
			case s.Refused != "":
				state = "REFUSED"
			}
			kind := "clean"
			if s.Persistent {
				kind = "persistent"
			}
			subs := strings.Join(s.Subscriptions, " ")
			rows = append(rows, fmt.Sprintf("%-24s %-9s %-10s %-10s %s", show(s.Client), state, kind, s.Version, show(subs)))
		}
		return fmt.Sprintf("%-24s %-9s %-10s %-10s %s", "client id", "state", "session", "protocol", "subscriptions"), rows
	}
	for _, r := range m.inv.Retained {
		rows = append(rows, fmt.Sprintf("%-44s QoS %d  %q", show(r.Topic), r.QoS, r.Payload))
	}
	return fmt.Sprintf("%-44s %-6s %s", "topic", "QoS", "payload"), rows
}

// ShortHelp implements help.KeyMap.
func (m *Inspect) ShortHelp() []key.Binding {
	return []key.Binding{m.keys.NextTab, m.keys.Up, m.keys.Refresh, m.keys.Back, m.keys.Help, m.keys.Quit}
}

// FullHelp implements help.KeyMap.
func (m *Inspect) FullHelp() [][]key.Binding {
	return [][]key.Binding{{m.keys.NextTab, m.keys.PrevTab, m.keys.Up, m.keys.Down}, {m.keys.Refresh, m.keys.AWS, m.keys.Back, m.keys.Help, m.keys.Quit}}
}
