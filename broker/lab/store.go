package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// store keeps sessions that outlive their connection (MQTT 3 clean session 0, MQTT 5 session expiry > 0),
// their subscriptions and queued QoS 1/2 messages, and retained messages, in a bbolt file. Values use mochi's
// storage types, which its startup loader expects.
//
// Writes are queued by the hooks and committed by one writer goroutine, a batch per transaction: the hooks run
// on the connection goroutines, where an fsync per message (milliseconds on a laptop) would throttle every
// publisher. A crash loses at most the batch being written; Mosquitto, by comparison, saves every 30 minutes.
//
// It is written for the lab rather than taken from mochi's bolt hook, which stores no packet id with queued
// messages (so a restart loses all but one of them), writes $SYS statistics every second, races Stop against
// late callbacks, and writes every client, even those whose session ends with the connection.
type store struct {
	mqtt.HookBase
	log  *slog.Logger
	db   *bbolt.DB
	wake chan struct{} // tells the writer there is work; capacity 1
	done chan struct{} // closed when the writer has flushed everything and exited

	mu         sync.Mutex                 // guards persistent, pending, closed
	persistent map[string]bool            // client ids whose session outlives the connection
	pending    []func(tx *bbolt.Tx) error // writes not yet committed, in order
	closed     bool
}

var (
	bucketClients       = []byte("clients")
	bucketSubscriptions = []byte("subscriptions")
	bucketInflight      = []byte("inflight")
	bucketRetained      = []byte("retained")
)

func openStore(path string, log *slog.Logger) (*store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("lab: open %s: file is locked (is another iotlab using it?)", path)
		}
		return nil, fmt.Errorf("lab: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketClients, bucketSubscriptions, bucketInflight, bucketRetained} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("lab: open %s: %w", path, err)
	}
	s := &store{log: log, db: db, wake: make(chan struct{}, 1), done: make(chan struct{}), persistent: map[string]bool{}}
	go s.writer()
	return s, nil
}

// writer commits queued writes until close, then flushes what is left.
func (s *store) writer() {
	defer close(s.done)
	for range s.wake {
		s.mu.Lock()
		batch, closed := s.pending, s.closed
		s.pending = nil
		s.mu.Unlock()
		if len(batch) > 0 {
			err := s.db.Update(func(tx *bbolt.Tx) error {
				for _, fn := range batch {
					if err := fn(tx); err != nil {
						s.log.Error("lab: state db write failed", "error", err)
					}
				}
				return nil
			})
			if err != nil {
				s.log.Error("lab: state db commit failed", "error", err, "writes", len(batch))
			}
		}
		if closed {
			return
		}
	}
}

// close flushes the queued writes and closes the file; later callbacks are ignored.
func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("lab: close state db: %w", err)
	}
	return nil
}

func (s *store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *store) ID() string { return "lab-store" }

func (s *store) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnRetainMessage, mqtt.OnRetainedExpired, mqtt.OnWillSent, mqtt.OnQosPublish, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnClientExpired, mqtt.StoredClients, mqtt.StoredSubscriptions,
		mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages:
		return true
	}
	return false
}

// Stop does nothing: Server.Close closes the file itself, also when mochi's Close does not get that far.
func (s *store) Stop() error { return nil }

// update queues fn when id's session is persistent (or id is "") and the store is open.
func (s *store) update(id string, fn func(tx *bbolt.Tx) error) {
	s.mu.Lock()
	if s.closed || (id != "" && !s.persistent[id]) {
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, fn)
	s.mu.Unlock()
	s.signal()
}

func (s *store) setPersistent(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.persistent[id] = true
	} else {
		delete(s.persistent, id)
	}
}

// sessionOutlivesConnection reads properties that only the client's own goroutine writes; call it there.
func sessionOutlivesConnection(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0 // [MQTT-3.1.2-23]
	}
	return !cl.Properties.Clean // MQTT 3.1.1 §3.1.2.4
}

// clientKey prefixes every key of a client: its id with a length, so that no id is a prefix of another's key.
func clientKey(id string, rest ...byte) []byte {
	k := binary.BigEndian.AppendUint16(nil, uint16(len(id)))
	k = append(k, id...)
	return append(k, rest...)
}

func putJSON(tx *bbolt.Tx, bucket, key []byte, v storage.Serializable) error {
	data, err := v.MarshalBinary()
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, data)
}

