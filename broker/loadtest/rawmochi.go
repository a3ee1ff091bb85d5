package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// RawMochi configures baseline (a): mochi-mqtt v2.7.9 as it comes. The zero value of every tuning
// field keeps mochi's default; they exist to measure what tuning would buy (see the report's
// "mochi options" notes), never to flatter the baseline in the table.
type RawMochi struct {
	Addr              string // default 127.0.0.1:0
	CertFile, KeyFile string // the server certificate and key iotlab's broker serves

	WritesPending int    // Capabilities.MaximumClientWritesPending (mochi: 8192)
	MaxInflight   uint16 // Capabilities.MaximumInflight (mochi: 8192)
	WriteBuffer   int    // Options.ClientNetWriteBufferSize (mochi: 2048)
	ReadBuffer    int    // Options.ClientNetReadBufferSize (mochi: 2048)
}

// Tuned reports whether any tuning field is set.
func (o RawMochi) Tuned() bool {
	return o.WritesPending > 0 || o.MaxInflight > 0 || o.WriteBuffer > 0 || o.ReadBuffer > 0
}

// String lists the tuning fields set, as the flags that set them.
func (o RawMochi) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		v    int
	}{{"writes-pending", o.WritesPending}, {"max-inflight", int(o.MaxInflight)}, {"write-buffer", o.WriteBuffer}, {"read-buffer", o.ReadBuffer}} {
		if f.v > 0 {
			parts = append(parts, fmt.Sprintf("--mochi-%s %d", f.name, f.v))
		}
	}
	return strings.Join(parts, " ")
}

// ServerTLSConfig is the TLS configuration iotlab's endpoint uses (certs.(*CA).ServerTLSConfig): TLS 1.2
// or 1.3, a client certificate required but verified by the broker, not the handshake. Baseline (a)
// uses it as is; iotlab's broker adds identity checks above it.
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
	}
}

// Run serves until ctx ends, after writing "ready <addr>\n" to ready.
func (o RawMochi) Run(ctx context.Context, ready io.Writer) error {
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return fmt.Errorf("loadtest: raw mochi: %w", err)
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("loadtest: raw mochi: %w", err)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	if o.WritesPending > 0 {
		caps.MaximumClientWritesPending = int32(o.WritesPending)
	}
	if o.MaxInflight > 0 {
		caps.MaximumInflight = o.MaxInflight
	}
	s := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		ClientNetWriteBufferSize: o.WriteBuffer,
		ClientNetReadBufferSize:  o.ReadBuffer,
		Logger:                   slog.New(slog.DiscardHandler),
	})
	if err := s.AddHook(new(permitAll), nil); err != nil {
		return fmt.Errorf("loadtest: raw mochi: %w", err)
	}
	// mochi's own TCP listener with a TLSConfig is tls.Listen; this is the same on a listener whose
	// port is known before Serve.
	if err := s.AddListener(listeners.NewNet("tls", tls.NewListener(ln, ServerTLSConfig(cert)))); err != nil {
		return fmt.Errorf("loadtest: raw mochi: %w", err)
	}
	if err := s.Serve(); err != nil {
		return fmt.Errorf("loadtest: raw mochi: %w", err)
	}
	fmt.Fprintf(ready, "ready %s\n", ln.Addr())
	<-ctx.Done()
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second): // v2.7.9's Close can deadlock under churn (upstream #488)
	}
	return nil
}

// permitAll is the one hook baseline (a) has: mochi refuses every client unless an auth hook allows it.
type permitAll struct{ mqtt.HookBase }

func (permitAll) ID() string { return "permit-all" }

func (permitAll) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (permitAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (permitAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }
