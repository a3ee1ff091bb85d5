package broker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotlab/iotlab/emulator/policy"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventConnect: a CONNECT was accepted (CONNACK 0 sent).
	EventConnect EventKind = iota + 1
	// EventConnectFailed: a CONNECT was refused; Reason says why, Decision names the deciding
	// statement when a policy refused it.
	EventConnectFailed
	// EventDisconnect: a connection ended; Reason is the lifecycle disconnectReason.
	EventDisconnect
	// EventPublish: a client's PUBLISH was accepted.
	EventPublish
	// EventDeliver: a message is being sent to a subscriber (iot:Receive allowed).
	EventDeliver
	// EventDeny: an operation was refused: Action is the policy action or "" for a protocol or quota
	// rule, Decision names the deciding statement, Reason says why.
	EventDeny
	// EventSubscribe: a filter of a SUBSCRIBE was granted.
	EventSubscribe
	// EventUnsubscribe: a filter was unsubscribed.
	EventUnsubscribe
	// EventServicePublish: the broker itself published (a lifecycle event, a will, Server.Publish);
	// ClientID is empty.
	EventServicePublish
)

var kindNames = [...]string{"", "connect", "connect-failed", "disconnect", "publish", "deliver", "deny", "subscribe", "unsubscribe", "service-publish"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one observation of broker traffic, for the TUI and for tests.
type Event struct {
	Kind     EventKind
	Time     time.Time
	ClientID string
	CertID   string
	// Topic is the topic (publish, deliver) or the filter (subscribe).
	Topic   string
	QoS     byte
	Retain  bool
	Payload []byte // shared with the broker: read only
	// Action is the policy action that was checked ("iot:Publish", …) when one was.
	Action string
	// Decision is the policy decision when one was made; Decision.Explain() names the statement.
	Decision policy.Decision
	// Reason: the disconnect reason, or why an operation was refused
	// ("AUTHORIZATION_FAILURE", "THROTTLED", …).
	Reason string
}

// observers is a copy-on-write list, so the hot path reads it with one atomic load.
type observers struct {
	mu   sync.Mutex // guards writes to list and next
	list atomic.Pointer[[]observer]
	next int
}

type observer struct {
	id int
	fn func(Event)
}

// Subscribe registers fn to be called with every Event, synchronously from the broker's goroutines:
// fn must return quickly, must not block, and must not call the Server. The returned function
// unregisters it.
func (s *Server) Subscribe(fn func(Event)) (cancel func()) {
	o := &s.observers
	o.mu.Lock()
	o.next++
	id := o.next
	var cur []observer
	if p := o.list.Load(); p != nil {
		cur = *p
	}
	nl := append(append([]observer(nil), cur...), observer{id: id, fn: fn})
	o.list.Store(&nl)
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			var keep []observer
			for _, ob := range *o.list.Load() {
				if ob.id != id {
					keep = append(keep, ob)
				}
			}
			if len(keep) == 0 {
				o.list.Store(nil)
				return
			}
			o.list.Store(&keep)
		})
	}
}

// observed reports whether anyone listens; callers skip building events otherwise.
func (s *Server) observed() bool { return s.observers.list.Load() != nil }

func (s *Server) emit(e Event) {
	p := s.observers.list.Load()
	if p == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	for _, ob := range *p {
		ob.fn(e)
	}
}
