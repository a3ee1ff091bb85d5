package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/emulator/policy"
)

// Devices reach AWS IoT Core over HTTPS too, with their X.509 certificate: on port 8443, and on 443 with
// ALPN x-amzn-http-ca. The HTTP side (routes, iot-data operations) is emulator/awsapi's; the broker
// answers the two questions that must be answered exactly as for MQTT — who the certificate is, and what
// its policies allow (AuthorizeHTTPS) — and, on the ALPN listener, which protocol a connection speaks.
// AWS: protocols (protocol/port mapping), http.html

// ALPN protocol IDs of AWS's port 443. AWS: protocols
const (
	// ALPNMQTT: MQTT with an X.509 client certificate, exactly as on 8883.
	ALPNMQTT = "x-amzn-mqtt-ca"
	// ALPNHTTP: HTTPS with an X.509 client certificate, as on 8443.
	ALPNHTTP = "x-amzn-http-ca"
	// alpnCustomAuth is MQTT with a custom authorizer (username and password checked by a Lambda),
	// which iotlab does not emulate.
	alpnCustomAuth = "mqtt"
	// alpnHTTP11 lets ordinary HTTPS clients (curl offers h2 and http/1.1) in without an AWS protocol
	// ID, as "no ALPN" does; AWS serves HTTP 1.0 and 1.1 only, so h2 is never chosen. AWS: http.html
	alpnHTTP11 = "http/1.1"
)

// ErrNotAuthenticated is what AuthorizeHTTPS wraps when the certificate cannot authenticate: not
// registered, not ACTIVE, outside its validity period, or its CA not registered and ACTIVE.
var ErrNotAuthenticated = errors.New("broker: the client certificate cannot authenticate")

// Resources of the HTTPS actions. AWS: iot-action-resources
const (
	// AnyResource is the resource of iot:ListRetainedMessages and iot:ListNamedShadowsForThing, which
	// "must be *": only a statement whose Resource matches the literal "*" allows them.
	AnyResource = "*"
)

// AuthorizeHTTPS decides one request a device made over HTTPS with its client certificate (state is the
// TLS connection's, remoteAddr the peer's "ip:port"). The certificate must be registered and ACTIVE,
// its CA too when it has one, and within its validity period — as at CONNECT; otherwise the error wraps
// ErrNotAuthenticated. Then the certificate's policies decide action on resource, the resource part of
// the ARN ("topic/a/b", "thing/lamp", "thing/lamp/config", "client/id") or AnyResource.
//
// There is no client ID over HTTPS (AWS: http.html — "HTTPS doesn't support a clientId value"), so
// ${iot:ClientId} and the iot:ClientId key stay unresolved, and so do the thing variables, which AWS
// makes available "only when a device connects over MQTT or MQTT over the WebSocket protocol"
// (AWS: thing-policy-variables). Certificate variables, ${iot:DomainName} (the SNI) and
// ${aws:SourceIp} resolve as for MQTT.
//
// Every refusal is logged in AWS's format with protocol HTTP (Publish-In for iot:Publish and
// iot:RetainPublish, the operation's name otherwise) and reported to observers as EventDeny.
// Decisions are not cached: each request resolves the principal again.
func (s *Server) AuthorizeHTTPS(state tls.ConnectionState, remoteAddr, action, resource string) (policy.Decision, error) {
	now := s.now()
	c := &conn{}
	if h, p, err := net.SplitHostPort(remoteAddr); err == nil {
		c.remoteIP = h
		c.remotePort, _ = strconv.Atoi(p)
	}
	arn := s.arnPrefix + resource
	if resource == AnyResource {
		arn = AnyResource
	}
	deny := policy.Decision{Effect: policy.ImplicitDeny, Action: action, Resource: arn}
	if r, ok := s.checkIdentity(c, state.PeerCertificates, now); !ok {
		s.refuseHTTPS(c, now, action, resource, deny, reasonAuthentication, r.details)
		return deny, fmt.Errorf("%w: %s", ErrNotAuthenticated, r.details)
	}
	pols, _, err := s.dir.Principal(c.certID, "")
	if err != nil {
		s.log.Warn("broker: resolving principal", "cert", c.certID, "err", err)
		s.refuseHTTPS(c, now, action, resource, deny, reasonAuthorization, denialDetails(reasonAuthorization))
		return deny, nil
	}
	d := policy.Decide(policy.Request{Action: action, Resource: arn, Policies: pols, Context: &policy.Context{
		Region:     s.opt.Region,
		Account:    s.opt.Account,
		DomainName: state.ServerName,
		SourceIP:   c.remoteIP,
		Cert:       c.certFor(pols),
	}})
	if d.Effect != policy.Allowed {
		s.refuseHTTPS(c, now, action, resource, d, reasonAuthorization, denialDetails(reasonAuthorization))
	}
	return d, nil
}

// refuseHTTPS logs a refused HTTPS request and tells observers.
func (s *Server) refuseHTTPS(c *conn, now time.Time, action, resource string, d policy.Decision, reason, details string) {
	topic, _ := strings.CutPrefix(resource, "topic/")
	if topic == resource {
		topic = ""
	}
	if s.wantLog(c, awslog.Error) {
		e := s.entry(c, now, awslog.Error, awslog.StatusFailure, httpsEventType(action))
		e.Protocol = "HTTP"
		e.TopicName = topic
		e.Reason, e.Details = reason, details
		s.writeLog(c, &e)
	}
	if s.observed() {
		s.emit(Event{Kind: EventDeny, Time: now, CertID: c.certID, Topic: topic, Action: action, Decision: d, Reason: reason})
	}
}

// httpsEventType is the log event type of a request over HTTPS. AWS: cwl-format (message broker,
// Device Shadow and retained-message entries)
func httpsEventType(action string) string {
	switch action {
	case "iot:Publish", "iot:RetainPublish":
		return awslog.EventPublishIn
	case "iot:ListRetainedMessages":
		return "ListRetainedMessage" // sic: AWS's event type is singular
	}
	name, _ := strings.CutPrefix(action, "iot:")
	return name
}

// ---- AWS's port 443: one TLS listener, the protocol chosen by ALPN ----

// alpnTLSConfig is the ALPN listener's configuration: the broker's, offering AWS's protocol IDs. A
// client that offers only ALPN mqtt (custom authentication, which sends no certificate) may complete
// the handshake without one, so that it is told why it is closed rather than failing the handshake.
func alpnTLSConfig(base *tls.Config) *tls.Config {
	tc := base.Clone()
	tc.NextProtos = []string{ALPNMQTT, ALPNHTTP, alpnCustomAuth, alpnHTTP11}
	custom := tc.Clone()
	custom.ClientAuth = tls.RequestClientCert
	tc.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(h.SupportedProtos, alpnCustomAuth) && !slices.Contains(h.SupportedProtos, ALPNMQTT) &&
			!slices.Contains(h.SupportedProtos, ALPNHTTP) {
			return custom, nil
		}
		return nil, nil
	}
	return tc
}

// listenALPN opens the ALPN listener when the options ask for one.
func (s *Server) listenALPN() error {
	ln := s.opt.ALPNListener
	if ln == nil {
		if s.opt.ALPNAddr == "" {
			return nil
		}
		var err error
		if ln, err = net.Listen("tcp", s.opt.ALPNAddr); err != nil {
			return fmt.Errorf("broker: ALPN listener: %w", err)
		}
	}
	s.alpnLn = ln
	s.https.addr = ln.Addr()
	return nil
}

// ALPNAddr is the ALPN listener's address (nil without one, or before Start).
func (s *Server) ALPNAddr() net.Addr {
	if s.alpnLn == nil {
		return nil
	}
	return s.alpnLn.Addr()
}

// HTTPSListener yields the ALPN listener's HTTPS connections (ALPN x-amzn-http-ca, http/1.1 or none),
// TLS handshake done, as HTTPSConn values for an http.Server to serve; nil without an ALPN listener or
// before Start. A connection nobody accepts within HandshakeTimeout is closed. Close closes the
// listener; connections already accepted belong to their server.
func (s *Server) HTTPSListener() net.Listener {
	if s.alpnLn == nil {
		return nil
	}
	return s.https
}

// serveALPN runs one connection of the ALPN listener: TLS handshake, then MQTT as on the main listener,
// HTTPS through HTTPSListener, or, for custom authentication, a logged close.
func (s *Server) serveALPN(raw net.Conn) {
	defer s.wg.Done()
	handedOff := false
	defer func() {
		if !handedOff {
			raw.Close()
		}
	}()
	defer s.untrack(raw)
	_ = raw.SetDeadline(time.Now().Add(s.opt.HandshakeTimeout))
	tc, ok := s.handshake(raw, s.alpnTLS)
	if !ok {
		return
	}
	switch proto := tc.ConnectionState().NegotiatedProtocol; proto {
	case ALPNMQTT:
		s.serveMQTT(raw, tc)
	case alpnCustomAuth:
		// AWS: custom-authentication — MQTT with ALPN "mqtt" on 443 is authenticated by a custom
		// authorizer (a Lambda function); iotlab has none.
		s.log.Warn("broker: ALPN mqtt (MQTT with a custom authorizer) is not emulated: connection closed; use ALPN x-amzn-mqtt-ca and a client certificate",
			"remote", raw.RemoteAddr().String())
	default:
		// x-amzn-http-ca, http/1.1 or no ALPN. Deviation: on AWS's 443 only x-amzn-http-ca means
		// certificate-authenticated HTTPS; without it the front end wants SigV4 (or a custom
		// authorizer) and answers a certificate-only request 403 "Missing Authentication Token".
		// iotlab serves the device endpoint either way, so that curl and Go's net/http, which cannot
		// offer x-amzn-http-ca without code, reach it.
		_ = raw.SetDeadline(time.Time{})
		s.untrack(raw) // the HTTP server owns it from now on
		handedOff = s.https.offer(HTTPSConn{tc}, s.opt.HandshakeTimeout, s.ctx.Done())
		if !handedOff {
			s.log.Debug("broker: HTTPS connection not accepted in time", "remote", raw.RemoteAddr().String())
		}
	}
}

// handshake runs the server side of TLS on raw, bounded by HandshakeTimeout and Close.
func (s *Server) handshake(raw net.Conn, cfg *tls.Config) (*tls.Conn, bool) {
	tc := tls.Server(raw, cfg)
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// Includes a client that sends no certificate: it gets no session (checklist 2).
		s.log.Debug("broker: TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		return nil, false
	}
	return tc, true
}

// HTTPSConn is a connection of HTTPSListener: TLS, handshake done; ConnectionState gives the client
// certificate. It is deliberately not a *tls.Conn: net/http closes a *tls.Conn whose ALPN protocol
// has no TLSNextProto entry (x-amzn-http-ca) instead of serving HTTP/1.1 on it, and leaves r.TLS nil
// for other connections, so a server of these reads the state itself (e.g. through ConnContext).
type HTTPSConn struct{ *tls.Conn }

// handoff is a net.Listener fed by the broker: the ALPN listener's HTTPS connections.
type handoff struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr // set by listenALPN before Start serves
}

func newHandoff() *handoff {
	return &handoff{ch: make(chan net.Conn), done: make(chan struct{})}
}

// offer waits (at most d) for Accept to take c; false when it did not, c is then closed.
func (h *handoff) offer(c net.Conn, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case h.ch <- c:
		return true
	case <-h.done:
	case <-stop:
	case <-t.C:
	}
	c.Close()
	return false
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr {
	if h.addr == nil {
		return &net.TCPAddr{}
	}
	return h.addr
}
