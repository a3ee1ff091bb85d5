package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// Store is the broker's durable state: a key-value interface the same shape as emulator/store's, so
// that tests can wrap it to inject faults. Apply is atomic and durable when it returns nil: either
// every op is on disk or none is.
type Store interface {
	// Scan calls fn for every key with the prefix, in key order. fn must not keep val.
	Scan(prefix string, fn func(key string, val []byte) error) error
	Apply(ops ...StoreOp) error
	Close() error
}

// StoreOp is one write: a nil Value deletes Key.
type StoreOp struct {
	Key   string
	Value []byte
}

// Keys. A client ID is written with its length first, so that no client's keys are a prefix of
// another's; a sequence number is 16 hex digits, so that a client's queue scans in order.
//
//	s/<id>                  session: protocol version, expiry, when its connection ended
//	u/<len><id><filter>     subscription of a persistent session
//	m/<seq>                 a QoS 1 message queued for at least one persistent session
//	q/<len><id><seq>        the message is queued for that session (value: delivery flags)
//	r/<topic>               the retained message of a topic
const (
	keySession  = "s/"
	keySub      = "u/"
	keyMessage  = "m/"
	keyQueued   = "q/"
	keyRetained = "r/"
)

func sessionKey(id string) string { return keySession + id }

func clientPrefix(prefix, id string) string {
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(id)))
	return prefix + hex.EncodeToString(n[:]) + id
}

func subKey(id, filter string) string { return clientPrefix(keySub, id) + filter }

func seqHex(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return hex.EncodeToString(b[:])
}

func messageKey(seq uint64) string           { return keyMessage + seqHex(seq) }
func queuedKey(id string, seq uint64) string { return clientPrefix(keyQueued, id) + seqHex(seq) }
func retainedKey(topic string) string        { return keyRetained + topic }

// splitClientKey parses "<prefix><len><id><rest>".
func splitClientKey(prefix, key string) (id, rest string, ok bool) {
	k, found := strings.CutPrefix(key, prefix)
	if !found || len(k) < 4 {
		return "", "", false
	}
	b, err := hex.DecodeString(k[:4])
	if err != nil {
		return "", "", false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(k) < 4+n {
		return "", "", false
	}
	return k[4 : 4+n], k[4+n:], true
}

func parseSeq(s string) (uint64, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// sessionRec is a persistent session.
type sessionRec struct {
	Version byte   `json:"v"`            // 4 (MQTT 3.1.1) or 5
	Expiry  uint32 `json:"exp"`          // seconds it outlives its connection
	Ended   int64  `json:"end,omitzero"` // unix ms when its last connection ended; 0 = it was connected
}

// subRec is a subscription of a persistent session (its filter is in the key).
type subRec struct {
	QoS               byte `json:"q"`
	NoLocal           bool `json:"nl,omitzero"`
	RetainAsPublished bool `json:"rap,omitzero"`
	RetainHandling    byte `json:"rh,omitzero"`
}

// queuedRec is one entry of a session's queue (the message is in m/<seq>).
type queuedRec struct {
	Retain bool `json:"r,omitzero"` // delivered with RETAIN=1 (a retained message sent on subscribe)
}

// messageRec is a message, queued or retained.
type messageRec struct {
	Topic    string      `json:"t"`
	Payload  []byte      `json:"p,omitempty"`
	QoS      byte        `json:"q,omitzero"`
	Created  int64       `json:"c"`            // unix ms
	Expires  int64       `json:"e,omitzero"`   // unix ms; 0 = never
	Origin   string      `json:"o,omitempty"`  // publisher's client ID
	Modified int64       `json:"mod,omitzero"` // retained: lastModifiedTime, unix ms
	Props    *propsRec   `json:"pr,omitempty"`
	User     [][2]string `json:"u,omitempty"`
}

// propsRec holds the MQTT 5 properties a message carries to subscribers.
type propsRec struct {
	PayloadFormat   *byte  `json:"pf,omitempty"`
	ContentType     string `json:"ct,omitempty"`
	ResponseTopic   string `json:"rt,omitempty"`
	CorrelationData []byte `json:"cd,omitempty"`
}

func (m *message) record() messageRec {
	r := messageRec{Topic: m.topic, Payload: m.payload, QoS: m.qos, Created: m.created.UnixMilli(), Origin: m.origin}
	if !m.expires.IsZero() {
		r.Expires = m.expires.UnixMilli()
	}
	p := m.props
	if p.PayloadFormatFlag || p.ContentType != "" || p.ResponseTopic != "" || len(p.CorrelationData) > 0 {
		pr := &propsRec{ContentType: p.ContentType, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData}
		if p.PayloadFormatFlag {
			f := p.PayloadFormat
			pr.PayloadFormat = &f
		}
		r.Props = pr
	}
	for _, u := range p.User {
		r.User = append(r.User, [2]string{u.Key, u.Val})
	}
	return r
}

func (r *messageRec) message(seq uint64) *message {
	m := &message{seq: seq, topic: r.Topic, payload: r.Payload, qos: r.QoS, created: time.UnixMilli(r.Created), origin: r.Origin}
	if r.Expires != 0 {
		m.expires = time.UnixMilli(r.Expires)
	}
	if r.Props != nil {
		m.props.ContentType = r.Props.ContentType
		m.props.ResponseTopic = r.Props.ResponseTopic
		m.props.CorrelationData = r.Props.CorrelationData
		if r.Props.PayloadFormat != nil {
			m.props.PayloadFormat, m.props.PayloadFormatFlag = *r.Props.PayloadFormat, true
		}
	}
	for _, u := range r.User {
		m.props.User = append(m.props.User, packets.UserProperty{Key: u[0], Val: u[1]})
	}
	return m
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("broker: encoding %T: %v", v, err)) // only our own plain structs are encoded
	}
	return b
}

// boltStore is the Store on a bbolt file: a B+tree with copy-on-write pages and an fsync per commit,
// so a commit that returned survives kill -9; its file lock also refuses a second process.
type boltStore struct {
	db *bbolt.DB
}

var (
	boltBucket = []byte("broker")
	boltMeta   = []byte("meta")
	boltFormat = []byte("iotlab-broker/1")
)

// errForeignStore says the file is not the broker's state.
var errForeignStore = errors.New("broker: not an iotlab broker state file")

// OpenStore opens (or creates) the broker's state file.
func OpenStore(path string) (Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 200 * time.Millisecond, NoFreelistSync: true})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("broker: %s is in use by another process", path)
		}
		return nil, fmt.Errorf("broker: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(boltMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
			if !empty {
				return errForeignStore
			}
			if meta, err = tx.CreateBucket(boltMeta); err != nil {
				return err
			}
			if err := meta.Put([]byte("format"), boltFormat); err != nil {
				return err
			}
			_, err = tx.CreateBucket(boltBucket)
			return err
		}
		if !bytes.Equal(meta.Get([]byte("format")), boltFormat) || tx.Bucket(boltBucket) == nil {
			return errForeignStore
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("broker: open %s: %w", path, err)
	}
	return &boltStore{db: db}, nil
}

func (b *boltStore) Scan(prefix string, fn func(key string, val []byte) error) error {
	return b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltStore) Apply(ops ...StoreOp) error {
	if len(ops) == 0 {
		return nil
	}
	return b.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(boltBucket)
		for _, op := range ops {
			var err error
			if op.Value == nil {
				err = bk.Delete([]byte(op.Key))
			} else {
				err = bk.Put([]byte(op.Key), op.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltStore) Close() error { return b.db.Close() }

func timeMs(ms int64) time.Time   { return time.UnixMilli(ms) }
func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }
