package lab

import (
	"log/slog"
	"net"

	"github.com/iotlab/iotlab/broker/internal/idlock"
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
// receives a message again. See TestReconnectSameIDRaceKeepsNewClient. The table is
// broker/internal/idlock's (the mTLS broker has the same guard); its holders here are connections.
type sessionLocks struct {
	table *idlock.Table[net.Conn]
}

func newSessionLocks(log *slog.Logger) *sessionLocks {
	return &sessionLocks{idlock.New[net.Conn](log, "lab: gave up waiting for another connection of the same client id")}
}

// lock takes id for conn, waiting while another connection holds it (at most idlock.Wait). A
// connection holds at most one id.
func (l *sessionLocks) lock(conn net.Conn, id string) { l.table.Lock(conn, id) }

// unlock releases what conn holds, if anything.
func (l *sessionLocks) unlock(conn net.Conn) { l.table.Unlock(conn) }
