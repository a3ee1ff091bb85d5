package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/broker/internal/packetguard"
	"github.com/iotlab/iotlab/emulator/policy"
)

// Lifecycle disconnect reasons. AWS: life-cycle-events#connect-disconnect
const (
	reasonAuthError          = "AUTH_ERROR"
	reasonClientInitiated    = "CLIENT_INITIATED_DISCONNECT"
	reasonClientError        = "CLIENT_ERROR"
	reasonConnectionLost     = "CONNECTION_LOST"
	reasonDuplicateClientID  = "DUPLICATE_CLIENTID"
	reasonKeepAliveTimeout   = "MQTT_KEEP_ALIVE_TIMEOUT"
	reasonServerInitiated    = "SERVER_INITIATED_DISCONNECT"
	reasonAPIInitiated       = "API_INITIATED_DISCONNECT"
	reasonThrottled          = "THROTTLED"
	reasonAuthorization      = "AUTHORIZATION_FAILURE" // log reason of a refused operation
	reasonAuthentication     = "AUTHENTICATION_FAILURE"
	reasonInvalidClientID    = "INVALID_CLIENT_ID"
	reasonInvalidTopic       = "INVALID_TOPIC"
	reasonPayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	reasonQoSNotSupported    = "QOS_NOT_SUPPORTED"
	reasonQuotaExceeded      = "QUOTA_EXCEEDED"
	reasonDuplicateClientLog = "DUPLICATE_CLIENT_ID" // the log spells it with an underscore
	reasonServerError        = "SERVER_ERROR"
	reasonQueueFull          = "QUEUE_FULL"    // a session's queue is at its bound (Limits.SessionQueueMessages)
	reasonRetryExpired       = "RETRY_EXPIRED" // unacknowledged for Limits.RetryWindow
)

// conn is one device connection: the TLS connection mochi-mqtt reads and writes, plus everything the
// broker knows about it. mochi's Client.Net.Conn is the *conn, so hooks reach this state in O(1).
type conn struct {
	net.Conn // the *tls.Conn
	tls      *tls.Conn
	raw      net.Conn

	remoteIP   string
	remotePort int

	// Set in OnConnect, on the client's read goroutine, before mochi publishes the client; read-only
	// afterwards.
	cl           *mqtt.Client
	clientID     string
	certID       string
	caID         string            // the registered CA of the certificate, "" without one
	leaf         *x509.Certificate // the client certificate (held by the TLS state anyway)
	certInfo     *policy.CertInfo  // built by certFor, only for policies that read it
	sni          string
	version      byte // 4 (3.1.1) or 5
	connectAttrs []string
	will         *will
	lifecycle    bool // lifecycle events are published (no '+' or '#' in the client ID)
	sessionID    string
	versionNum   int64
	authorized   bool // OnConnect accepted the CONNECT
	persistent   bool // the session outlives the connection (PersistentConnect)
	cleanStart   bool // the CONNECT's Clean Session / Clean Start flag, as the client sent it
	crossVersion bool // a session of the other MQTT version exists: mochi is told Clean Start
	seiAdjusted  bool // the MQTT 5 Session Expiry Interval was lowered: CONNACK says so

	// disconnectSEI is the non-zero Session Expiry Interval an MQTT 5 DISCONNECT set, 0 when none; read
	// goroutine only (OnPacketRead, then OnDisconnect).
	disconnectSEI uint32

	ready       atomic.Bool // cl and version are set: other goroutines may use them (kill)
	established atomic.Bool // CONNACK 0 was sent

	stopped     atomic.Bool            // closing or closed (set before the socket closes)
	reason      atomic.Pointer[string] // why the broker ended the connection; first one wins
	preventWill atomic.Bool            // DeleteConnection preventWillMessage
	cleanOnEnd  atomic.Bool            // DeleteConnection cleanSession
	willDone    atomic.Bool

	// Read goroutine only.
	clientDisconnect bool // a DISCONNECT packet arrived
	willOnDisconnect bool // … with reason 0x04 (Disconnect with Will Message)
	suback           subackFix
	subDenials       []*subDenial
	subHad           []bool             // per filter of the SUBSCRIBE: the subscription existed
	pendingRetained  []retainedDelivery // due once the SUBACK is out

	sess atomic.Pointer[session] // set once established
	wake chan struct{}           // tells the outbox there is something to send; capacity 1
	done chan struct{}           // closed when the connection ends
	end  sync.Once
	// The outbox runs only while the connection has something to send (see startOutbox).
	srv        *Server     // set before sess
	outMu      sync.Mutex  // orders outbox starts with finish: none starts once done is closed
	outRunning atomic.Bool // an outbox goroutine runs, or none may start any more

	ackMu       sync.Mutex // guards acks and acksWriting
	acks        []pendingAck
	acksWriting int
	ackFreed    chan struct{} // capacity 1: the outbox wrote PUBACKs

	// Under the mochi client's lock (mochi writes a packet holding it): see Write.
	batching bool
	wbuf     []byte

	authz    authzState
	subCheck atomic.Pointer[subCheck] // decisions of the SUBSCRIBE being processed

	pubRate rateBucket // inbound PUBLISH (and deliveries with Quirks.ThrottleDeliveries)

	// Read goroutine only: the inbound packet boundaries and the Maximum Packet Size they are checked
	// against, set in OnConnect.
	maxPacket int
	guard     packetguard.Guard // what mochi would answer wrongly or not survive

	logState   atomic.Uint64                  // Server.logGen<<8 | the file log threshold for this connection
	logSubject atomic.Pointer[awslog.Subject] // set once established
}

