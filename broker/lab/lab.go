// Package lab is the "lab" listener of iotlab: a plain MQTT broker (3.1, 3.1.1 and 5, no TLS, no
// authentication) that stands in for Mosquitto 2 with allow_anonymous true in the first MQTT chapters of the
// course. It is its own mochi server, with its own capabilities, hooks and topic tree, apart from the broker
// with AWS semantics.
//
// Where the MQTT specifications leave a choice, and where mochi v2.7.9 differs from Mosquitto 2.0.11, the lab
// does what Mosquitto does: an optional Mosquitto-style ACL file (see acl.go), retained messages that never
// expire unless an MQTT 5 publisher set an expiry, persistent sessions kept in a state file across restarts.
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultAddr is where the lab listens when Options names neither a listener nor an address: Mosquitto's port.
const DefaultAddr = "127.0.0.1:1883"

// DefaultConnectTimeout is how long a new connection may take to send CONNECT.
const DefaultConnectTimeout = 10 * time.Second

const (
	// shutdownGrace bounds the graceful part of Close: telling MQTT 5 clients "server shutting down".
	shutdownGrace = 500 * time.Millisecond
	// shutdownDrain bounds each wait of Close after every connection has been closed.
	shutdownDrain = 5 * time.Second
	listenerID    = "lab"
)

// Options configure a lab server. The zero value serves on DefaultAddr, in memory, with no ACL.
type Options struct {
	Listener net.Listener // if set, serve on it (Close closes it); else listen on Addr
	Addr     string       // e.g. "127.0.0.1:0"; "" means DefaultAddr
	DBPath   string       // persistence file (e.g. <state-dir>/lab.db); "" = in-memory only
	ACLFile  string       // optional Mosquitto-style ACL file; "" = everything allowed
	Logger   *slog.Logger // nil = discard

	// ConnectTimeout is how long a connection may stay open without sending CONNECT; 0 means
	// DefaultConnectTimeout. mochi itself sets no deadline before CONNECT.
	ConnectTimeout time.Duration
}

// Server is a lab MQTT broker. Create it with New, then Start; Close it when done.
type Server struct {
	opt   Options
	log   *slog.Logger
	acl   *aclTable // nil without an ACL file
	mochi *mqtt.Server
	lab   *labHook
	store *store // nil without DBPath
	hooks []mqtt.Hook

	mu       sync.Mutex // guards lis, started, closed
	lis      *listener
	started  bool
	closed   bool
	closeErr error
}

// New checks the options, reads the ACL file and opens the state file. It does not listen yet.
func New(opt Options) (*Server, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = DefaultConnectTimeout
	}
	if opt.Listener == nil && opt.Addr == "" {
		opt.Addr = DefaultAddr
	}
	s := &Server{opt: opt, log: log}
	if opt.ACLFile != "" {
		acl, err := loadACL(opt.ACLFile)
		if err != nil {
			return nil, err
		}
		s.acl = acl
	}

	caps := mqtt.NewDefaultServerCapabilities()
	// Mosquitto keeps a retained message until it is replaced or cleared, and queued messages until they are
	// delivered; mochi's default drops both after a day, MQTT 3 ones included. With 0 only an expiry that an
	// MQTT 5 publisher set applies [MQTT-3.3.2-5], and no expiry property is invented for messages that had
	// none [MQTT-3.3.2-6].
	caps.MaximumMessageExpiryInterval = 0
	caps.TopicAliasMaximum = 10 // Mosquitto's max_topic_alias
	s.mochi = mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 slog.New(levelAtLeast{log.Handler(), slog.LevelWarn}).With("listener", listenerID),
		SysTopicResendInterval: 10, // Mosquitto's sys_interval
	})

	s.lab = newLabHook(s.acl, s.mochi, log)
	s.hooks = append(s.hooks, s.lab)
	if opt.DBPath != "" {
		st, err := openStore(opt.DBPath, log)
		if err != nil {
			return nil, err
		}
		s.store = st
		s.hooks = append(s.hooks, st)
	}
	for _, h := range s.hooks {
		if err := s.mochi.AddHook(h, nil); err != nil {
			s.closeStore()
			return nil, fmt.Errorf("lab: add hook %s: %w", h.ID(), err)
		}
	}
	return s, nil
}

