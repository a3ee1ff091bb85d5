// Package store is iotlab's durable state: a small key-value interface and its implementation on bbolt,
// an embedded, crash-safe B+tree database (one file, fsync on every commit). Keeping the interface this
// small lets tests inject faults (disk full, I/O errors) by wrapping it; see Faulty.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Op is one write: Value nil deletes Key.
type Op struct {
	Key   string
	Value []byte
}

// Store is what the state layers need. Apply is atomic and durable when it returns nil: either every
// op is on disk or none is.
type Store interface {
	// Scan calls fn for every key with the prefix, in key order. fn must not keep val.
	Scan(prefix string, fn func(key string, val []byte) error) error
	Apply(ops ...Op) error
	Close() error
}

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	formatKey  = []byte("format")
	// formatID marks a file as iotlab state, so a foreign or future file is refused, never reset.
	formatID = []byte("iotlab-state/1")
)

// ErrForeign says the file exists but is not iotlab state of a version this build reads.
var ErrForeign = errors.New("store: not an iotlab state file")

// Bolt is a Store on a bbolt file.
type Bolt struct {
	db *bolt.DB
}

// Open opens or creates the state file. It fails fast (rather than waiting) if another process holds it.
func Open(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store: %s is in use by another process", path)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketKV) != nil || countBuckets(tx) > 0 {
				return ErrForeign
			}
			m, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			if err := m.Put(formatKey, formatID); err != nil {
				return err
			}
			_, err = tx.CreateBucket(bucketKV)
			return err
		}
		if !bytes.Equal(meta.Get(formatKey), formatID) {
			return ErrForeign
		}
		if tx.Bucket(bucketKV) == nil {
			return ErrForeign
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

func countBuckets(tx *bolt.Tx) int {
	n := 0
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
	return n
}

func (b *Bolt) Scan(prefix string, fn func(key string, val []byte) error) error {
	return b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketKV).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Bolt) Apply(ops ...Op) error {
	if len(ops) == 0 {
		return nil
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketKV)
		for _, op := range ops {
			var err error
			if op.Value == nil {
				err = bk.Delete([]byte(op.Key))
			} else {
				err = bk.Put([]byte(op.Key), op.Value)
			}
			if err != nil {
				return fmt.Errorf("store: %s: %w", op.Key, err)
			}
		}
		return nil
	})
}

func (b *Bolt) Close() error { return b.db.Close() }

// Exists reports whether a state file is at path (used to tell a fresh state dir from one in use).
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
