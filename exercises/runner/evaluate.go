package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
)

var refs = regexp.MustCompile(`@\{=[^}]+\}`)

const (
	pass = exercises.Pass
	fail = exercises.Fail
)

// evaluate checks one expectation and says what was observed.
func (r *Runner) evaluate(ctx context.Context, e exercises.Expectation) (string, exercises.Status) {
	x := r.Expand
	switch e := e.(type) {
	case exercises.Accepted:
		cs, ok := r.conn(e.Client)
		if !ok {
			return "never connected", fail
		}
		if cs.refused != "" {
			return "refused: " + cs.refused, fail
		}
		obs := fmt.Sprintf("CONNACK 0x%02x, session present %v", cs.ack.Code, cs.ack.SessionPresent)
		if e.SessionPresent != nil && *e.SessionPresent != cs.ack.SessionPresent {
			return obs, fail
		}
		return obs, pass
	case exercises.RefusedConnect:
		cs, ok := r.conn(e.Client)
		if !ok {
			return "never connected", fail
		}
		if cs.refused == "" {
			return "CONNACK 0x00: connected", fail
		}
		return cs.refused, pass
	case exercises.PublishAllowed, exercises.PublishRefused:
		var name, topic string
		want := false
		switch e := e.(type) {
		case exercises.PublishAllowed:
			name, topic, want = e.Client, x(e.Topic), true
		case exercises.PublishRefused:
			name, topic = e.Client, x(e.Topic)
		}
		cs, ok := r.conn(name)
		if !ok {
			return "never connected", fail
		}
		r.mu.Lock()
		p, ok := cs.pubs[topic]
		r.mu.Unlock()
		if !ok {
			return "no publish to " + topic, fail
		}
		var obs string
		allowed := false
		switch {
		case p.err != nil:
			obs = p.err.Error()
		case p.closed:
			obs = "connection closed by the broker"
		case p.qos == 0:
			// QoS 0 has no acknowledgement: a refusal shows only as the connection closing.
			if cs.c.WaitClosed(ctx, r.quietLeft()) {
				obs = "connection closed by the broker"
			} else {
				obs, allowed = "connection still open (QoS 0: no PUBACK)", true
			}
		case p.code >= 0x80:
			obs = fmt.Sprintf("PUBACK 0x%02x %s", p.code, client.ReasonName(p.code))
		default:
			obs, allowed = fmt.Sprintf("PUBACK 0x%02x", p.code), true
		}
		if allowed == want && p.err == nil {
			return obs, pass
		}
		return obs, fail
	case exercises.Granted:
		code, obs, ok := r.suback(e.Client, x(e.Filter))
		if !ok {
			return obs, fail
		}
		if code >= 0x80 || (e.QoS >= 0 && int(code) != e.QoS) {
			return obs, fail
		}
		return obs, pass
	case exercises.SubscribeRefused:
		code, obs, ok := r.suback(e.Client, x(e.Filter))
		if !ok || code < 0x80 {
			return obs, fail
		}
		return obs, pass
	case exercises.Receives:
		cs, ok := r.conn(e.Client)
		if !ok || cs.c == nil {
			return "not connected", fail
		}
		topic, payload := x(e.Topic), x(e.Payload)
		match := func(m client.Message) bool {
			return m.Topic == topic && (e.Payload == "" || samePayload(string(m.Payload), payload)) && (!e.EmptyPayload || len(m.Payload) == 0) &&
				(e.QoS == nil || int(m.QoS) == *e.QoS) && (e.Retain == nil || m.Retain == *e.Retain) && (e.Dup == nil || m.Dup == *e.Dup)
		}
		if m, ok := cs.c.WaitFor(ctx, r.t.Wait, match); ok {
			return describe(m), pass
		}
		return r.seen(cs, topic, r.t.Wait), fail
	case exercises.NotReceives:
		cs, ok := r.conn(e.Client)
		if !ok || cs.c == nil {
			return "not connected", fail
		}
		topic, payload := x(e.Topic), x(e.Payload)
		match := func(m client.Message) bool {
			return m.Topic == topic && (e.Payload == "" || samePayload(string(m.Payload), payload))
		}
		if m, ok := cs.c.WaitFor(ctx, r.quietLeft(), match); ok {
			return "received " + describe(m), fail
		}
		return fmt.Sprintf("nothing within %s", r.t.Quiet), pass
	case exercises.Result:
		return r.result(e)
	case exercises.APIError:
		r.mu.Lock()
		s, ok := r.saved[e.Save]
		r.mu.Unlock()
		if !ok {
			return "no result saved as " + e.Save, fail
		}
		if s.err == nil {
			return "succeeded", fail
		}
		code := errorCode(s.err)
		if code == e.Code {
			return code, pass
		}
		return s.err.Error(), fail
	case exercises.ShadowState:
		return r.shadow(ctx, e)
	case exercises.DecidedBy:
		return r.decidedBy(ctx, e)
	case exercises.LogEntry:
		return r.logEntry(ctx, e)
	}
	return fmt.Sprintf("runner: unknown expectation %T", e), fail
}