func deletePrefix(tx *bbolt.Tx, bucket, prefix []byte) error {
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func clientRecord(cl *mqtt.Client) *storage.Client {
	props := cl.Properties.Props.Copy(false)
	return &storage.Client{
		ID:              cl.ID,
		T:               storage.ClientKey,
		Remote:          cl.Net.Remote,
		Listener:        cl.Net.Listener,
		Username:        cl.Properties.Username,
		Clean:           cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval:     props.SessionExpiryInterval,
			SessionExpiryIntervalFlag: props.SessionExpiryIntervalFlag,
			AuthenticationMethod:      props.AuthenticationMethod,
			AuthenticationData:        props.AuthenticationData,
			RequestProblemInfo:        props.RequestProblemInfo,
			RequestProblemInfoFlag:    props.RequestProblemInfoFlag,
			RequestResponseInfo:       props.RequestResponseInfo,
			ReceiveMaximum:            props.ReceiveMaximum,
			TopicAliasMaximum:         props.TopicAliasMaximum,
			User:                      props.User,
			MaximumPacketSize:         props.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}
}

func messageRecord(clientID string, pk packets.Packet) *storage.Message {
	props := pk.Properties.Copy(false)
	return &storage.Message{
		T:           storage.InflightKey,
		Client:      clientID,
		Origin:      pk.Origin,
		FixedHeader: pk.FixedHeader,
		TopicName:   pk.TopicName,
		Payload:     pk.Payload,
		Created:     pk.Created,
		PacketID:    pk.PacketID,
		Properties: storage.MessageProperties{
			PayloadFormat:          props.PayloadFormat,
			PayloadFormatFlag:      props.PayloadFormatFlag,
			MessageExpiryInterval:  props.MessageExpiryInterval,
			ContentType:            props.ContentType,
			ResponseTopic:          props.ResponseTopic,
			CorrelationData:        props.CorrelationData,
			SubscriptionIdentifier: props.SubscriptionIdentifier,
			User:                   props.User,
		},
	}
}

// OnSessionEstablished records a persistent session, or forgets a previous one under the same id.
func (s *store) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if sessionOutlivesConnection(cl) {
		s.setPersistent(cl.ID, true)
		rec := clientRecord(cl)
		s.update(cl.ID, func(tx *bbolt.Tx) error { return putJSON(tx, bucketClients, clientKey(cl.ID), rec) })
		return
	}
	s.setPersistent(cl.ID, false)
	s.forget(cl.ID)
}

// forget deletes everything stored for a client.
func (s *store) forget(id string) {
	s.update("", func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketClients).Delete(clientKey(id)); err != nil {
			return err
		}
		if err := deletePrefix(tx, bucketSubscriptions, clientKey(id)); err != nil {
			return err
		}
		return deletePrefix(tx, bucketInflight, clientKey(id))
	})
}

func (s *store) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return // the id now belongs to the new connection
	}
	if cl.Net.Conn == nil { // a session mochi has just restored from this store
		s.setPersistent(cl.ID, !expire)
		return
	}
	if expire { // a clean session, or an MQTT 5 client that set its session expiry to 0 on DISCONNECT
		s.setPersistent(cl.ID, false)
		s.forget(cl.ID)
		return
	}
	rec := clientRecord(cl) // mochi has cleared the will after a normal DISCONNECT
	s.update(cl.ID, func(tx *bbolt.Tx) error { return putJSON(tx, bucketClients, clientKey(cl.ID), rec) })
}

func (s *store) OnWillSent(cl *mqtt.Client, _ packets.Packet) {
	rec := clientRecord(cl)
	s.update(cl.ID, func(tx *bbolt.Tx) error { return putJSON(tx, bucketClients, clientKey(cl.ID), rec) })
}

func (s *store) OnClientExpired(cl *mqtt.Client) {
	s.setPersistent(cl.ID, false)
	s.forget(cl.ID)
}

