package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
)

// listenerID names the broker's connections inside mochi-mqtt.
const listenerID = "mqtts"

// closeTimeout bounds each phase of Close.
const closeTimeout = 5 * time.Second

// clientReadBuffer sizes mochi's per-connection read buffer (Options.ClientNetReadBufferSize).
// BenchmarkIdleConnections: 2 KiB → 256 B saves about 1.8 KB per idle connection.
const clientReadBuffer = 256

// Server is the AWS IoT Core message broker: MQTT 3.1.1 and 5 over mutual TLS, on mochi-mqtt.
type Server struct {
	opt       Options
	lim       Limits
	quirks    Quirks
	dir       Directory
	log       *slog.Logger
	now       func() time.Time
	tlsConfig *tls.Config
	arnPrefix string // "arn:aws:iot:<region>:<account>:"

	mq    *mqtt.Server
	hook  *awsHook
	hooks []mqtt.Hook // every hook added to mq, in order

	ln      net.Listener
	alpnLn  net.Listener // AWS's port 443 (https.go); nil without one
	alpnTLS *tls.Config
	https   *handoff        // the ALPN listener's HTTPS connections
	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // accept loop, connections, janitor
	started atomic.Bool
	closing atomic.Bool
	closed  sync.Once

	connsMu sync.Mutex // guards raws and byCert
	raws    map[net.Conn]*conn
	byCert  map[string]map[*conn]struct{}

	policyGen atomic.Uint64 // bumped by PoliciesChanged

	logCfg  atomic.Pointer[awslog.Config]
	logGen  atomic.Uint64 // bumped by LoggingChanged
	logFile *awslog.File

	clientsMu sync.Mutex // guards clients
	clients   map[string]*clientRecord

	// Sessions, their queues and the durable state (session.go, route.go, commit.go).
	store    Store      // nil: in memory only
	cm       *committer // nil without a store
	locks    *idLocks
	seq      atomic.Uint64
	sessMu   sync.RWMutex // guards sessions
	sessions map[string]*session
	retMu    sync.RWMutex // guards retained and retPending
	retained map[string]*retainedMsg
	// retPending maps a topic to the sequence number of its latest retained change whose batch has
	// not committed yet (see retainedCommitted).
	retPending map[string]uint64

	observers observers
}