func (r *Runner) conn(name string) (*conn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs, ok := r.clients[name]
	return cs, ok
}

// quietLeft is how much of the step's quiet period remains.
func (r *Runner) quietLeft() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(time.Until(r.quietAt), 0)
}

func (r *Runner) suback(name, filter string) (byte, string, bool) {
	cs, ok := r.conn(name)
	if !ok {
		return 0, "never connected", false
	}
	code, ok := cs.subs[filter]
	if !ok {
		return 0, "no SUBACK for " + filter, false
	}
	obs := fmt.Sprintf("SUBACK 0x%02x", code)
	if code >= 0x80 {
		obs += " " + client.ReasonName(code)
	} else {
		obs += fmt.Sprintf(" (QoS %d)", code)
	}
	return code, obs, true
}

func describe(m client.Message) string {
	return fmt.Sprintf("%q on %s (QoS %d, retain %v, dup %v)", m.Payload, m.Topic, m.QoS, m.Retain, m.Dup)
}

// seen lists what arrived on a topic, for a failed Receives.
func (r *Runner) seen(cs *conn, topic string, waited time.Duration) string {
	var got []string
	for _, m := range cs.c.Received() {
		if m.Topic == topic {
			got = append(got, describe(m))
		}
	}
	if len(got) == 0 {
		s := fmt.Sprintf("nothing on %s within %s", topic, waited)
		if err := cs.c.Err(); err != nil {
			s += " (connection ended: " + err.Error() + ")"
		}
		return s
	}
	return "only " + strings.Join(got, "; ")
}