func (s *store) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	s.update(cl.ID, func(tx *bbolt.Tx) error {
		for i, f := range pk.Filters {
			if i >= len(reasonCodes) || reasonCodes[i] >= 0x80 {
				continue // refused
			}
			rec := &storage.Subscription{
				T:                 storage.SubscriptionKey,
				Client:            cl.ID,
				Filter:            f.Filter,
				Qos:               reasonCodes[i],
				Identifier:        f.Identifier,
				NoLocal:           f.NoLocal,
				RetainHandling:    f.RetainHandling,
				RetainAsPublished: f.RetainAsPublished,
			}
			if err := putJSON(tx, bucketSubscriptions, clientKey(cl.ID, []byte(f.Filter)...), rec); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *store) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	s.update(cl.ID, func(tx *bbolt.Tx) error {
		for _, f := range pk.Filters {
			if err := tx.Bucket(bucketSubscriptions).Delete(clientKey(cl.ID, []byte(f.Filter)...)); err != nil {
				return err
			}
		}
		return nil
	})
}

func inflightKey(id string, packetID uint16) []byte {
	return clientKey(id, byte(packetID>>8), byte(packetID))
}

func (s *store) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	rec := messageRecord(cl.ID, pk)
	s.update(cl.ID, func(tx *bbolt.Tx) error {
		return putJSON(tx, bucketInflight, inflightKey(cl.ID, pk.PacketID), rec)
	})
}

func (s *store) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	s.update(cl.ID, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketInflight).Delete(inflightKey(cl.ID, pk.PacketID))
	})
}

func (s *store) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { s.OnQosComplete(cl, pk) }

// OnRetainMessage: r is 1 when a message was retained, -1 when an empty payload removed one
// (MQTT 5 [MQTT-3.3.1-6], MQTT 3.1.1 [MQTT-3.3.1-10]).
func (s *store) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, r int64) {
	switch r {
	case 1:
		rec := messageRecord("", pk)
		rec.T = storage.RetainedKey
		s.update("", func(tx *bbolt.Tx) error { return putJSON(tx, bucketRetained, []byte(pk.TopicName), rec) })
	case -1:
		s.OnRetainedExpired(pk.TopicName)
	}
}

func (s *store) OnRetainedExpired(topic string) {
	s.update("", func(tx *bbolt.Tx) error { return tx.Bucket(bucketRetained).Delete([]byte(topic)) })
}

// view runs fn in a read transaction; mochi reads the store once, at start.
func (s *store) view(fn func(tx *bbolt.Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return storage.ErrDBFileNotOpen
	}
	return s.db.View(fn)
}

func (s *store) clientIDs(tx *bbolt.Tx) map[string]bool {
	ids := map[string]bool{}
	_ = tx.Bucket(bucketClients).ForEach(func(k, _ []byte) error {
		if len(k) >= 2 {
			ids[string(k[2:])] = true
		}
		return nil
	})
	return ids
}

func (s *store) StoredClients() (v []storage.Client, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketClients).ForEach(func(_, data []byte) error {
			var c storage.Client
			if err := c.UnmarshalBinary(data); err != nil {
				return err
			}
			v = append(v, c)
			return nil
		})
	})
	return v, err
}

// StoredSubscriptions returns the subscriptions of stored sessions (records whose session is gone are skipped).
func (s *store) StoredSubscriptions() (v []storage.Subscription, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		ids := s.clientIDs(tx)
		return tx.Bucket(bucketSubscriptions).ForEach(func(_, data []byte) error {
			var sub storage.Subscription
			if err := sub.UnmarshalBinary(data); err != nil {
				return err
			}
			if ids[sub.Client] {
				v = append(v, sub)
			}
			return nil
		})
	})
	return v, err
}

func (s *store) StoredInflightMessages() (v []storage.Message, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		ids := s.clientIDs(tx)
		return tx.Bucket(bucketInflight).ForEach(func(_, data []byte) error {
			var m storage.Message
			if err := m.UnmarshalBinary(data); err != nil {
				return err
			}
			if ids[m.Client] {
				v = append(v, m)
			}
			return nil
		})
	})
	return v, err
}

// StoredRetainedMessages returns the retained messages, less those whose MQTT 5 expiry has passed
// [MQTT-3.3.2-5].
func (s *store) StoredRetainedMessages() (v []storage.Message, err error) {
	now := time.Now().Unix()
	err = s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRetained).ForEach(func(_, data []byte) error {
			var m storage.Message
			if err := m.UnmarshalBinary(data); err != nil {
				return err
			}
			if exp := m.Properties.MessageExpiryInterval; exp > 0 && m.Created+int64(exp) < now {
				return nil
			}
			v = append(v, m)
			return nil
		})
	})
	return v, err
}
