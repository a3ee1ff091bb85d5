package broker

import (
	"errors"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// An established connection has a writer goroutine, its outbox, while it has something to send (see
// startOutbox). The outbox sends what the connection owes: first the PUBACKs of its publishes whose
// store batch has committed (in the order the PUBLISH packets arrived), then its session's messages:
// QoS 0 ones as they come, QoS 1 ones while fewer than the window (100, AWS's "outbound unacknowledged
// QoS 1 publish requests") are in flight, live ones as they come and stored ones at the resume pace
// (10 per second). A message over the window waits in the session; none is dropped. iot:Receive is
// checked when a message is sent, as AWS checks it "every time a message is delivered". Writes of one
// pass go out together (see conn.Write).

// pendingAck is a PUBACK owed to the client.
type pendingAck struct {
	pid uint16
	b   *batch   // nil: nothing to wait for
	m   *message // nil for Basic Ingest
}

// due reports whether the PUBACK may go: the message's store batch has committed, or every persistent
// session it was queued for was connected and has acknowledged it (its records then need not be on
// disk: the subscribers have it).
func (a pendingAck) due() bool {
	return a.b == nil || a.b.committed() || (a.m != nil && a.m.acknowledged())
}

// failed reports whether the message could not be made durable and was not acknowledged either.
func (a pendingAck) failed() bool {
	return a.b != nil && a.b.committed() && a.b.err != nil && !(a.m != nil && a.m.acknowledged())
}

// ackPublish acknowledges a QoS 1 PUBLISH once it is safe (see due): at once when nothing is pending,
// otherwise through the outbox, keeping the order of the PUBLISH packets. It runs on the read goroutine
// and, as AWS's quota says, reads nothing more from the client while ReceiveMaximum PUBACKs are
// pending ("no new PUBLISH accepted until PUBACK sent").
func (s *Server) ackPublish(c *conn, pid uint16, b *batch, m *message) {
	a := pendingAck{pid: pid, b: b, m: m}
	c.ackMu.Lock()
	if len(c.acks) == 0 && c.acksWriting == 0 && a.due() {
		c.ackMu.Unlock()
		s.writeAck(c, a)
		return
	}
	c.acks = append(c.acks, a)
	n := len(c.acks)
	c.ackMu.Unlock()
	if b != nil {
		b.whenDone(c.signal)
	} else {
		c.signal()
	}
	for max := s.lim.ReceiveMaximum; max > 0 && n >= max; {
		select {
		case <-c.ackFreed:
		case <-c.done:
			return
		}
		c.ackMu.Lock()
		n = len(c.acks)
		c.ackMu.Unlock()
	}
}

// flushAcks writes the PUBACKs that are due, in order.
func (s *Server) flushAcks(c *conn) {
	c.ackMu.Lock()
	i := 0
	for i < len(c.acks) && c.acks[i].due() {
		i++
	}
	ready := c.acks[:i:i]
	c.acks = c.acks[i:]
	if len(c.acks) == 0 {
		c.acks = nil
	}
	c.acksWriting += len(ready)
	c.ackMu.Unlock()
	for _, a := range ready {
		s.writeAck(c, a)
	}
	if len(ready) > 0 {
		c.ackMu.Lock()
		c.acksWriting -= len(ready)
		c.ackMu.Unlock()
		select {
		case c.ackFreed <- struct{}{}:
		default:
		}
	}
}

// writeAck sends a PUBACK. When the message could not be made durable the publisher is not told it was
// accepted: MQTT 5 gets PUBACK 0x80, MQTT 3.1.1 (which has no negative PUBACK) loses the connection,
// lifecycle reason SERVER_ERROR, and will send the message again.
func (s *Server) writeAck(c *conn, a pendingAck) {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: a.pid}
	if a.failed() {
		if c.version < 5 {
			s.kill(c, reasonServerError, packets.ErrServerUnavailable)
			return
		}
		pk.ReasonCode = packets.ErrUnspecifiedError.Code
		pk.Properties.ReasonString = "The message could not be stored"
	}
	_ = c.cl.WritePacket(pk)
}

// outboxIdle is how long an outbox with nothing to send waits before it ends, so that idle connections
// hold no writer goroutine (an idle device never gets one; BenchmarkIdleConnections: 2.3 KB of stack
// and 8 heap objects less per connection); one that receives more often than this keeps its writer.
const outboxIdle = time.Second