// New checks the options and builds a server; Start begins accepting connections.
func New(opt Options) (*Server, error) {
	if opt.Directory == nil {
		return nil, errors.New("broker: Options.Directory is required")
	}
	if opt.TLSConfig == nil {
		return nil, errors.New("broker: Options.TLSConfig is required")
	}
	if opt.TLSConfig.ClientAuth < tls.RequireAnyClientCert {
		// AWS: x509-client-certs — the certificate is the identity; the broker decides its validity.
		return nil, errors.New("broker: TLSConfig.ClientAuth must require a client certificate (tls.RequireAnyClientCert)")
	}
	if opt.Account == "" {
		opt.Account = "123456789012"
	}
	if opt.Region == "" {
		opt.Region = "eu-west-1"
	}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:8883"
	}
	if opt.HandshakeTimeout <= 0 {
		opt.HandshakeTimeout = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	tc := opt.TLSConfig.Clone()
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12 // AWS: protocols — TLS 1.2 and 1.3
	}
	s := &Server{
		opt:       opt,
		lim:       opt.Limits.withDefaults(),
		quirks:    opt.Quirks,
		dir:       opt.Directory,
		log:       opt.Logger,
		now:       opt.Now,
		tlsConfig: tc,
		arnPrefix: "arn:aws:iot:" + opt.Region + ":" + opt.Account + ":",
		raws:      map[net.Conn]*conn{},
		byCert:    map[string]map[*conn]struct{}{},
		clients:   map[string]*clientRecord{},
		locks:     newIDLocks(opt.Logger),
		sessions:  map[string]*session{},
		retained:  map[string]*retainedMsg{},
		store:     opt.Store,
		alpnTLS:   alpnTLSConfig(tc),
		https:     newHandoff(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mq = mqtt.New(&mqtt.Options{
		Capabilities: s.capabilities(),
		// mochi narrates at Info ("added hook", "mochi mqtt starting"); keep its warnings only.
		Logger: slog.New(minLevel{s.log.Handler(), slog.LevelWarn}).With("component", "mochi"),
		// $SYS topics are not AWS's; publish them (almost) never. Start deletes the first batch.
		SysTopicResendInterval: 100 * 365 * 24 * 3600,
		// mochi puts a bufio.Reader of this size on every connection, allocated at connect (2 KiB by
		// default). The *tls.Conn under it already holds each decrypted record, so a second large buffer
		// only costs memory per idle connection: this one covers a fixed header and a small packet.
		ClientNetReadBufferSize: clientReadBuffer,
	})
	s.hook = &awsHook{s: s}
	if err := s.addHook(s.hook); err != nil {
		return nil, err
	}
	cfg := awslog.Config{}
	s.logCfg.Store(&cfg)
	return s, nil
}

// capabilities sets mochi-mqtt's knobs to AWS's behaviour.
func (s *Server) capabilities() *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	// MQTT 3.1.1 and 5 only. AWS: mqtt.html
	c.MinimumProtocolVersion = 4
	// mochi would silently downgrade QoS 2 below this; the hook applies AWS's answer instead, and
	// advertises Maximum QoS 1 in CONNACK itself. AWS: mqtt.html#mqtt-differences
	c.MaximumQos = 2
	c.TopicAliasMaximum = uint16(s.lim.TopicAliasMaximum)
	c.MaximumPacketSize = uint32(s.lim.PacketBytes)
	if s.lim.ReceiveMaximum > 0 {
		c.ReceiveMaximum = uint16(min(s.lim.ReceiveMaximum, 65535))
	} else {
		c.ReceiveMaximum = noQuotaReceiveMaximum
	}
	// AWS does not support subscription identifiers (CONNACK Subscription Identifier Available = 0).
	c.SubIDAvailable = 0
	// The broker keeps retained messages and queues itself and expires them as AWS does (MQTT 3 retained
	// messages never, MQTT 5 ones with their Message Expiry Interval); mochi's default, one day for
	// everything, must never apply. AWS: mqtt.html#mqtt-retain
	c.MaximumMessageExpiryInterval = 0
	// The broker expires sessions itself (Limits.SessionExpiry, sweepSessions) and lowers MQTT 5 Session
	// Expiry Intervals in OnConnect; mochi's own expiry must never fire (it would race a reconnect).
	c.MaximumSessionExpiryInterval = math.MaxUint32
	// mochi queues deliveries in a per-client channel of this size, allocated at connect; the broker
	// delivers itself (outbox.go), so the channel stays empty and is kept tiny.
	c.MaximumClientWritesPending = 1
	// Acks do not echo the properties of the packet they acknowledge.
	c.Compatibilities.NoInheritedPropertiesOnAck = true
	return c
}

// addHook adds a hook to mochi and records it: the one-auth-hook invariant is tested over s.hooks.
func (s *Server) addHook(h mqtt.Hook) error {
	if err := s.mq.AddHook(h, nil); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	s.hooks = append(s.hooks, h)
	return nil
}

// Start opens the listener (unless one was given) and the log file, and begins serving.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("broker: already started")
	}
	if s.store == nil && s.opt.StorePath != "" {
		st, err := OpenStore(s.opt.StorePath)
		if err != nil {
			return err
		}
		s.store = st
	}
	if s.store != nil {
		if err := s.restore(); err != nil {
			_ = s.store.Close()
			s.store = nil
			return err
		}
		s.cm = newCommitter(s.store, s.log)
	}
	if s.opt.LogDir != "" {
		f, err := awslog.OpenFile(s.opt.LogDir)
		if err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		s.logFile = f
	}
	s.LoggingChanged()
	ln := s.opt.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.opt.Addr); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	s.ln = ln
	if err := s.listenALPN(); err != nil {
		return err
	}
	if err := s.mq.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	for topic := range s.mq.Topics.Retained.GetAll() {
		if len(topic) >= 4 && topic[:4] == "$SYS" {
			s.mq.Topics.Retained.Delete(topic)
		}
	}
	s.wg.Add(2)
	go s.acceptLoop(s.ln, s.serveConn)
	go s.janitor()
	if s.alpnLn != nil {
		s.wg.Add(1)
		go s.acceptLoop(s.alpnLn, s.serveALPN)
	}
	return nil
}

// Addr is the listening address (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

func (s *Server) acceptLoop(ln net.Listener, serve func(net.Conn)) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary errors (EMFILE, …): back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("broker: accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !s.trackRaw(raw) {
			raw.Close()
			return
		}
		s.wg.Add(1)
		go serve(raw)
	}
}

