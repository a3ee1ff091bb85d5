package broker

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Retained messages, as AWS keeps them (AWS: mqtt.html#mqtt-retain, checklist 50–52, 55):
//   - one per topic; a RETAIN publish replaces it, and one with an empty payload deletes it (and is
//     still forwarded to the current subscribers);
//   - sent on SUBSCRIBE only to a filter equal to the topic: never to a wildcard filter, never to a
//     shared subscription; with RETAIN=1 then, while live forwards of a retained publish have
//     RETAIN=0;
//   - an MQTT 3 publisher's retained message never expires; an MQTT 5 one expires with its Message
//     Expiry Interval (at most 7 days);
//   - kept in the store, so that they survive restarts and crashes.
//
// The broker keeps them itself rather than in mochi-mqtt's topic index: mochi would send them to
// wildcard filters, expire MQTT 3 ones (MaximumMessageExpiryInterval), and its retained index races
// wildcard scans (see broker/lab). iot-data reads them through RetainedMessage and RetainedMessages.

// retainedMsg is a topic's retained message.
type retainedMsg struct {
	*message
	modified time.Time // lastModifiedTime
}

// setRetained applies a RETAIN publish and returns the batch its record is in (nil without a store).
// When that batch fails the change is undone (retainedCommitted): the publisher was not told the message
// was accepted, and the retained message iot-data and new subscribers see must be the one a restart
// would find.
func (s *Server) setRetained(m *message) *batch {
	key := retainedKey(m.topic)
	s.retMu.Lock()
	var b *batch
	if len(m.payload) == 0 {
		if _, ok := s.retained[m.topic]; !ok {
			s.retMu.Unlock()
			return nil
		}
		delete(s.retained, m.topic)
		b = s.cm.add(storeOp{key: key})
	} else {
		// lastModifiedTime is in milliseconds; keep no more, so that it reads the same after a restart.
		s.retained[m.topic] = &retainedMsg{message: m, modified: time.UnixMilli(m.created.UnixMilli())}
		rec := m.record()
		rec.Modified = m.created.UnixMilli()
		b = s.cm.add(storeOp{key: key, value: mustJSON(rec)})
	}
	if b != nil {
		if s.retPending == nil {
			s.retPending = map[string]uint64{}
		}
		s.retPending[m.topic] = m.seq
	}
	s.retMu.Unlock()
	if b != nil {
		// Outside retMu: whenDone runs f at once when the batch has already committed.
		b.whenDone(func() { s.retainedCommitted(m.topic, m.seq, b.err) })
	}
	return b
}

// retainedCommitted runs once the batch of the retained change seq to topic has committed or failed.
// When it failed and no later change to the topic is pending, the topic's retained message becomes
// again what the store holds: batches commit in order, so the store has the last change that made it.
func (s *Server) retainedCommitted(topic string, seq uint64, err error) {
	s.retMu.Lock()
	defer s.retMu.Unlock()
	if s.retPending[topic] != seq {
		return // a later change owns the topic now
	}
	delete(s.retPending, topic)
	if err == nil {
		return
	}
	key := retainedKey(topic)
	var onDisk *retainedMsg
	serr := s.store.Scan(key, func(k string, val []byte) error {
		if k != key {
			return nil // a longer topic with this one as prefix
		}
		var r messageRec
		if err := json.Unmarshal(val, &r); err != nil {
			return err
		}
		m := r.message(0)
		modified := m.created
		if r.Modified != 0 {
			modified = timeMs(r.Modified)
		}
		onDisk = &retainedMsg{message: m, modified: modified}
		return nil
	})
	switch {
	case serr != nil:
		s.log.Error("broker: reading a retained message back after a failed write", "topic", topic, "err", serr)
		delete(s.retained, topic) // unknown: better none than one a restart would not show
	case onDisk == nil || len(onDisk.payload) == 0:
		delete(s.retained, topic)
	default:
		s.retained[topic] = onDisk
	}
}

// liveRetained returns the topic's retained message, nil when there is none or it expired.
func (s *Server) liveRetained(topic string, now time.Time) *retainedMsg {
	s.retMu.RLock()
	defer s.retMu.RUnlock()
	r := s.retained[topic]
	if r == nil || r.expired(now) {
		return nil
	}
	return r
}

// sweepRetained deletes the retained messages whose MQTT 5 expiry has passed.
func (s *Server) sweepRetained(now time.Time) {
	s.retMu.Lock()
	defer s.retMu.Unlock()
	for topic, r := range s.retained {
		if r.expired(now) {
			delete(s.retained, topic)
			s.cm.add(storeOp{key: retainedKey(topic)})
		}
	}
}

// RetainedMessage is a retained message as iot-data's GetRetainedMessage and ListRetainedMessages
// describe it. AWS: API_iotdata_GetRetainedMessage, API_iotdata_ListRetainedMessages
type RetainedMessage struct {
	Topic          string
	Payload        []byte // nil in RetainedTopics' results
	PayloadSize    int
	QoS            byte
	LastModified   time.Time
	UserProperties []UserProperty // in order
}

// UserProperty is an MQTT 5 user property.
type UserProperty struct{ Key, Value string }

// RetainedMessage returns the message retained for topic (a copy), false when there is none.
func (s *Server) RetainedMessage(topic string) (RetainedMessage, bool) {
	r := s.liveRetained(topic, s.now())
	if r == nil {
		return RetainedMessage{}, false
	}
	out := r.summary()
	out.Payload = slices.Clone(r.payload)
	for _, u := range r.props.User {
		out.UserProperties = append(out.UserProperties, UserProperty{Key: u.Key, Value: u.Val})
	}
	return out, true
}

// RetainedTopics lists retained messages without their payloads, in topic byte order: at most limit
// (all when limit <= 0) of those whose topic sorts after after. next is the last topic listed when
// more remain, "" otherwise; pass it as after to get the next page.
func (s *Server) RetainedTopics(after string, limit int) (page []RetainedMessage, next string) {
	now := s.now()
	s.retMu.RLock()
	topics := make([]string, 0, len(s.retained))
	for t, r := range s.retained {
		if t > after && !r.expired(now) {
			topics = append(topics, t)
		}
	}
	slices.SortFunc(topics, strings.Compare)
	if limit > 0 && len(topics) > limit {
		topics, next = topics[:limit], topics[limit-1]
	}
	page = make([]RetainedMessage, 0, len(topics))
	for _, t := range topics {
		page = append(page, s.retained[t].summary())
	}
	s.retMu.RUnlock()
	return page, next
}

func (r *retainedMsg) summary() RetainedMessage {
	return RetainedMessage{Topic: r.topic, PayloadSize: len(r.payload), QoS: r.qos, LastModified: r.modified}
}
