package broker

import (
	"log/slog"

	"github.com/iotlab/iotlab/broker/internal/idlock"
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
// again (the same guard as broker/lab's, see TestReconnectSameIDKeepsNewClient). The table itself is
// broker/internal/idlock's, shared with broker/lab; holders are connections and session owners.
type idLocks struct {
	table *idlock.Table[any]
}

func newIDLocks(log *slog.Logger) *idLocks {
	return &idLocks{idlock.New[any](log, "broker: gave up waiting for another connection of the same client ID")}
}

// lock takes id for owner, waiting while another owner holds it (at most idlock.Wait). An owner holds
// at most one ID; taking the one it holds again is a no-op.
func (l *idLocks) lock(owner any, id string) { l.table.Lock(owner, id) }

// unlock releases what owner holds, if anything.
func (l *idLocks) unlock(owner any) { l.table.Unlock(owner) }
