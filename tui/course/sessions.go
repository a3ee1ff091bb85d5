package course

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotlab/iotlab/exercises"
)

// Session is an MQTT session of the walkthrough's clients, as their own traffic shows it: the broker
// offers no listing of sessions (and AWS none either), so the inspect view reads it from the events.
type Session struct {
	Client     string // client id
	Version    string // "MQTT 3.1.1", "MQTT 5"
	Persistent bool   // connected with a persistent session (clean session / clean start false)
	Connected  bool
	// Refused is why the last CONNECT was refused ("" when it was not).
	Refused string
	// Subscriptions are the filters the broker granted, while the session lasts.
	Subscriptions []string
	Last          time.Time
	pending       []string // filters of the SUBSCRIBE waiting for its SUBACK
}

// Sessions lists the sessions seen, by client id.
func (c *Course) Sessions() []Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		cp := *s
		cp.Subscriptions = slices.Clone(s.Subscriptions)
		cp.pending = nil
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Session) int { return strings.Compare(a.Client, b.Client) })
	return out
}

// track folds a client-side event into the sessions table.
func (c *Course) track(e exercises.Event) {
	if e.Source != "client" || e.Client == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[e.Client]
	if s == nil {
		s = &Session{Client: e.Client}
		c.sessions[e.Client] = s
	}
	s.Last = e.Time
	switch e.Kind {
	case exercises.EvConnect:
		s.Version, _, _ = strings.Cut(e.Detail, " clean=")
		s.Persistent = strings.Contains(e.Detail, "clean=false")
		if !s.Persistent {
			s.Subscriptions = nil
		}
	case exercises.EvConnAck:
		s.Connected, s.Refused = true, ""
	case exercises.EvRefused:
		switch {
		case strings.HasPrefix(e.Detail, "CONNACK"):
			s.Connected, s.Refused = false, e.Detail
		case strings.HasPrefix(e.Detail, "SUBACK"):
			s.grant(e.Detail)
		}
	case exercises.EvSubscribe:
		s.pending = strings.Fields(e.Topic)
	case exercises.EvSubAck:
		s.grant(e.Detail)
	case exercises.EvClosed, exercises.EvDisconnect:
		s.Connected = false
	}
}

// grant adds the filters a SUBACK ("SUBACK 01 80 …") granted.
func (s *Session) grant(detail string) {
	codes := strings.Fields(strings.TrimPrefix(detail, "SUBACK"))
	for i, f := range s.pending {
		if i >= len(codes) {
			break
		}
		code, err := strconv.ParseUint(codes[i], 16, 8)
		if err != nil || code >= 0x80 || slices.Contains(s.Subscriptions, f) {
			continue
		}
		s.Subscriptions = append(s.Subscriptions, f)
	}
	s.pending = nil
}