// will is the CONNECT's Last Will, kept by the broker (mochi's copy is cleared so mochi never sends it).
type will struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   packets.Properties
}

func newConn(tc *tls.Conn, raw net.Conn) *conn {
	c := &conn{Conn: tc, tls: tc, raw: raw, wake: make(chan struct{}, 1), done: make(chan struct{}),
		ackFreed: make(chan struct{}, 1)}
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		c.remoteIP, c.remotePort = a.IP.String(), a.Port
	} else if h, p, err := net.SplitHostPort(raw.RemoteAddr().String()); err == nil {
		c.remoteIP = h
		c.remotePort, _ = strconv.Atoi(p)
	}
	return c
}

// connOf returns the broker state of a mochi client; nil for the inline client.
func connOf(cl *mqtt.Client) *conn {
	c, _ := cl.Net.Conn.(*conn)
	return c
}

// Read notices keep-alive timeouts: mochi's read deadline is 1.5 × keep-alive, refreshed by every
// packet. AWS then sends MQTT 5 clients DISCONNECT 0x8D and reports MQTT_KEEP_ALIVE_TIMEOUT.
// AWS: mqtt.html#mqtt5-reason-codes, life-cycle-events
func (c *conn) Read(b []byte) (int, error) {
	if c.guard.Tripped() {
		return 0, packetguard.ErrMalformedSubscribe
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.guard.Lost() {
		keep, f := c.guard.Feed(b[:n], c.maxPacket)
		switch f {
		case packetguard.BadSubscribe:
			// mochi gets the packet without its last byte, then this error: it ends the connection as
			// on any truncated packet. [MQTT-4.13.1-1]
			n, err = keep, packetguard.ErrMalformedSubscribe
			c.guardFault(packets.ErrMalformedPacket)
		case packetguard.TooLarge:
			c.guardFault(packets.ErrPacketTooLarge)
		case packetguard.EmptyAuth:
			c.guardFault(packets.ErrProtocolViolation) // AWS: mqtt.html#mqtt-differences — no AUTH
		}
	}
	if err != nil && n == 0 && c.established.Load() {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && c.setReason(reasonKeepAliveTimeout) && c.version == 5 {
			c.sendDisconnect(packets.ErrKeepAliveTimeout)
		}
	}
	return n, err
}

// guardFault answers a fault mochi would end the connection on silently (see packetguard): MQTT 5
// clients get the DISCONNECT first. A fault in bytes that arrived with the CONNECT, before OnConnect,
// is left to mochi. AWS: mqtt.html#mqtt5-reason-codes
func (c *conn) guardFault(code packets.Code) {
	if !c.ready.Load() || c.version != 5 || !c.setReason(reasonClientError) {
		return
	}
	c.stopped.Store(true)
	c.sendDisconnect(code)
}

// Close is mochi closing the connection; the flag is up before the peer can see the close.
func (c *conn) Close() error {
	c.stopped.Store(true)
	return c.Conn.Close()
}

// signal wakes the connection's outbox, starting one when none runs. Before the connection has its
// session the wake waits in the channel: attach signals again.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if !c.outRunning.Load() {
		if ss := c.sess.Load(); ss != nil {
			c.srv.startOutbox(c, ss)
		}
	}
}

