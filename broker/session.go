package broker

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
)

// A session is what the broker keeps for a client ID between and across its connections: the QoS 1
// messages queued for it and in flight to it, and, for a persistent session, their records in the
// store. mochi-mqtt keeps the rest of the session (its subscriptions, in its topic index and in an
// offline *mqtt.Client) and decides, as the MQTT specification says, when a session is resumed; the
// broker follows those decisions from its hooks (OnSessionEstablish, OnSessionEstablished,
// OnDisconnect, OnClientExpired) and takes every delivery away from mochi (see route.go), because
// mochi drops QoS 1 messages when a client's queue or in-flight store is full, where AWS holds them.
//
// AWS's rules (mqtt.html#mqtt-persistent-sessions, GR:iot-core):
//   - MQTT 3 cleanSession=0, or MQTT 5 Session Expiry Interval > 0, makes a session persistent; it
//     outlives its connection for the account's expiry period (MQTT 5: at most that);
//   - an MQTT 3 session is never resumed as MQTT 5, nor the reverse;
//   - QoS 1 messages matching a QoS 1 subscription are queued while the client is away, QoS 0 never;
//   - on resume the stored messages come at 10 per second alongside live traffic;
//   - at most 100 QoS 1 messages are in flight to a connection; the others wait.
type session struct {
	id string

	mu         sync.Mutex // guards everything below
	version    byte       // 4 or 5: the protocol of the connection that made it
	persistent bool
	expiry     time.Duration // how long it outlives its connection
	conn       *conn         // the live connection; nil while away
	ended      time.Time     // when its last connection ended
	gone       bool          // discarded: it receives nothing more
	recorded   bool          // its record is in the store
	subKeys    map[string]bool

	stored   fifo // QoS 1 messages stored while away (or restored from the store): paced
	live     fifo // QoS 1 messages that arrived while connected
	qos0     fifo // QoS 0 messages waiting for the connection's writer
	inflight map[uint16]*entry
	nextPID  uint16
	count    int // QoS 1 entries held (stored, live, in flight), for the bound
	bytes    int

	tokens   float64 // pacing of stored messages
	tokensAt time.Time
	fullLogs int // drops at the bound logged so far

	// parents are the "a/b" patterns of the client's "a/b/#" filters (see hashParent), or nil.
	parents []string
}

// qos0Max bounds the QoS 0 messages waiting for one connection's writer; beyond it they are dropped,
// as AWS drops QoS 0 messages "on any failure". AWS: mqtt.html#mqtt-differences
const qos0Max = 4096

func newSession(id string) *session {
	return &session{id: id, inflight: map[uint16]*entry{}, subKeys: map[string]bool{}}
}

// sessionOf returns the session of a client ID, nil when there is none.
func (s *Server) sessionOf(id string) *session {
	s.sessMu.RLock()
	defer s.sessMu.RUnlock()
	return s.sessions[id]
}

// versionClass is 5 for MQTT 5 and 4 for MQTT 3.x: sessions are not resumed across the two.
func versionClass(v byte) byte {
	if v >= 5 {
		return 5
	}
	return 4
}

