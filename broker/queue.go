package broker

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// message is one accepted PUBLISH, shared by every queue it is in. Its fields do not change once it
// has been routed.
type message struct {
	seq     uint64 // unique, increasing: the key of its store record and the order of queues
	topic   string
	payload []byte
	qos     byte
	props   packets.Properties // the MQTT 5 properties forwarded to subscribers (no expiry, no alias)
	created time.Time
	expires time.Time // zero: never (MQTT 3 publishers, no Message Expiry Interval)
	origin  string    // the publisher's client ID; "" for the service

	// refs counts the store's queue records that name this message, plus one while it is being
	// routed; the message record is deleted when it falls to 0.
	refs   atomic.Int32
	stored atomic.Bool // its record has been written

	// The publisher's PUBACK waits until the message is durable for every persistent session it is
	// queued for, or delivered to them and acknowledged: a persistent subscriber that is connected
	// and keeps up costs its publisher no fsync (see ackPublish).
	publisher  *conn        // woken when liveAcks falls to 0; nil for the service's publishes
	liveAcks   atomic.Int32 // durable entries for connected sessions not yet acknowledged, +1 while routing
	needCommit atomic.Bool  // queued for a session that is away, or retained: only the commit will do
}

// acknowledged reports whether every persistent subscriber it was routed to has acknowledged it.
func (m *message) acknowledged() bool {
	return !m.needCommit.Load() && m.liveAcks.Load() == 0
}

// resolved counts one live durable entry as acknowledged (or as never to be delivered).
func (m *message) resolved() {
	if m.liveAcks.Add(-1) == 0 && m.publisher != nil {
		m.publisher.signal()
	}
}

// expired reports whether an MQTT 5 Message Expiry Interval has elapsed [MQTT-3.3.2-5].
func (m *message) expired(now time.Time) bool {
	return !m.expires.IsZero() && !now.Before(m.expires)
}

// entry is one message queued for one session.
type entry struct {
	m         *message
	qos       byte
	retain    bool      // sent with RETAIN=1: a retained message delivered because of a SUBSCRIBE
	durable   bool      // its queue record is in the store (a persistent session's QoS 1 message)
	counted   bool      // counted in m.liveAcks until acknowledged
	pid       uint16    // packet ID while in flight
	firstSent time.Time // first delivery attempt, for the retry window; zero before
}

func (e *entry) size() int { return len(e.m.payload) }

// fifo is a queue of entries.
type fifo struct {
	items []*entry
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(e *entry) { q.items = append(q.items, e) }

// insert adds e in message sequence order, searching from the tail: messages mostly arrive in order,
// but a retained message taken at a SUBSCRIBE is queued after its SUBACK, behind later messages.
func (q *fifo) insert(e *entry) {
	i := len(q.items)
	for i > q.head && q.items[i-1].m.seq > e.m.seq {
		i--
	}
	q.items = slices.Insert(q.items, i, e)
}

func (q *fifo) peek() *entry {
	if q.len() == 0 {
		return nil
	}
	return q.items[q.head]
}

func (q *fifo) pop() *entry {
	if q.len() == 0 {
		return nil
	}
	e := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head > 64 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return e
}

// drain removes and returns every entry.
func (q *fifo) drain() []*entry {
	out := q.items[q.head:]
	q.items, q.head = nil, 0
	return out
}

// all returns the entries without removing them.
func (q *fifo) all() []*entry { return q.items[q.head:] }

// filter keeps the entries keep accepts and returns the others.
func (q *fifo) filter(keep func(*entry) bool) (removed []*entry) {
	kept := q.items[:0]
	for _, e := range q.items[q.head:] {
		if keep(e) {
			kept = append(kept, e)
		} else {
			removed = append(removed, e)
		}
	}
	clear(q.items[len(kept):])
	q.items, q.head = kept, 0
	return removed
}

// setSorted replaces the content with es ordered by message sequence.
func (q *fifo) setSorted(es []*entry) {
	slices.SortStableFunc(es, func(a, b *entry) int {
		switch {
		case a.m.seq < b.m.seq:
			return -1
		case a.m.seq > b.m.seq:
			return 1
		}
		return 0
	})
	q.items, q.head = es, 0
}