// Start listens (unless Options.Listener was given), restores stored sessions and retained messages, and
// starts serving. It returns once the listener accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("lab: start: server closed")
	case s.started:
		return errors.New("lab: start: already started")
	}
	ln := s.opt.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.opt.Addr)
		if err != nil {
			return fmt.Errorf("lab: listen: %w", err)
		}
	}
	s.lis = newListener(listenerID, ln, s.opt.ConnectTimeout, s.log)
	s.lis.ready = s.restoreRetainedExpiry
	s.lis.ended = s.lab.connEnded
	if err := s.mochi.AddListener(s.lis); err != nil {
		_ = ln.Close()
		return fmt.Errorf("lab: add listener: %w", err)
	}
	if err := s.mochi.Serve(); err != nil { // reads the store, then runs the listener
		s.lis.stop()
		return fmt.Errorf("lab: start: %w", err)
	}
	s.started = true
	s.log.Info("lab: MQTT listener started", "addr", ln.Addr().String(), "acl", s.opt.ACLFile, "db", s.opt.DBPath)
	return nil
}

// restoreRetainedExpiry gives retained messages restored from the store the expiry time that mochi's loader
// does not restore, so that an MQTT 5 message expiry keeps counting down across a restart [MQTT-3.3.2-5].
func (s *Server) restoreRetainedExpiry() {
	for _, pk := range s.mochi.Topics.Retained.GetAll() {
		if exp := pk.Properties.MessageExpiryInterval; exp > 0 && pk.Expiry == 0 {
			pk.Expiry = pk.Created + int64(exp)
			pk.ProtocolVersion = 5 // only MQTT 5 messages carry an expiry; mochi tests the version
			s.mochi.Topics.Retained.Add(pk.TopicName, pk)
		}
	}
}

// Addr is the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return nil
	}
	return s.lis.ln.Addr()
}

// Close stops the server: it stops accepting, tells MQTT 5 clients that the server is shutting down, closes
// every connection (wills are sent, as Mosquitto does on shutdown), waits for the goroutines it started, and
// closes the state file. Each wait is bounded, so Close returns even if mochi misbehaves; then it reports an
// error. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	var errs []error
	switch {
	case s.started:
		errs = append(errs, s.shutdown())
	case s.lis != nil:
		s.lis.stop()
	case s.opt.Listener != nil:
		_ = s.opt.Listener.Close()
	}
	errs = append(errs, s.closeStore())
	s.closeErr = errors.Join(errs...)
	return s.closeErr
}

func (s *Server) shutdown() error {
	s.lis.stop()

	// Graceful part: MQTT 5 clients learn why (MQTT 3 has no server DISCONNECT).
	s.lis.setWriteDeadline(time.Now().Add(shutdownGrace))
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		for _, cl := range s.mochi.Clients.GetAll() {
			if ctx.Err() != nil {
				return
			}
			if cl.Net.Conn != nil && !cl.Closed() && cl.Properties.ProtocolVersion == 5 {
				_ = s.mochi.DisconnectClient(cl, packets.ErrServerShuttingDown) // 0x8B
			}
		}
	}()
	select {
	case <-notified:
	case <-ctx.Done():
	}

	// Then close whatever is still open and wait for every connection goroutine to finish.
	s.lis.closeConns()
	if !s.lis.wait(shutdownDrain) {
		// Calling mochi's Close now could hang in ClientsWg.Wait, or race a late ClientsWg.Add.
		return errors.New("lab: close: connections still running after shutdown timeout")
	}
	select { // its writes fail fast now that the connections are closed
	case <-notified:
	case <-time.After(shutdownDrain):
		return errors.New("lab: close: shutdown notices still being written after shutdown timeout")
	}

	// No connection is left, so mochi's Close only stops its event loop and the hooks.
	done := make(chan struct{})
	go func() {
		_ = s.mochi.Close()
		close(done)
	}()
	t := time.NewTimer(shutdownDrain)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errors.New("lab: close: mochi server did not stop")
	}
}

func (s *Server) closeStore() error {
	if s.store == nil {
		return nil
	}
	return s.store.close()
}

// levelAtLeast passes on records at min or above: mochi logs routine events at Info.
type levelAtLeast struct {
	slog.Handler
	min slog.Level
}

func (h levelAtLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelAtLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelAtLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h levelAtLeast) WithGroup(name string) slog.Handler {
	return levelAtLeast{h.Handler.WithGroup(name), h.min}
}