// enqueue queues m for the session at qos and returns the batch its store record waits in (nil when it
// has none). QoS 0 messages are only for a live connection; a QoS 1 message beyond the session's
// bound is dropped, loudly.
func (s *Server) enqueue(ss *session, m *message, qos byte, retain bool) *batch {
	ss.mu.Lock()
	if ss.gone {
		ss.mu.Unlock()
		return nil
	}
	c := ss.conn
	if qos == 0 {
		if c == nil || ss.qos0.len() >= qos0Max {
			ss.mu.Unlock()
			return nil // AWS: QoS 0 messages are not queued, and are dropped on any failure
		}
		ss.qos0.insert(&entry{m: m, retain: retain})
		ss.mu.Unlock()
		c.signal()
		return nil
	}
	if c == nil && !ss.persistent {
		ss.mu.Unlock()
		return nil // a clean session between its end and its removal
	}
	if ss.count+1 > s.lim.SessionQueueMessages || ss.bytes+len(m.payload) > s.lim.SessionQueueBytes {
		n := ss.fullLogs
		ss.fullLogs++
		ss.mu.Unlock()
		s.queueFull(ss.id, c, m, n)
		return nil
	}
	e := &entry{m: m, qos: qos, retain: retain}
	var b *batch
	if ss.persistent && s.cm != nil {
		e.durable = true
		b = s.cm.add(s.recordOps(ss.id, e)...)
		if c != nil {
			e.counted = true
			m.liveAcks.Add(1)
		} else {
			m.needCommit.Store(true)
		}
	}
	ss.count++
	ss.bytes += e.size()
	if c == nil {
		ss.stored.insert(e)
	} else {
		ss.live.insert(e)
	}
	ss.mu.Unlock()
	if c != nil {
		c.signal()
	}
	return b
}

// recordOps are the writes that make e durable: the message's record (once) and the queue record.
func (s *Server) recordOps(id string, e *entry) []storeOp {
	m := e.m
	m.refs.Add(1)
	ops := make([]storeOp, 0, 2)
	if m.stored.CompareAndSwap(false, true) {
		ops = append(ops, storeOp{key: messageKey(m.seq), value: mustJSON(m.record()), fresh: true})
	}
	return append(ops, storeOp{key: queuedKey(id, m.seq), value: mustJSON(queuedRec{Retain: e.retain}), fresh: true})
}

// forgetOps are the writes that remove e's records from the store.
func forgetOps(id string, e *entry) []storeOp {
	ops := []storeOp{{key: queuedKey(id, e.m.seq)}}
	if e.m.refs.Add(-1) == 0 && e.m.stored.Load() {
		ops = append(ops, storeOp{key: messageKey(e.m.seq)})
	}
	return ops
}

// unref drops the router's reference to m (see route).
func (s *Server) unref(m *message) {
	if m.refs.Add(-1) == 0 && m.stored.Load() {
		s.cm.addLazy(storeOp{key: messageKey(m.seq)})
	}
}

// release forgets an entry that has been delivered, dropped or discarded; ss.mu is held.
func (s *Server) release(ss *session, e *entry) {
	if e.qos == 0 {
		return
	}
	ss.count--
	ss.bytes -= e.size()
	if e.durable {
		e.durable = false
		s.cm.addLazy(forgetOps(ss.id, e)...)
	}
}

// queueFull reports a message not queued because the session is at its bound. AWS: "Messages that
// exceed the limit will be dropped." It is never silent: an event, a Publish-Out log entry when the
// client is connected, and a slog warning (the first and every 100th per session).
func (s *Server) queueFull(id string, c *conn, m *message, n int) {
	if n%100 == 0 {
		s.log.Warn("broker: session queue full, message dropped for this session", "client", id, "topic", m.topic,
			"max_messages", s.lim.SessionQueueMessages, "max_bytes", s.lim.SessionQueueBytes, "drops", n+1)
	}
	if c != nil {
		s.logPublish(c, awslog.EventPublishOut, m.topic, false, reasonQueueFull)
	}
	if s.observed() {
		s.emit(Event{Kind: EventDeny, ClientID: id, Topic: m.topic, QoS: 1, Reason: reasonQueueFull})
	}
}

// ack completes the in-flight message pid after the client's PUBACK.
func (s *Server) ack(ss *session, pid uint16) {
	ss.mu.Lock()
	e := ss.inflight[pid]
	if e == nil {
		ss.mu.Unlock()
		return // an unknown or repeated PUBACK: MQTT says to ignore it
	}
	delete(ss.inflight, pid)
	s.release(ss, e)
	if e.counted {
		e.counted = false
		e.m.resolved()
	}
	c := ss.conn
	more := ss.live.len() > 0 || ss.stored.len() > 0
	ss.mu.Unlock()
	if c != nil && more {
		c.signal()
	}
}

