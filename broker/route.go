package broker

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
)

// The broker routes every message itself; mochi-mqtt only parses, keeps the topic index and the
// sessions' subscriptions, and answers the protocol. An accepted PUBLISH (OnPublish returns
// ErrRejectPacket, so mochi neither retains, delivers nor acknowledges it) and every service publish
// go through route, which
//   - keeps the topic's retained message (AWS's rules, in the broker's own store: retained.go);
//   - finds the subscribers in mochi's topic index, applies AWS's matching ('#' does not match its
//     parent level) and picks one member of each shared subscription group;
//   - queues a copy for each subscriber's session (session.go), from which the connection's writer
//     sends it (outbox.go) within AWS's window of 100 unacknowledged QoS 1 messages;
//   - returns the store batch holding the queue records of persistent sessions: the publisher's
//     PUBACK waits for it (ackPublish).

// newMessage builds the message of an accepted PUBLISH. mqtt5 says whether its properties count: the
// MQTT version of the inbound publish decides message expiry (AWS: mqtt.html#mqtt5).
func (s *Server) newMessage(topic string, payload []byte, qos byte, props packets.Properties, origin string, mqtt5 bool) *message {
	now := s.now()
	m := &message{seq: s.seq.Add(1), topic: topic, payload: payload, qos: qos, created: now, origin: origin}
	if mqtt5 {
		m.props = packets.Properties{
			PayloadFormat:     props.PayloadFormat,
			PayloadFormatFlag: props.PayloadFormatFlag,
			ContentType:       props.ContentType,
			ResponseTopic:     props.ResponseTopic,
			CorrelationData:   props.CorrelationData,
			User:              props.User,
		}
		if mei := props.MessageExpiryInterval; mei > 0 {
			// AWS: mqtt.html#mqtt5-properties — at most 7 days; larger values are lowered.
			m.expires = now.Add(time.Duration(min(mei, awsMaxMessageExpiry)) * time.Second)
		}
	}
	return m
}

// route delivers a message to the subscribers of its topic (and keeps it when retain is set) and
// returns the store batch its durable records are in, nil when there are none.
func (s *Server) route(m *message, retain bool) *batch {
	var last *batch
	if retain {
		last = s.setRetained(m)
	}
	subs := s.mq.Topics.Subscribers(m.topic)
	targets := make(map[string]byte, len(subs.Subscriptions)+len(subs.Shared))
	for id, sub := range subs.Subscriptions {
		if sub.NoLocal && id == m.origin {
			continue // [MQTT-3.8.3-3]
		}
		targets[id] = sub.Qos
	}
	for filter, members := range subs.Shared {
		if !filterMatches(filter, m.topic) {
			continue // AWS's '#', and [MQTT-4.7.2-1] for '$' topics, which mochi does not apply to groups
		}
		if id, sub, ok := s.pickMember(members, m.qos); ok {
			if q, had := targets[id]; !had || sub.Qos > q {
				targets[id] = sub.Qos
			}
		}
	}
	if retain {
		m.needCommit.Store(true)
	}
	if len(targets) == 0 {
		return last
	}
	m.refs.Add(1)     // the router's own, so that an early acknowledgement cannot delete the record
	m.liveAcks.Add(1) // and so that early acknowledgements cannot release the PUBACK
	for id, subQoS := range targets {
		ss := s.sessionOf(id)
		if ss == nil {
			continue
		}
		qos, ok := s.awsMatch(ss, id, m.topic, subQoS)
		if !ok {
			continue
		}
		qos = min(qos, m.qos)
		if !s.throttleOK(ss, m.topic) {
			continue
		}
		if b := s.enqueue(ss, m, qos, false); b != nil {
			last = b
		}
	}
	s.unref(m)
	m.resolved()
	return last
}