// startOutbox starts the connection's writer unless one runs or the connection has ended; signal
// calls it. wg.Add is safe: until finish, the connection's own goroutine is counted in wg.
func (s *Server) startOutbox(c *conn, ss *session) {
	if !c.outRunning.CompareAndSwap(false, true) {
		return
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	select {
	case <-c.done:
		return // outRunning stays set: no start is tried again
	default:
	}
	s.wg.Add(1)
	go s.outbox(c, ss)
}

// outbox is the connection's writer: it sends what is due, then waits for more; it ends with the
// connection, or after outboxIdle with nothing to send and no stored message waiting for its turn.
func (s *Server) outbox(c *conn, ss *session) {
	defer s.wg.Done()
	timer := time.NewTimer(outboxIdle)
	defer timer.Stop()
	for {
		// A new outbox flushes first: the wake that started it may have been taken by the one ending.
		wait := s.flushOut(c, ss)
		paced := wait > 0 // the timer is the next stored message's turn, not the end of idling
		if !paced {
			wait = outboxIdle
		}
		timer.Reset(wait)
		select {
		case <-c.wake:
		case <-timer.C:
			if !paced && s.outboxMayEnd(c) {
				return
			}
		case <-c.done:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// outboxMayEnd lets an idle outbox end: false when a wake came in meanwhile and this outbox is still
// the one to serve it. signal sends its wake before it looks at outRunning, so a wake is never left
// without an outbox.
func (s *Server) outboxMayEnd(c *conn) bool {
	c.outRunning.Store(false)
	select {
	case <-c.wake:
		return !c.outRunning.CompareAndSwap(false, true) // else: signal started another, which flushes
	default:
		return true
	}
}

// flushOut sends everything that is due and returns when the next stored message will be (0: when
// something happens).
func (s *Server) flushOut(c *conn, ss *session) time.Duration {
	c.beginBatch()
	defer c.endBatch()
	s.flushAcks(c)
	for {
		e, pid, wait := s.next(c, ss)
		if e == nil {
			return wait
		}
		if !s.send(c, ss, e, pid) {
			return 0
		}
	}
}

// next takes the session's next message for c: live messages in the order they were published (QoS 1
// ones only while the window has room; QoS 0 ones pass those held), then stored QoS 1 messages at the
// resume pace. A QoS 1 message is in flight once taken.
func (s *Server) next(c *conn, ss *session) (*entry, uint16, time.Duration) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != c {
		return nil, 0, 0
	}
	room := len(ss.inflight) < s.window(c)
	if q0 := ss.qos0.peek(); q0 != nil {
		if q1 := ss.live.peek(); !room || q1 == nil || q0.m.seq < q1.m.seq {
			return ss.qos0.pop(), 0, 0
		}
	}
	if !room {
		return nil, 0, 0
	}
	e := ss.live.pop()
	var wait time.Duration
	if e == nil && ss.stored.len() > 0 {
		if wait = ss.pace(s.lim.QueuedMessagesPerSecond, time.Now()); wait == 0 {
			e = ss.stored.pop()
		}
	}
	if e == nil {
		return nil, 0, wait
	}
	for {
		ss.nextPID++
		if ss.nextPID == 0 {
			ss.nextPID = 1
		}
		if _, used := ss.inflight[ss.nextPID]; !used {
			break
		}
	}
	e.pid = ss.nextPID
	if e.firstSent.IsZero() {
		e.firstSent = s.now()
	}
	ss.inflight[e.pid] = e
	return e, e.pid, 0
}

// pace is the token bucket of stored messages (burst 1): 0 when one may go now, else how long until
// one may.
func (ss *session) pace(rate int, now time.Time) time.Duration {
	if rate <= 0 {
		return 0
	}
	if ss.tokensAt.IsZero() {
		ss.tokens = 1
	} else if el := now.Sub(ss.tokensAt); el > 0 {
		ss.tokens = min(1, ss.tokens+el.Seconds()*float64(rate))
	}
	ss.tokensAt = now
	if ss.tokens >= 1 {
		ss.tokens--
		return 0
	}
	return time.Duration((1 - ss.tokens) / float64(rate) * float64(time.Second))
}

// window is how many QoS 1 messages may be in flight to c.
func (s *Server) window(c *conn) int {
	w := s.lim.OutboundUnacked
	if w <= 0 {
		w = 65535
	}
	if rm := int(c.cl.Properties.Props.ReceiveMaximum); c.version == 5 && rm > 0 {
		w = min(w, rm) // [MQTT-3.3.4-9]
	}
	return w
}

// send writes one message; false when the connection is gone. A message that may not or cannot be
// delivered (iot:Receive denied, expired, larger than the client's Maximum Packet Size) is done with.
func (s *Server) send(c *conn, ss *session, e *entry, pid uint16) bool {
	now := s.now()
	if e.m.expired(now) || !s.allowDelivery(c, e.m.topic) {
		s.done(ss, e, pid)
		return true
	}
	m := e.m
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: e.qos, Retain: e.retain},
		TopicName:   m.topic,
		Payload:     m.payload,
		PacketID:    pid,
		Origin:      m.origin,
		Created:     m.created.Unix(),
	}
	if c.version == 5 {
		pk.Properties = m.props
		if !m.expires.IsZero() {
			// The time left, in whole seconds rounded up: MEI 30 delivered after 20 s carries 10.
			left := m.expires.Sub(now)
			pk.Properties.MessageExpiryInterval = uint32((left + time.Second - 1) / time.Second)
		}
	}
	err := c.cl.WritePacket(pk)
	switch {
	case err == nil:
		return true
	case errors.Is(err, packets.ErrPacketTooLarge):
		// [MQTT-3.1.2-25] a message over the client's Maximum Packet Size is discarded.
		s.done(ss, e, pid)
		return true
	}
	return false // the connection is gone; an in-flight message stays for the next connection
}

// done forgets a taken message that will not be sent.
func (s *Server) done(ss *session, e *entry, pid uint16) {
	if e.qos == 0 {
		return
	}
	ss.mu.Lock()
	if ss.inflight[pid] == e {
		delete(ss.inflight, pid)
		s.release(ss, e)
		if e.counted {
			e.counted = false
			e.m.resolved()
		}
	}
	ss.mu.Unlock()
}