// establish runs in OnSessionEstablish, the ID lock held, just before mochi takes over or replaces an
// existing session with the client's ID: it decides as mochi will (inheritClientSession) and keeps or
// replaces the broker's session accordingly.
func (s *Server) establish(c *conn, pk packets.Packet) {
	// A persistent session past its expiry is over even if the janitor has not swept it yet (it runs
	// every few seconds): it is not resumed. [MQTT-3.1.2-23] Regression:
	// TestExpiredSessionNotResumedBeforeSweep (found by iotlab check, checklist 46).
	if ss := s.sessionOf(c.clientID); ss != nil {
		ss.mu.Lock()
		over := ss.conn == nil && !ss.gone && ss.persistent && !s.now().Before(ss.ended.Add(ss.expiry))
		ss.mu.Unlock()
		if over {
			s.dropSession(c.clientID)
		}
	}
	resume := false
	if existing, ok := s.mq.Clients.Get(c.clientID); ok {
		resume = !pk.Connect.Clean && !(existing.Properties.Clean && existing.Properties.ProtocolVersion < 5)
	}
	s.sessMu.Lock()
	old := s.sessions[c.clientID]
	if old != nil && resume {
		s.sessMu.Unlock()
		old.mu.Lock()
		if old.conn != nil && old.conn != c {
			s.detachLocked(old, old.conn)
		}
		old.mu.Unlock()
		return
	}
	ss := newSession(c.clientID)
	ss.version, ss.persistent = versionClass(c.version), c.persistent
	s.sessions[c.clientID] = ss
	s.sessMu.Unlock()
	if old != nil {
		s.discard(old)
	}
}

// attach gives the session its new connection once CONNACK is out (OnSessionEstablished), brings its
// store records in line with what the connection asked for, and starts the connection's writer.
func (s *Server) attach(c *conn) {
	s.sessMu.Lock()
	ss := s.sessions[c.clientID]
	if ss == nil { // establish made one, and the ID lock kept everyone else away: cannot happen
		ss = newSession(c.clientID)
		s.sessions[c.clientID] = ss
	}
	s.sessMu.Unlock()
	expiry := s.lim.SessionExpiry
	if c.version == 5 {
		// mochi has lowered the client's Session Expiry Interval to the maximum (and said so in CONNACK).
		expiry = time.Duration(c.cl.Properties.Props.SessionExpiryInterval) * time.Second
	}
	filters := c.cl.State.Subscriptions.GetAll()
	ss.mu.Lock()
	if ss.conn != nil && ss.conn != c {
		s.detachLocked(ss, ss.conn)
	}
	ss.conn = c
	ss.version, ss.persistent, ss.expiry = versionClass(c.version), c.persistent, expiry
	ss.tokens, ss.tokensAt = 0, time.Time{}
	ss.parents = parentsOf(filters)
	b := s.syncRecords(ss, filters)
	persistent := ss.persistent
	queued := ss.stored.len()+ss.live.len()+ss.qos0.len() > 0
	ss.mu.Unlock()
	if b != nil && persistent {
		// CONNACK is out, but a persistent session whose record is not on disk would be gone after a
		// crash, with whatever was acknowledged for it since: end the connection (SERVER_ERROR); the
		// client reconnects and the records are written again. Off the committer's goroutine: kill
		// may wait a second for the client's lock.
		b.whenDone(func() {
			if b.err != nil {
				s.log.Error("broker: a persistent session could not be stored; connection closed", "client", c.clientID, "err", b.err)
				go s.kill(c, reasonServerError, packets.ErrServerUnavailable)
			}
		})
	}
	c.srv = s // before sess: signal starts the outbox once sess is set
	c.sess.Store(ss)
	// The outbox starts now only for what is already waiting: messages queued for the session, or a
	// wake sent before sess was set (an enqueue since ss.conn = c). Otherwise the first thing to send
	// starts it (signal), and a connection that stays idle never has one.
	select {
	case <-c.wake:
		queued = true
	default:
	}
	if queued {
		c.signal()
	}
}

