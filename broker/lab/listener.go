package lab

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/iotlab/iotlab/broker/internal/packetguard"
)

// listener is the mochi listener of the lab server. It exists for three reasons mochi v2.7.9 cannot handle:
//   - mochi sets no read deadline before CONNECT, so a peer that connects and stays silent holds a goroutine
//     and a file descriptor for ever. Each accepted connection gets a deadline, which mochi replaces with its
//     keep-alive deadline once CONNECT has been read.
//   - mochi's Close can hang when clients connect or disconnect while it runs (upstream issues #424 and #488:
//     ClientsWg.Add races Wait, and a connection accepted after Close has listed the clients is never closed).
//     This listener knows every connection it accepted and every goroutine it started, so Server.Close can stop
//     accepting, close them all, and wait until they are gone before it calls mochi's Close.
//   - a truncated MQTT 5 SUBSCRIBE crashes mochi's decoder, and with it the process: see guardedConn.
type listener struct {
	id             string
	ln             net.Listener
	connectTimeout time.Duration
	log            *slog.Logger
	ready          func()         // runs once before the first Accept
	ended          func(net.Conn) // runs after mochi has finished with a connection

	mu      sync.Mutex            // guards conns and closing
	conns   map[net.Conn]struct{} // open connections
	closing bool
	wg      sync.WaitGroup // the accept loop and one goroutine per connection; Add only under mu while !closing
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id string, ln net.Listener, connectTimeout time.Duration, log *slog.Logger) *listener {
	return &listener{id: id, ln: ln, connectTimeout: connectTimeout, log: log, conns: map[net.Conn]struct{}{}}
}

func (l *listener) ID() string              { return l.id }
func (l *listener) Address() string         { return l.ln.Addr().String() }
func (l *listener) Protocol() string        { return "tcp" }
func (l *listener) Init(*slog.Logger) error { return nil }
func (l *listener) Close(listeners.CloseFn) {} // Server.Close has already done the work; see stop

// Serve accepts connections until stop is called. mochi runs it in its own goroutine.
func (l *listener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()

	if l.ready != nil {
		l.ready()
	}
	var backoff time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			// e.g. too many open files: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("lab: accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		conn = &guardedConn{Conn: conn}
		_ = conn.SetDeadline(time.Now().Add(l.connectTimeout))

		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			_ = conn.Close()
			return
		}
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()

		go func() {
			defer l.wg.Done()
			err := establish(l.id, conn)
			l.log.Debug("lab: connection ended", "remote", conn.RemoteAddr().String(), "error", err)
			_ = conn.Close()
			if l.ended != nil {
				l.ended(conn)
			}
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
		}()
	}
}

func (l *listener) isClosing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// stop stops accepting. Connections already accepted stay open.
func (l *listener) stop() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	_ = l.ln.Close()
}

// setWriteDeadline bounds the writes to every open connection, so that a peer that does not read cannot stall
// the graceful part of shutdown.
func (l *listener) setWriteDeadline(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.SetWriteDeadline(t)
	}
}

// closeConns closes every open connection; the goroutines serving them then end.
func (l *listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}

// wait waits up to d for the accept loop and every connection goroutine to end, and reports whether they did.
// Call it after stop.
func (l *listener) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// guardedConn keeps from mochi the truncated MQTT 5 SUBSCRIBE its decoder panics on, which would end
// the whole process (see broker/internal/packetguard; upstream mochi-mqtt/server#501): the packet's
// last byte is withheld and the read fails, so mochi ends the connection as on any truncated packet.
// The lab answers other faults as mochi does.
type guardedConn struct {
	net.Conn
	g packetguard.Guard // read goroutine only
}

func (c *guardedConn) Read(b []byte) (int, error) {
	if c.g.Tripped() {
		return 0, packetguard.ErrMalformedSubscribe
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.g.Lost() {
		if keep, f := c.g.Feed(b[:n], 0); f == packetguard.BadSubscribe {
			return keep, packetguard.ErrMalformedSubscribe
		}
	}
	return n, err
}
