package broker

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// committer writes the broker's durable state with group commit: writers add ops to the open batch and
// go on; one goroutine commits the open batch (one transaction, one fsync) whenever there is one, so
// under load a commit carries the writes of everything that arrived while the previous one was
// being written. A QoS 1 PUBLISH is acknowledged once the batch holding its queue records has
// committed, or once every persistent session it was queued for has acknowledged it (see
// ackPublish), never before. SUBSCRIBE and UNSUBSCRIBE of persistent sessions wait for their batch
// too; the deletes that follow acknowledgements wait for nobody (addLazy).
//
// A batch is a map of keys, last write wins. Queue records and messages get keys never used before
// ("fresh"), so when a subscriber acknowledges a message before its batch is written the put and the
// delete cancel out and the message never touches the disk.
type committer struct {
	st  Store
	log *slog.Logger

	mu     sync.Mutex // guards open and closed
	open   *batch
	closed bool

	wake chan struct{} // capacity 1: commit now
	lazy chan struct{} // capacity 1: commit within lazyDelay
	done chan struct{} // closed when the loop has exited
}

// lazyDelay bounds how long writes nobody waits for (the deletes that follow acknowledgements) stay
// in memory. A crash within it makes the next broker send those messages again: duplicates, which
// QoS 1 allows, never losses.
const lazyDelay = 20 * time.Millisecond

// batch is a set of writes committed together.
type batch struct {
	ops   map[string][]byte // key → value; nil deletes
	fresh map[string]bool   // keys first written in this batch and never before
	done  chan struct{}     // closed once committed (or failed)
	err   error             // set before done is closed

	wmu     sync.Mutex // guards waiters and fired
	waiters []func()
	fired   bool
}

func newBatch() *batch {
	return &batch{ops: map[string][]byte{}, fresh: map[string]bool{}, done: make(chan struct{})}
}

// committed reports whether the batch is on disk (or failed to get there: see err).
func (b *batch) committed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// whenDone runs f once the batch has committed: at once (on this goroutine) when it already has.
func (b *batch) whenDone(f func()) {
	b.wmu.Lock()
	if b.fired {
		b.wmu.Unlock()
		f()
		return
	}
	b.waiters = append(b.waiters, f)
	b.wmu.Unlock()
}

func (b *batch) finish(err error) {
	b.err = err
	close(b.done)
	b.wmu.Lock()
	ws := b.waiters
	b.waiters, b.fired = nil, true
	b.wmu.Unlock()
	for _, f := range ws {
		f()
	}
}

// errStoreClosed fails writes that arrive after Close.
var errStoreClosed = errors.New("broker: the state store is closed")

// closedBatch is what writers get once the committer has stopped.
var closedBatch = func() *batch {
	b := newBatch()
	b.finish(errStoreClosed)
	return b
}()

func newCommitter(st Store, log *slog.Logger) *committer {
	cm := &committer{st: st, log: log, open: newBatch(), wake: make(chan struct{}, 1), lazy: make(chan struct{}, 1), done: make(chan struct{})}
	go cm.loop()
	return cm
}

// storeOp is a write for the committer; fresh marks a key that has never been written before.
type storeOp struct {
	key   string
	value []byte
	fresh bool
}

// add queues writes and returns the batch that will carry them, committed as soon as possible. A nil
// committer (no store) returns nil.
func (cm *committer) add(ops ...storeOp) *batch {
	if cm == nil {
		return nil
	}
	return cm.queue(cm.wake, ops)
}

// addLazy queues writes nobody waits for; they are committed with the next batch, or within lazyDelay.
func (cm *committer) addLazy(ops ...storeOp) {
	if cm != nil {
		cm.queue(cm.lazy, ops)
	}
}

func (cm *committer) queue(signal chan struct{}, ops []storeOp) *batch {
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return closedBatch
	}
	b := cm.open
	for _, op := range ops {
		switch {
		case op.value == nil && b.fresh[op.key]:
			// Written and deleted before reaching the disk: neither happens.
			delete(b.ops, op.key)
			delete(b.fresh, op.key)
		default:
			b.ops[op.key] = op.value
			if op.fresh {
				b.fresh[op.key] = true
			}
		}
	}
	cm.mu.Unlock()
	select {
	case signal <- struct{}{}:
	default:
	}
	return b
}

func (cm *committer) loop() {
	defer close(cm.done)
	var later <-chan time.Time
	for {
		select {
		case <-cm.wake:
		case <-cm.lazy:
			if later == nil {
				later = time.After(lazyDelay)
			}
			continue
		case <-later:
		}
		later = nil
		cm.mu.Lock()
		b, closed := cm.open, cm.closed
		if !closed {
			cm.open = newBatch()
		}
		cm.mu.Unlock()
		cm.commit(b)
		if closed {
			return
		}
	}
}

func (cm *committer) commit(b *batch) {
	var err error
	if len(b.ops) > 0 {
		ops := make([]StoreOp, 0, len(b.ops))
		for k, v := range b.ops {
			ops = append(ops, StoreOp{Key: k, Value: v})
		}
		if err = cm.st.Apply(ops...); err != nil {
			cm.log.Error("broker: writing the state store failed", "writes", len(ops), "err", err)
		}
	}
	b.finish(err)
}

// close commits what is queued and stops the loop, waiting at most d.
func (cm *committer) close(d time.Duration) error {
	if cm == nil {
		return nil
	}
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return nil
	}
	cm.closed = true
	last := cm.open
	cm.mu.Unlock()
	select {
	case cm.wake <- struct{}{}:
	default:
	}
	select {
	case <-cm.done:
		return last.err
	case <-time.After(d):
		return errors.New("broker: the state store did not finish writing within the close timeout")
	}
}
