package broker

import (
	"log/slog"
	"sync"
	"time"
)

// idLocks serialises, per client ID, the places where mochi-mqtt v2.7.9 reads and writes its client map
// without a common lock, and the broker's own session changes:
//   - a new connection, from OnSessionEstablish (just before mochi looks up and takes over an existing
//     session with the same ID) to OnSessionEstablished (after it has added itself to the map and sent
//     CONNACK);
//   - an ending connection, from OnDisconnect (just before mochi checks IsTakenOver and, for a session
//     that ends with it, deletes the ID from the map) until its connection goroutine has returned;
//   - expiring a session, and DeleteConnection of a session that has no connection.
//
// Without it a client that reconnects at once with the same ID can be taken over, added, and then
// deleted from the map by the ending connection: it stays connected and never receives a message
// again (the same guard as broker/lab's, see TestReconnectSameIDKeepsNewClient).
type idLocks struct {
	log *slog.Logger

	mu    sync.Mutex               // guards held and owner
	held  map[string]chan struct{} // client ID → closed when released
	owner map[any]string           // holder → the client ID it holds
}

// idLockWait bounds a wait for another holder of the same ID; the critical sections are short, so
// reaching it means something is stuck, and going on is better than hanging.
const idLockWait = 5 * time.Second

func newIDLocks(log *slog.Logger) *idLocks {
	return &idLocks{log: log, held: map[string]chan struct{}{}, owner: map[any]string{}}
}

// lock takes id for owner, waiting while another owner holds it. An owner holds at most one ID; taking
// the one it holds again is a no-op.
func (l *idLocks) lock(owner any, id string) {
	deadline := time.NewTimer(idLockWait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if cur, ok := l.owner[owner]; ok {
			if cur == id {
				l.mu.Unlock()
				return
			}
			l.releaseLocked(owner)
		}
		ch, busy := l.held[id]
		if !busy {
			l.held[id] = make(chan struct{})
			l.owner[owner] = id
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			l.log.Warn("broker: gave up waiting for another connection of the same client ID", "client", id)
			return
		}
	}
}

// unlock releases what owner holds, if anything.
func (l *idLocks) unlock(owner any) {
	l.mu.Lock()
	l.releaseLocked(owner)
	l.mu.Unlock()
}

func (l *idLocks) releaseLocked(owner any) {
	id, ok := l.owner[owner]
	if !ok {
		return
	}
	delete(l.owner, owner)
	close(l.held[id])
	delete(l.held, id)
}