// finish marks the connection ended: its outbox stops and no other starts.
func (c *conn) finish() {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.end.Do(func() { close(c.done) })
}

// batchFlushAt is when a batch of writes is written out before its end.
const batchFlushAt = 32 << 10

// Write is how mochi writes a packet (holding the client's lock). While the outbox sends a batch of
// packets they are gathered and written together at its end, in one TLS record where they fit: mochi
// writes each packet on its own otherwise.
func (c *conn) Write(b []byte) (int, error) {
	if !c.batching {
		return c.Conn.Write(b)
	}
	c.wbuf = append(c.wbuf, b...)
	if len(c.wbuf) >= batchFlushAt {
		return len(b), c.flushLocked()
	}
	return len(b), nil
}

func (c *conn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > 4*batchFlushAt {
		c.wbuf = nil
	}
	return err
}

// beginBatch starts gathering writes; endBatch writes them.
func (c *conn) beginBatch() {
	c.cl.Lock()
	c.batching = true
	c.cl.Unlock()
}

func (c *conn) endBatch() {
	c.cl.Lock()
	c.batching = false
	_ = c.flushLocked()
	c.cl.Unlock()
}

// setReason records why the broker ends the connection; only the first reason counts.
func (c *conn) setReason(r string) bool {
	return c.reason.CompareAndSwap(nil, &r)
}

func (c *conn) reasonSet() string {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return ""
}

// sendDisconnect writes an MQTT 5 DISCONNECT straight to the connection, ahead of anything mochi has
// queued: mochi's WritePacket only buffers a packet while other writes are pending, and the connection
// is about to close. It takes the client's lock, as mochi's writes do, and gives up after a second: a
// writer blocked on a client that does not read is first cut short by the write deadline.
func (c *conn) sendDisconnect(code packets.Code) {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Disconnect},
		ProtocolVersion: 5,
		ReasonCode:      code.Code,
	}
	if code.Code >= packets.ErrUnspecifiedError.Code {
		pk.Properties.ReasonString = code.Reason
	}
	var buf bytes.Buffer
	if err := pk.DisconnectEncode(&buf); err != nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	_ = c.raw.SetWriteDeadline(deadline)
	for !c.cl.TryLock() {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	defer c.cl.Unlock()
	_ = c.raw.SetWriteDeadline(deadline)
	_, _ = c.Conn.Write(buf.Bytes())
}

// kill ends a connection for reason: MQTT 5 clients first get DISCONNECT with code (when code is an
// error code), then the TCP connection is closed underneath TLS, so no write can block. mochi notices
// on its next read and runs its usual end of connection (OnDisconnect, where the broker publishes the
// will and the lifecycle event). MQTT 3.1.1 has no server DISCONNECT: the socket just closes.
func (s *Server) kill(c *conn, reason string, code packets.Code) {
	c.setReason(reason)
	c.stopped.Store(true) // before the peer can learn of the end
	if c.ready.Load() && c.version == 5 && code.Code >= packets.ErrUnspecifiedError.Code {
		c.sendDisconnect(code)
	}
	_ = c.raw.Close()
}

// subackFix holds SUBACK reason codes the hook decided, to replace mochi's in the packet it encodes.
type subackFix struct {
	packetID uint16
	codes    []byte // 0 = keep mochi's
}

// rateBucket is a token bucket of n tokens per second, burst n.
type rateBucket struct {
	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time
}

// take reports whether one more event fits in n per second at now; n <= 0 means unlimited.
func (b *rateBucket) take(n int, now time.Time) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens, b.last = float64(n), now
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(n), b.tokens+el.Seconds()*float64(n))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
