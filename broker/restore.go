package broker

import (
	"encoding/json"
	"fmt"
	"strings"
)

// restore reads the store at Start, before any connection: persistent sessions (an offline mochi
// client with its subscriptions, and the broker's session with its queue, every message of which is
// "stored" and paced on resume), and retained messages. Sessions whose expiry passed while the broker
// was down end now; records nobody refers to any more are deleted.
func (s *Server) restore() error {
	now := s.now()
	var garbage []StoreOp
	drop := func(key string) { garbage = append(garbage, StoreOp{Key: key}) }

	recs := map[string]sessionRec{}
	err := s.store.Scan(keySession, func(key string, val []byte) error {
		var r sessionRec
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		id := strings.TrimPrefix(key, keySession)
		ended := now
		if r.Ended != 0 {
			ended = timeMs(r.Ended)
		}
		if r.Expiry == 0 || !now.Before(ended.Add(secs(r.Expiry))) {
			drop(key) // expired while the broker was down
			return nil
		}
		recs[id] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: reading the state store: %w", err)
	}

	subs := map[string]map[string]subRec{}
	err = s.store.Scan(keySub, func(key string, val []byte) error {
		id, filter, ok := splitClientKey(keySub, key)
		if _, live := recs[id]; !ok || !live {
			drop(key)
			return nil
		}
		var r subRec
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if subs[id] == nil {
			subs[id] = map[string]subRec{}
		}
		subs[id][filter] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: reading the state store: %w", err)
	}

	msgs := map[uint64]*message{}
	var maxSeq uint64
	err = s.store.Scan(keyMessage, func(key string, val []byte) error {
		seq, ok := parseSeq(strings.TrimPrefix(key, keyMessage))
		if !ok {
			drop(key)
			return nil
		}
		var r messageRec
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		m := r.message(seq)
		m.stored.Store(true)
		msgs[seq] = m
		maxSeq = max(maxSeq, seq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: reading the state store: %w", err)
	}

	for id, r := range recs {
		s.restoreSession(id, r, subs[id], now)
	}
	err = s.store.Scan(keyQueued, func(key string, val []byte) error {
		id, rest, ok := splitClientKey(keyQueued, key)
		seq, okSeq := parseSeq(rest)
		ss := s.sessions[id]
		m := msgs[seq]
		if !ok || !okSeq || ss == nil || m == nil || m.expired(now) {
			drop(key)
			return nil
		}
		var r queuedRec
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		m.refs.Add(1)
		e := &entry{m: m, qos: 1, retain: r.Retain, durable: true}
		ss.stored.push(e) // key order is sequence order
		ss.count++
		ss.bytes += e.size()
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: reading the state store: %w", err)
	}
	for seq, m := range msgs {
		if m.refs.Load() == 0 {
			drop(messageKey(seq))
		}
	}

	err = s.store.Scan(keyRetained, func(key string, val []byte) error {
		var r messageRec
		if err := json.Unmarshal(val, &r); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		m := r.message(0)
		if m.expired(now) || len(m.payload) == 0 {
			drop(key)
			return nil
		}
		modified := m.created
		if r.Modified != 0 {
			modified = timeMs(r.Modified)
		}
		s.retained[m.topic] = &retainedMsg{message: m, modified: modified}
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: reading the state store: %w", err)
	}
	s.seq.Store(maxSeq)
	if len(garbage) > 0 {
		if err := s.store.Apply(garbage...); err != nil {
			return fmt.Errorf("broker: cleaning the state store: %w", err)
		}
	}
	s.log.Debug("broker: state restored", "sessions", len(recs), "messages", len(msgs), "retained", len(s.retained))
	return nil
}