// samePayload compares payloads as JSON when both are JSON, as text otherwise.
func samePayload(got, want string) bool {
	if got == want {
		return true
	}
	var a, b any
	if json.Unmarshal([]byte(got), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func (r *Runner) result(e exercises.Result) (string, exercises.Status) {
	r.mu.Lock()
	s, ok := r.saved[e.Save]
	r.mu.Unlock()
	if !ok {
		return "no result saved as " + e.Save, fail
	}
	if s.err != nil {
		return "error: " + s.err.Error(), fail
	}
	v, found := lookup(s.v, e.Path)
	want := r.Expand(e.Want)
	if !found {
		if e.Want == exercises.Absent {
			return exercises.Absent, pass
		}
		return exercises.Absent, fail
	}
	if l, ok := v.([]any); ok && e.Unordered {
		l = slices.Clone(l)
		slices.SortFunc(l, func(a, b any) int { return strings.Compare(render(a), render(b)) })
		v = l
		var w []any
		if json.Unmarshal([]byte(want), &w) == nil {
			slices.SortFunc(w, func(a, b any) int { return strings.Compare(render(a), render(b)) })
			want = render(w)
		}
	}
	got := render(v)
	switch {
	case e.Want == exercises.Absent:
		return got, fail
	case e.Match:
		re, err := regexp.Compile(want)
		if err != nil {
			return "bad expectation: " + err.Error(), fail
		}
		if re.MatchString(got) {
			return got, pass
		}
	case e.Contains:
		if strings.Contains(got, want) {
			return got, pass
		}
	case got == want:
		return got, pass
	}
	return got, fail
}

// lookup follows a dotted path (map keys, list indexes) through a generic value.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, p := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// render writes a value as the expectations spell it: strings bare, everything else as compact JSON.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// shadow polls the thing's shadow until the path holds the wanted value (or, with Stays, checks it
// holds it all through the quiet period).
func (r *Runner) shadow(ctx context.Context, e exercises.ShadowState) (string, exercises.Status) {
	thing, want := r.Expand(e.Thing), r.Expand(e.Want)
	get := func() string {
		out, err := r.t.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
		if err != nil {
			if errorCode(err) == "ResourceNotFoundException" {
				return exercises.Absent
			}
			return "error: " + err.Error()
		}
		v, ok := lookup(decodeJSON(out.Payload), e.Path)
		if !ok {
			return exercises.Absent
		}
		return render(v)
	}
	deadline := time.Now().Add(r.t.Wait)
	if e.Stays {
		deadline = time.Now().Add(max(r.quietLeft(), r.t.Quiet))
	}
	var got string
	for {
		got = get()
		if e.Stays && got != want {
			return got, fail
		}
		if !e.Stays && got == want {
			return got, pass
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(150 * time.Millisecond):
		}
	}
	if e.Stays {
		return got, pass
	}
	return got, fail
}

// decidedBy looks for the broker's decision on the client's action among the step's events.
func (r *Runner) decidedBy(ctx context.Context, e exercises.DecidedBy) (string, exercises.Status) {
	if !r.observing {
		return "not visible on this target: the broker's decisions are shown by an iotlab running in the same process (TestAuthorization answers on any target)", exercises.NotApplicable
	}
	id := r.Expand(e.Client)
	deadline := time.Now().Add(time.Second)
	for {
		var last *exercises.Event
		r.mu.Lock()
		for i := range r.events {
			ev := &r.events[i]
			if ev.Source != "broker" || ev.Client != id || ev.Action != e.Action || ev.Effect == "" {
				continue
			}
			last = ev
			if ev.Effect == e.Effect && (e.Sid == "" || ev.Sid == e.Sid) {
				r.mu.Unlock()
				return ev.Decision, pass
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) || ctx.Err() != nil {
			if last != nil {
				return last.Decision, fail
			}
			return "the broker reported no " + e.Action + " decision for " + id, fail
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logEntry looks for the entry in the AWS-format log file (written as the broker goes).
func (r *Runner) logEntry(ctx context.Context, e exercises.LogEntry) (string, exercises.Status) {
	id := r.Expand(e.Client)
	deadline := time.Now().Add(r.t.Wait)
	var seen []string
	for {
		seen = seen[:0]
		if f, err := os.Open(r.t.LogFile); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
			for sc.Scan() {
				var l struct{ ClientID, EventType, Status, Reason string }
				if json.Unmarshal(sc.Bytes(), &l) != nil || l.ClientID != id {
					continue
				}
				if l.EventType == e.EventType && l.Status == e.Status && (e.Reason == "" || l.Reason == e.Reason) {
					f.Close()
					return strings.TrimSpace(l.EventType + " " + l.Status + " " + l.Reason), pass
				}
				seen = append(seen, l.EventType+" "+l.Status)
			}
			f.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	if len(seen) == 0 {
		return "no entry for " + id + " in " + r.t.LogFile, fail
	}
	return "only " + strings.Join(seen, ", "), fail
}
