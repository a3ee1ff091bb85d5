package broker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
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
	caID         string // the registered CA of the certificate, "" without one
	certInfo     *policy.CertInfo
	sni          string
	version      byte // 4 (3.1.1) or 5
	connectAttrs []string
	will         *will
	lifecycle    bool // lifecycle events are published (no '+' or '#' in the client ID)
	sessionID    string
	versionNum   int64
	authorized   bool // OnConnect accepted the CONNECT
	persistent   bool // the session outlives the connection (PersistentConnect)

	ready       atomic.Bool // cl and version are set: other goroutines may use them (kill)
	established atomic.Bool // CONNACK 0 was sent

	reason      atomic.Pointer[string] // why the broker ended the connection; first one wins
	preventWill atomic.Bool            // DeleteConnection preventWillMessage
	cleanOnEnd  atomic.Bool            // DeleteConnection cleanSession
	willDone    atomic.Bool

	// Read goroutine only.
	clientDisconnect bool // a DISCONNECT packet arrived
	willOnDisconnect bool // … with reason 0x04 (Disconnect with Will Message)
	suback           subackFix
	subDenials       []*subDenial

	authz    authzState
	subCheck atomic.Pointer[subCheck] // decisions of the SUBSCRIBE being processed
	parents  atomic.Pointer[[]string] // "a/b" for each "a/b/#" filter: see receiveMatches

	pubRate rateBucket // inbound PUBLISH (and deliveries with Quirks.ThrottleDeliveries)

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
	c := &conn{Conn: tc, tls: tc, raw: raw}
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
	n, err := c.Conn.Read(b)
	if err != nil && n == 0 && c.established.Load() {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && c.setReason(reasonKeepAliveTimeout) && c.version == 5 {
			c.sendDisconnect(packets.ErrKeepAliveTimeout)
		}
	}
	return n, err
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