// awsMatch applies AWS's topic matching where mochi's differs: mochi delivers "a/b" to a subscriber
// of "a/b/#" (as the MQTT specification says), AWS does not. When one of the session's parent
// patterns matches the topic, the delivery stands only if one of its filters matches by AWS's rules;
// the QoS is then the highest of those filters'. AWS: mqtt.html#mqtt-differences
func (s *Server) awsMatch(ss *session, id, topic string, qos byte) (byte, bool) {
	ss.mu.Lock()
	parents := ss.parents
	ss.mu.Unlock()
	suspect := false
	for _, p := range parents {
		if filterMatches(p, topic) {
			suspect = true
			break
		}
	}
	if !suspect {
		return qos, true
	}
	cl, ok := s.mq.Clients.Get(id)
	if !ok {
		return 0, false
	}
	best, found := byte(0), false
	for f, sub := range cl.State.Subscriptions.GetAll() {
		if !strings.HasPrefix(f, sharePrefix) && filterMatches(f, topic) {
			best, found = max(best, sub.Qos), true
		}
	}
	return best, found
}

// pickMember chooses the member of a shared subscription group that gets a message: one connected
// member at random; with none connected, a QoS 1 message goes to a persistent member at random, whose
// session keeps it until it comes back; QoS 0 is dropped. AWS: mqtt.html#mqtt5-shared-subscription
// (AWS holds such messages for the group, to be given to the first member back; iotlab gives them to
// one member's session.)
func (s *Server) pickMember(members map[string]packets.Subscription, qos byte) (string, packets.Subscription, bool) {
	var online, persistent []string
	for id := range members {
		ss := s.sessionOf(id)
		if ss == nil {
			continue
		}
		ss.mu.Lock()
		live, keep := ss.conn != nil, ss.persistent && !ss.gone
		ss.mu.Unlock()
		switch {
		case live:
			online = append(online, id)
		case keep:
			persistent = append(persistent, id)
		}
	}
	pool := online
	if len(pool) == 0 && qos > 0 {
		pool = persistent
	}
	if len(pool) == 0 {
		return "", packets.Subscription{}, false
	}
	id := pool[rand.IntN(len(pool))]
	return id, members[id], true
}

// throttleOK applies Quirks.ThrottleDeliveries to a connected session: deliveries count against the
// publish rate of the connection, and those over it are discarded, as AWS documents.
func (s *Server) throttleOK(ss *session, topic string) bool {
	if !s.quirks.ThrottleDeliveries {
		return true
	}
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	if c == nil || c.pubRate.take(s.lim.PublishesPerSecond, s.now()) {
		return true
	}
	s.logPublish(c, awslog.EventPublishOut, topic, false, reasonThrottled)
	if s.observed() {
		s.emit(Event{Kind: EventDeny, ClientID: c.clientID, CertID: c.certID, Topic: topic, Reason: reasonThrottled})
	}
	return false
}

// retainedDelivery is a retained message due to a client because of a filter of its SUBSCRIBE.
type retainedDelivery struct {
	m   *message
	qos byte
}

// retainedFor returns the delivery of topic's retained message to a subscription of QoS qos, taken
// while the SUBSCRIBE is processed (before its SUBACK), so that a message retained after the SUBACK
// reaches the client once, live, and not a second time as the retained one.
func (s *Server) retainedFor(topic string, qos byte) (retainedDelivery, bool) {
	r := s.liveRetained(topic, s.now())
	if r == nil {
		return retainedDelivery{}, false
	}
	// A copy with its own sequence number: the message may also be queued as a live one.
	m := &message{seq: s.seq.Add(1), topic: r.topic, payload: r.payload, qos: r.qos, props: r.props,
		created: r.created, expires: r.expires, origin: r.origin}
	return retainedDelivery{m: m, qos: min(m.qos, qos)}, true
}

// deliverRetained queues the retained messages a SUBSCRIBE asked for, once its SUBACK is out, with
// RETAIN=1, at the lower of the message's and the subscription's QoS. Only filters equal to a topic
// get one (see onSubscribed). AWS: mqtt.html#mqtt-retain
func (s *Server) deliverRetained(c *conn, ds []retainedDelivery) {
	ss := c.sess.Load()
	if ss == nil {
		return
	}
	for _, d := range ds {
		s.enqueue(ss, d.m, d.qos, true)
	}
}