// syncRecords makes the store hold exactly what the session needs: everything for a persistent
// session (a resumed one may have been clean until now), nothing for another. ss.mu is held.
// It returns the batch of the writes, nil when there are none.
func (s *Server) syncRecords(ss *session, filters map[string]packets.Subscription) *batch {
	if s.cm == nil {
		return nil
	}
	var ops []storeOp
	if !ss.persistent {
		if !ss.recorded {
			return nil
		}
		ops = append(ops, storeOp{key: sessionKey(ss.id)})
		for f := range ss.subKeys {
			ops = append(ops, storeOp{key: subKey(ss.id, f)})
		}
		clear(ss.subKeys)
		for _, e := range ss.entries() {
			if e.durable {
				e.durable = false
				ops = append(ops, forgetOps(ss.id, e)...)
			}
		}
		ss.recorded = false
		return s.cm.add(ops...)
	}
	ops = append(ops, storeOp{key: sessionKey(ss.id), value: ss.record(time.Time{})})
	ss.recorded = true
	for f, sub := range filters {
		if !ss.subKeys[f] {
			ss.subKeys[f] = true
			ops = append(ops, storeOp{key: subKey(ss.id, f), value: mustJSON(subRecord(sub))})
		}
	}
	for f := range ss.subKeys {
		if _, ok := filters[f]; !ok {
			delete(ss.subKeys, f)
			ops = append(ops, storeOp{key: subKey(ss.id, f)})
		}
	}
	for _, e := range ss.entries() {
		if e.qos > 0 && !e.durable {
			e.durable = true
			ops = append(ops, s.recordOps(ss.id, e)...)
		}
	}
	return s.cm.add(ops...)
}

func (ss *session) record(ended time.Time) []byte {
	r := sessionRec{Version: ss.version, Expiry: uint32(ss.expiry / time.Second)}
	if !ended.IsZero() {
		r.Ended = ended.UnixMilli()
	}
	return mustJSON(r)
}

func subRecord(sub packets.Subscription) subRec {
	return subRec{QoS: sub.Qos, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling}
}

// entries lists every QoS 1 entry of the session; ss.mu is held.
func (ss *session) entries() []*entry {
	out := make([]*entry, 0, ss.count)
	out = append(out, ss.stored.all()...)
	out = append(out, ss.live.all()...)
	for _, e := range ss.inflight {
		out = append(out, e)
	}
	return out
}

// detachLocked parts the session from connection c: what was in flight or waiting becomes stored, to
// be sent again (with new packet IDs: AWS does not support the DUP flag and "might resend the same
// logical PUBLISH message with a different packet ID") when the session resumes. ss.mu is held.
func (s *Server) detachLocked(ss *session, c *conn) {
	if ss.conn != c {
		return
	}
	ss.conn = nil
	ss.ended = s.now()
	ss.qos0.drain()
	all := append(ss.stored.drain(), ss.live.drain()...)
	for pid, e := range ss.inflight {
		delete(ss.inflight, pid)
		e.pid = 0
		all = append(all, e)
	}
	if !ss.persistent {
		for _, e := range all {
			s.release(ss, e)
		}
		return
	}
	ss.stored.setSorted(all)
}

// detach is detachLocked taking the lock; OnDisconnect calls it. A persistent session's record gets
// the time its connection ended (and the expiry an MQTT 5 DISCONNECT may have changed).
func (s *Server) detach(ss *session, c *conn) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != c {
		return
	}
	s.detachLocked(ss, c)
	if ss.persistent && c.version == 5 {
		sei := c.cl.Properties.Props.SessionExpiryInterval // as CONNECT set it, or 0 from a DISCONNECT
		if c.disconnectSEI > 0 {
			sei = c.disconnectSEI
		}
		ss.expiry = time.Duration(sei) * time.Second
	}
	if ss.persistent && ss.recorded && ss.expiry > 0 {
		s.cm.add(storeOp{key: sessionKey(ss.id), value: ss.record(ss.ended)})
	}
}