// trackRaw registers an accepted connection; false once Close has begun.
func (s *Server) trackRaw(raw net.Conn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.raws[raw] = nil
	return true
}

// serveConn runs one connection: TLS handshake, then mochi-mqtt until the client goes away.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer s.untrack(raw)
	defer raw.Close()
	// Bounded until CONNECT: mochi replaces the deadline with 1.5 × keep-alive once it accepts CONNECT.
	_ = raw.SetDeadline(time.Now().Add(s.opt.HandshakeTimeout))
	if tc, ok := s.handshake(raw, s.tlsConfig); ok {
		s.serveMQTT(raw, tc)
	}
}

// serveMQTT hands a connection whose TLS handshake is done to mochi-mqtt until the client goes away.
func (s *Server) serveMQTT(raw net.Conn, tc *tls.Conn) {
	c := newConn(tc, raw)
	defer s.locks.unlock(c) // the client ID, if its end or its start still holds it (see idLocks)
	defer c.finish()
	s.connsMu.Lock()
	if s.closing.Load() {
		s.connsMu.Unlock()
		return
	}
	s.raws[raw] = c
	s.connsMu.Unlock()
	err := s.mq.EstablishConnection(listenerID, c)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("broker: connection ended", "client", c.clientID, "err", err)
	}
}

// untrack forgets a connection.
func (s *Server) untrack(raw net.Conn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	c := s.raws[raw]
	delete(s.raws, raw)
	if c != nil && c.certID != "" {
		if set := s.byCert[c.certID]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(s.byCert, c.certID)
			}
		}
	}
}

// indexCert records that c authenticated with its certificate, for CertificateChanged.
func (s *Server) indexCert(c *conn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if _, live := s.raws[c.raw]; !live {
		return
	}
	set := s.byCert[c.certID]
	if set == nil {
		set = map[*conn]struct{}{}
		s.byCert[c.certID] = set
	}
	set[c] = struct{}{}
}

// Close disconnects every client (MQTT 5 clients get DISCONNECT 0x8B), stops the listener and waits
// for the broker's goroutines. It is bounded: mochi-mqtt v2.7.9's own Close can deadlock when clients
// connect or disconnect while it runs (upstream issue #488), so the server closes every connection
// itself, waits for them, and only then lets mochi stop its loops, with a time limit on each step.
func (s *Server) Close() error {
	var errs []error
	s.closed.Do(func() {
		s.connsMu.Lock()
		s.closing.Store(true)
		conns := make([]net.Conn, 0, len(s.raws))
		live := make([]*conn, 0, len(s.raws))
		for raw, c := range s.raws {
			conns = append(conns, raw)
			if c != nil {
				live = append(live, c)
			}
		}
		s.connsMu.Unlock()
		s.cancel()
		if s.ln != nil {
			if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("broker: closing the listener: %w", err))
			}
		}
		if s.alpnLn != nil {
			if err := s.alpnLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("broker: closing the ALPN listener: %w", err))
			}
		}
		s.https.Close()
		for _, c := range live {
			s.kill(c, reasonServerInitiated, packets.ErrServerShuttingDown)
		}
		for _, raw := range conns {
			raw.Close()
		}
		if !waitTimeout(&s.wg, closeTimeout) {
			errs = append(errs, errors.New("broker: connections did not end within the close timeout"))
		}
		if s.started.Load() {
			// No connection is left, so mochi's listener wait group is idle and its Close cannot block
			// on a client; bound it anyway.
			done := make(chan struct{})
			go func() { _ = s.mq.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(closeTimeout):
				errs = append(errs, errors.New("broker: mochi-mqtt did not stop within the close timeout"))
			}
		}
		if err := s.cm.close(closeTimeout); err != nil {
			errs = append(errs, err)
		}
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("broker: closing the state store: %w", err))
			}
		}
		if s.logFile != nil {
			if err := s.logFile.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// waitTimeout waits for wg, at most d; false on timeout.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// janitorInterval is how often expired sessions, messages and client records are swept. AWS ends an
// expired session "up to 30 minutes" late; iotlab within this.
const janitorInterval = 5 * time.Second

// janitor ends expired sessions, drops expired messages, and forgets client records nobody needs any
// more (connect-rate stamps, lifecycle version numbers of clients gone for an hour).
func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			now := s.now()
			s.sweepSessions(now)
			s.sweepClients(now)
		}
	}
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
