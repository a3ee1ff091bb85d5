package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/tui/course"
)

// AWSSwitch is the explicit, safe switch to a real AWS account: it shows the account, region and
// endpoint the credentials lead to, and every resource the chapters would create there, and creates
// nothing unless the learner says yes.
type AWSSwitch struct {
	keys          KeyMap
	st            *Styles
	plan          course.Plan
	offset        int
	width, height int
}

func newAWSSwitch(k KeyMap, st *Styles) *AWSSwitch { return &AWSSwitch{keys: k, st: st} }

// SetSize implements Component.
func (m *AWSSwitch) SetSize(w, h int) { m.width, m.height = w, h }

// SetPlan shows a plan.
func (m *AWSSwitch) SetPlan(p course.Plan) { m.plan, m.offset = p, 0 }

// Update implements Component.
func (m *AWSSwitch) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Confirm):
		return send(awsDecisionMsg{yes: true})
	case key.Matches(k, m.keys.Decline):
		return send(awsDecisionMsg{yes: false})
	case key.Matches(k, m.keys.Up):
		m.offset = max(0, m.offset-1)
	case key.Matches(k, m.keys.Down):
		m.offset++
	case key.Matches(k, m.keys.PageUp):
		m.offset = max(0, m.offset-m.height/2)
	case key.Matches(k, m.keys.PageDown):
		m.offset += m.height / 2
	}
	return nil
}

// View implements Component.
func (m *AWSSwitch) View() string {
	w, st, p := m.width, m.st, m.plan
	field := func(name, value string) string { return cut(st.Title.Render(pad(name, 10))+value, w) }
	b := []string{
		st.BadgeAWS.Render(cut(" Switch to AWS — nothing is created until you press y ", w)),
		field("Account", p.Account+"  ("+p.Caller+")"),
		field("Region", p.Region),
		field("Endpoint", p.MQTTAddr),
		field("Names", p.Prefix+"c<chapter>-…; tagged iotlab=exercise where AWS allows"),
		field("Creates", strings.Join(p.Kinds(), ", ")),
	}
	manifest := p.Manifest
	if manifest == "" {
		manifest = "(in memory: pass --state-dir to keep a list)"
	}
	b = append(b, field("Listed in", manifest), field("Cleanup", "`iotlab aws cleanup` deletes exactly these"))
	for _, r := range p.Reasons() {
		b = append(b, field("Not run", r))
	}
	nameW := max(20, w-3-1-13-1-1-15)
	row := func(ch, kind, name, tag string) string {
		return fmt.Sprintf("%-3s %-13s %s %s", ch, kind, pad(name, nameW), tag)
	}
	b = append(b, st.Section.Render(cut(row("ch", "kind", "name", "tag"), w)))
	var rows []string
	for _, r := range p.Resources {
		tag := r.Tag
		if tag == "" {
			tag = "prefix only"
		}
		rows = append(rows, row(fmt.Sprint(r.Chapter), r.Kind, r.Name, tag))
	}
	room := max(1, m.height-len(b)-1)
	off := min(m.offset, max(0, len(rows)-room))
	end := min(len(rows), off+room)
	for _, r := range rows[off:end] {
		b = append(b, cut(r, w))
	}
	ask := fmt.Sprintf("Create these in %s as steps run? y: yes · n: stay local  (%d–%d of %d)", p.Account, min(off+1, len(rows)), end, len(rows))
	return fit(strings.Join(b, "\n"), w, m.height-1) + "\n" + st.Notice.Render(cut(ask, w))
}

// ShortHelp implements help.KeyMap.
func (m *AWSSwitch) ShortHelp() []key.Binding {
	return []key.Binding{m.keys.Confirm, m.keys.Decline, m.keys.Up, m.keys.Quit}
}

// FullHelp implements help.KeyMap.
func (m *AWSSwitch) FullHelp() [][]key.Binding {
	return [][]key.Binding{{m.keys.Confirm, m.keys.Decline}, {m.keys.Up, m.keys.Down, m.keys.PageUp, m.keys.PageDown, m.keys.Quit}}
}