// discard ends a session: its queued messages and its records go.
func (s *Server) discard(ss *session) {
	s.sessMu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.sessMu.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.gone {
		return
	}
	ss.gone = true
	var ops []storeOp
	for _, e := range ss.entries() {
		if e.durable {
			e.durable = false
			ops = append(ops, forgetOps(ss.id, e)...)
		}
	}
	ss.stored.drain()
	ss.live.drain()
	ss.qos0.drain()
	clear(ss.inflight)
	ss.count, ss.bytes = 0, 0
	for f := range ss.subKeys {
		ops = append(ops, storeOp{key: subKey(ss.id, f)})
	}
	clear(ss.subKeys)
	if ss.recorded {
		ops = append(ops, storeOp{key: sessionKey(ss.id)})
		ss.recorded = false
	}
	if len(ops) > 0 {
		s.cm.add(ops...)
	}
}

// dropSession ends the session of a client that is not connected, in mochi and in the broker
// (expiry, DeleteConnection with cleanSession). The caller holds the ID lock.
func (s *Server) dropSession(id string) {
	if cl, ok := s.mq.Clients.Get(id); ok && cl.Closed() {
		s.mq.UnsubscribeClient(cl) // mochi's expiry leaves the topic index alone
		cl.ClearInflights()
		if cur, ok := s.mq.Clients.Get(id); ok && cur == cl {
			s.mq.Clients.Delete(id)
		}
	}
	if ss := s.sessionOf(id); ss != nil {
		ss.mu.Lock()
		live := ss.conn != nil
		ss.mu.Unlock()
		if !live {
			s.discard(ss)
		}
	}
}

// subscribed records the subscriptions a SUBSCRIBE granted (OnSubscribed) and returns the batch that
// carries them when the session is persistent: the SUBACK waits for it.
func (s *Server) subscribed(c *conn, granted []packets.Subscription) *batch {
	ss := c.sess.Load()
	if ss == nil {
		return nil
	}
	filters := c.cl.State.Subscriptions.GetAll()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.parents = parentsOf(filters)
	if !ss.persistent || s.cm == nil || len(granted) == 0 {
		return nil
	}
	// The session's record goes with its subscriptions, so that a SUBACK never stands on a session
	// record that failed to reach the disk (restore drops subscriptions without one). Regression:
	// TestSubscribeCarriesSessionRecord.
	ops := make([]storeOp, 0, len(granted)+1)
	ops = append(ops, storeOp{key: sessionKey(ss.id), value: ss.record(time.Time{})})
	ss.recorded = true
	for _, sub := range granted {
		ss.subKeys[sub.Filter] = true
		ops = append(ops, storeOp{key: subKey(ss.id, sub.Filter), value: mustJSON(subRecord(sub))})
	}
	return s.cm.add(ops...)
}

// unsubscribed forgets subscriptions (OnUnsubscribed); the UNSUBACK waits for the returned batch.
func (s *Server) unsubscribed(c *conn, filters []string) *batch {
	ss := c.sess.Load()
	if ss == nil {
		return nil
	}
	all := c.cl.State.Subscriptions.GetAll()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.parents = parentsOf(all)
	var ops []storeOp
	for _, f := range filters {
		if ss.subKeys[f] {
			delete(ss.subKeys, f)
			ops = append(ops, storeOp{key: subKey(ss.id, f)})
		}
	}
	if len(ops) == 0 || s.cm == nil {
		return nil
	}
	return s.cm.add(ops...)
}

