package lab

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// sessionLocks serialises, per client id, the two places where mochi v2.7.9 reads and writes its client map
// without a common lock:
//   - a new connection, from OnSessionEstablish (just before mochi looks up and takes over an existing
//     session with the same id) to OnSessionEstablished (after it has added itself to the map);
//   - an ending connection, from OnDisconnect (just before mochi checks IsTakenOver and, for a clean session,
//     deletes the id from the map) until its connection goroutine has returned.
//
// Without it, a client that reconnects at once with the same id (as auto-reconnecting clients do) can be
// taken over, added, and then deleted from the map by the ending connection: it stays connected and never
// receives a message again. See TestReconnectSameIDRaceKeepsNewClient.
type sessionLocks struct {
	log *slog.Logger

	mu    sync.Mutex               // guards held and owner
	held  map[string]chan struct{} // client id -> closed when released
	owner map[net.Conn]string      // connection -> the client id it holds
}

// sessionLockWait bounds a wait for another connection of the same id; the critical sections take
// microseconds, so reaching it means something is stuck, and going on is better than hanging.
const sessionLockWait = 5 * time.Second

func newSessionLocks(log *slog.Logger) *sessionLocks {
	return &sessionLocks{log: log, held: map[string]chan struct{}{}, owner: map[net.Conn]string{}}
}

// lock takes id for conn, waiting while another connection holds it. A connection holds at most one id.
func (l *sessionLocks) lock(conn net.Conn, id string) {
	deadline := time.NewTimer(sessionLockWait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if cur, ok := l.owner[conn]; ok {
			if cur == id {
				l.mu.Unlock()
				return
			}
			l.releaseLocked(conn) // its client id cannot change; be safe anyway
		}
		ch, busy := l.held[id]
		if !busy {
			l.held[id] = make(chan struct{})
			l.owner[conn] = id
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			l.log.Warn("lab: gave up waiting for another connection of the same client id", "client", id)
			return
		}
	}
}

// unlock releases what conn holds, if anything.
func (l *sessionLocks) unlock(conn net.Conn) {
	l.mu.Lock()
	l.releaseLocked(conn)
	l.mu.Unlock()
}

func (l *sessionLocks) releaseLocked(conn net.Conn) {
	id, ok := l.owner[conn]
	if !ok {
		return
	}
	delete(l.owner, conn)
	close(l.held[id])
	delete(l.held, id)
}
