package tui

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iotlab/iotlab/exercises"
)

// lineKind styles a traffic line.
type lineKind int

const (
	lineOut lineKind = iota
	lineIn
	lineRefused
	lineAPI
	lineInfo
)

// trafficLine is one row of the live pane: a time, a direction mark, who, what.
type trafficLine struct {
	time   string
	mark   string // → sent by the client, ← received by it, ✗ refused, ✓ allowed (the broker's decision)
	who    string
	what   string // PUBLISH, RECEIVE, DENIED, …
	detail string
	kind   lineKind
}

// describe turns an event into a traffic line. ok is false for events the pane leaves out: the
// runner's own bookkeeping always, and, unless verbose, acknowledgements and the broker's account of
// allowed operations (refusals, with the deciding statement, are always shown).
func describe(e exercises.Event, show func(string) string, verbose bool) (trafficLine, bool) {
	l := trafficLine{time: e.Time.Format("15:04:05"), who: show(e.Client)}
	payload := ""
	if e.Payload != "" || e.Kind == exercises.EvPublish || e.Kind == exercises.EvReceive {
		payload = " " + quote(e.Payload)
	}
	flags := func() string {
		f := fmt.Sprintf(" QoS %d", e.QoS)
		if e.Retain {
			f += " retained"
		}
		if e.Dup {
			f += " DUP"
		}
		return f
	}
	switch e.Source {
	case "runner":
		return l, false
	case "api":
		l.mark, l.who, l.what, l.kind, l.detail = " ", "API", "CALL", lineAPI, e.Action
		if e.Kind == exercises.EvAPIError {
			l.mark, l.what, l.kind = "✗", "ERROR", lineRefused
			l.detail = e.Action + ": " + show(e.Detail)
		}
		return l, true
	case "broker":
		if e.Kind == exercises.EvRefused {
			l.mark, l.what, l.kind = "✗", "DENIED", lineRefused
			l.detail = decided(e, show)
			if l.detail == "" {
				l.detail = strings.TrimSpace(e.Action + " " + show(e.Detail))
			}
			// The client's own line shows the topic of a refused publish or subscribe; a refused
			// delivery (iot:Receive) has no such line.
			if e.Topic != "" && e.Action == "iot:Receive" {
				l.detail += " · " + show(e.Topic)
			}
			return l, true
		}
		if !verbose || e.Decision == "" {
			return l, false
		}
		l.mark, l.what, l.kind = "✓", "ALLOWED", lineInfo
		l.detail = decided(e, show)
		if e.Topic != "" {
			l.detail += " · " + show(e.Topic)
		}
		return l, true
	}
	switch e.Kind {
	case exercises.EvConnect:
		l.mark, l.what, l.kind, l.detail = "→", "CONNECT", lineOut, e.Detail
	case exercises.EvConnAck:
		l.mark, l.what, l.kind, l.detail = "←", "CONNACK", lineIn, strings.TrimPrefix(e.Detail, "CONNACK ")
	case exercises.EvPublish:
		l.mark, l.what, l.kind, l.detail = "→", "PUBLISH", lineOut, show(e.Topic)+payload+flags()
	case exercises.EvReceive:
		l.mark, l.what, l.kind, l.detail = "←", "RECEIVE", lineIn, show(e.Topic)+payload+flags()
	case exercises.EvSubscribe:
		l.mark, l.what, l.kind, l.detail = "→", "SUBSCRIBE", lineOut, show(e.Topic)
	case exercises.EvSubAck:
		l.mark, l.what, l.kind, l.detail = "←", "SUBACK", lineIn, strings.TrimPrefix(e.Detail, "SUBACK ")
	case exercises.EvPubAck:
		if !verbose {
			return l, false
		}
		l.mark, l.what, l.kind, l.detail = "←", "PUBACK", lineIn, strings.TrimPrefix(e.Detail, "PUBACK ")
	case exercises.EvDisconnect:
		l.mark, l.what, l.kind, l.detail = "→", "DISCONNECT", lineOut, e.Detail
		if strings.HasPrefix(e.Detail, "from the broker") {
			l.mark, l.kind = "←", lineIn
		}
	case exercises.EvClosed:
		l.mark, l.what, l.kind, l.detail = "×", "CLOSED", lineInfo, closedWhy(e.Detail)
	case exercises.EvRefused:
		l.mark, l.what, l.kind, l.detail = "✗", "REFUSED", lineRefused, show(e.Detail)
	default:
		if !verbose {
			return l, false
		}
		l.mark, l.what, l.kind, l.detail = " ", strings.ToUpper(string(e.Kind)), lineInfo, show(e.Detail)
	}
	return l, true
}

// render lays a traffic line out in w columns: "→ sensor             PUBLISH    home/… "21.5" QoS 0",
// with the time in front when there is room (100 columns or more).
func (l trafficLine) render(st Styles, w int) string {
	s := l.mark + " " + pad(l.who, 18) + " " + pad(l.what, 10) + " " + l.detail
	if w >= 100 {
		s = l.time + " " + s
	}
	s = cut(s, w)
	switch l.kind {
	case lineRefused:
		return st.Refused.Render(s)
	case lineAPI, lineInfo:
		return st.Text.Render(s)
	case lineIn:
		return st.Incoming.Render(s)
	}
	return st.Outgoing.Render(s)
}

// decided says, the deciding statement first so that 80 columns show it: "EXPLICIT_DENY by
// sensor-policy/DenyDoor (Publish)", "IMPLICIT_DENY: no statement allows Publish". The policy engine's
// whole explanation is in the details view (d).
func decided(e exercises.Event, show func(string) string) string {
	action := strings.TrimPrefix(e.Action, "iot:")
	switch {
	case e.Effect == "IMPLICIT_DENY" && strings.Contains(e.Decision, "no policy is attached"):
		return "IMPLICIT_DENY: no policy attached (" + action + ")"
	case e.Effect == "IMPLICIT_DENY":
		return "IMPLICIT_DENY: no statement allows " + action
	case e.Policy == "":
		return show(e.Decision)
	}
	s := e.Effect + " by " + show(e.Policy)
	if e.Sid != "" {
		s += "/" + e.Sid
	}
	return s + " (" + action + ")"
}

// quote shows a payload: in single quotes when it is printable text (as the shell's mosquitto_pub
// -m '…'), Go-quoted otherwise; long ones cut.
func quote(p string) string {
	if len(p) > 60 {
		p = p[:60] + "…"
	}
	if !utf8.ValidString(p) || strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || strings.Contains(p, "'") {
		return fmt.Sprintf("%q", p)
	}
	return "'" + p + "'"
}

// closedWhy shortens why a connection ended.
func closedWhy(detail string) string {
	d := strings.TrimPrefix(detail, "client: ")
	d = strings.TrimPrefix(d, "connection closed: ")
	switch {
	case strings.Contains(d, "use of closed network connection"):
		return "by the client"
	case d == "EOF":
		return "by the broker (EOF)"
	}
	return d
}