// parentsOf returns the hashParent patterns of a client's filters, nil when none applies.
func parentsOf(filters map[string]packets.Subscription) []string {
	var ps []string
	for f := range filters {
		if p, ok := hashParent(f); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// sweepSessions ends the sessions whose expiry has passed, drops the QoS 1 messages whose retry
// window or MQTT 5 expiry has passed, and retained messages that expired. The janitor runs it every
// few seconds; tests call it with their clock.
func (s *Server) sweepSessions(now time.Time) {
	s.sessMu.RLock()
	all := slices.Collect(maps.Values(s.sessions))
	s.sessMu.RUnlock()
	for _, ss := range all {
		ss.mu.Lock()
		offline := ss.conn == nil && !ss.gone
		expired := offline && (!ss.persistent || !now.Before(ss.ended.Add(ss.expiry)))
		dropped := s.sweepEntries(ss, now)
		c := ss.conn
		ss.mu.Unlock()
		if c != nil && dropped > 0 {
			c.signal()
		}
		if !expired {
			continue
		}
		owner := new(int)
		s.locks.lock(owner, ss.id)
		ss.mu.Lock()
		still := ss.conn == nil && !ss.gone && s.sessionOf(ss.id) == ss
		ss.mu.Unlock()
		if still {
			s.dropSession(ss.id)
		}
		s.locks.unlock(owner)
	}
	s.sweepRetained(now)
}

// sweepEntries drops a session's QoS 1 messages that were first sent more than the retry window ago
// or whose MQTT 5 expiry has passed; ss.mu is held.
func (s *Server) sweepEntries(ss *session, now time.Time) int {
	var gone []*entry
	stale := func(e *entry) bool {
		return e.m.expired(now) || (!e.firstSent.IsZero() && now.Sub(e.firstSent) >= s.lim.RetryWindow)
	}
	keep := func(e *entry) bool { return !stale(e) }
	gone = append(gone, ss.stored.filter(keep)...)
	gone = append(gone, ss.live.filter(keep)...)
	for pid, e := range ss.inflight {
		if stale(e) {
			delete(ss.inflight, pid)
			gone = append(gone, e)
		}
	}
	for _, e := range gone {
		if !e.m.expired(now) {
			// AWS retries an unacknowledged QoS 1 message for up to an hour, "then drops" it.
			s.log.Warn("broker: QoS 1 message unacknowledged for the retry window, dropped", "client", ss.id,
				"topic", e.m.topic, "first_sent", e.firstSent, "retry_window", s.lim.RetryWindow)
			if s.observed() {
				s.emit(Event{Kind: EventDeny, ClientID: ss.id, Topic: e.m.topic, QoS: 1, Reason: reasonRetryExpired})
			}
		}
		s.release(ss, e)
	}
	return len(gone)
}

// restoreSession recreates, at Start, a persistent session read from the store: an offline mochi
// client holding its subscriptions (as mochi's own loader does) and the broker's session.
func (s *Server) restoreSession(id string, rec sessionRec, subs map[string]subRec, now time.Time) *session {
	cl := s.mq.NewClient(nil, listenerID, id, false)
	cl.Properties.ProtocolVersion = rec.Version
	cl.Properties.Clean = false
	if rec.Version == 5 {
		cl.Properties.Props.SessionExpiryInterval = rec.Expiry
		cl.Properties.Props.SessionExpiryIntervalFlag = true
	}
	cl.Stop(packets.ErrServerShuttingDown) // not connected: marks it closed and starts mochi's expiry clock
	filters := map[string]packets.Subscription{}
	for f, r := range subs {
		sub := packets.Subscription{Filter: f, Qos: r.QoS, NoLocal: r.NoLocal, RetainAsPublished: r.RetainAsPublished, RetainHandling: r.RetainHandling}
		s.mq.Topics.Subscribe(id, sub)
		cl.State.Subscriptions.Add(f, sub)
		filters[f] = sub
	}
	s.mq.Clients.Add(cl)
	ss := newSession(id)
	ss.version, ss.persistent, ss.recorded = versionClass(rec.Version), true, true
	ss.expiry = time.Duration(rec.Expiry) * time.Second
	ss.ended = now
	if rec.Ended != 0 {
		ss.ended = time.UnixMilli(rec.Ended)
	}
	for f := range subs {
		ss.subKeys[f] = true
	}
	ss.parents = parentsOf(filters)
	s.sessions[id] = ss
	return ss
}
