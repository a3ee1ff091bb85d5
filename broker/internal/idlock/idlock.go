// Package idlock is a table of per-client-ID locks, the guard both of iotlab's mochi-mqtt servers
// (broker and broker/lab) need against a race in mochi-mqtt v2.7.9 that any mochi server can hit.
//
// mochi reads and writes its client map in two places without a common lock:
//   - a new connection, between OnSessionEstablish (just before mochi looks up and takes over an
//     existing session with the same ID) and OnSessionEstablished (after it has added itself to the
//     map);
//   - an ending connection, between OnDisconnect (just before mochi checks IsTakenOver and, for a
//     session that ends with it, deletes the ID from the map) and the return of its connection
//     goroutine.
//
// A client that reconnects at once with the same ID (as auto-reconnecting clients do) can then be
// taken over, added, and deleted from the map by the ending connection: it stays connected and never
// receives a message again. Holding the client ID's lock across each of the two sections orders
// them. The tests that pin it are broker's TestReconnectSameIDKeepsNewClient and broker/lab's
// TestReconnectSameIDRaceKeepsNewClient.
//
// Standard library only.
package idlock

import (
	"log/slog"
	"sync"
	"time"
)

// Wait bounds a wait for another holder of the same client ID; the critical sections take
// microseconds, so reaching it means something is stuck, and going on is better than hanging.
const Wait = 5 * time.Second

// Table holds client IDs for owners of type O (a connection, say), one ID per owner at most.
type Table[O comparable] struct {
	log    *slog.Logger
	giveUp string // logged, with the client ID, when a wait reaches Wait

	mu    sync.Mutex               // guards held and owner
	held  map[string]chan struct{} // client ID → closed when released
	owner map[O]string             // owner → the client ID it holds
}

// New returns an empty table that logs giveUp to log, with the client ID, when Lock stops waiting.
func New[O comparable](log *slog.Logger, giveUp string) *Table[O] {
	return &Table[O]{log: log, giveUp: giveUp, held: map[string]chan struct{}{}, owner: map[O]string{}}
}

// Lock takes id for owner, waiting (at most Wait) while another owner holds it. Taking the ID the
// owner holds again is a no-op; taking another one releases the first.
func (t *Table[O]) Lock(owner O, id string) {
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		if cur, ok := t.owner[owner]; ok {
			if cur == id {
				t.mu.Unlock()
				return
			}
			t.releaseLocked(owner)
		}
		ch, busy := t.held[id]
		if !busy {
			t.held[id] = make(chan struct{})
			t.owner[owner] = id
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.log.Warn(t.giveUp, "client", id)
			return
		}
	}
}

// Unlock releases what owner holds, if anything.
func (t *Table[O]) Unlock(owner O) {
	t.mu.Lock()
	t.releaseLocked(owner)
	t.mu.Unlock()
}

func (t *Table[O]) releaseLocked(owner O) {
	id, ok := t.owner[owner]
	if !ok {
		return
	}
	delete(t.owner, owner)
	close(t.held[id])
	delete(t.held, id)
}
