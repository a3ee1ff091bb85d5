package broker

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/policy"
)

// errRefused ends a refused CONNECT: mochi closes the connection without writing anything more.
var errRefused = errors.New("broker: connection refused")

// Connect attributes. AWS: mqtt.html#connect-attribute, connect-policy
const (
	attrPersistent = "PersistentConnect"
	attrLastWill   = "LastWill"
)

// refusal describes why a CONNECT was refused.
type refusal struct {
	code      packets.Code // the MQTT 5 CONNACK reason; MQTT 3.1.1 clients get no CONNACK
	logReason string
	details   string
	// connectFailed publishes $aws/events/presence/connect_failed: AWS documents it for authorization
	// failures (iot:Connect, the will), i.e. for principals it knows. AWS: life-cycle-events
	connectFailed bool
	action        string
	decision      policy.Decision
}

// onConnect decides a CONNECT as AWS does, in AWS's order: the certificate (identity), the client ID,
// the connect rate, iot:Connect, the will. Refusals follow research §1.3: MQTT 3.1.1 clients see the
// socket close without CONNACK, MQTT 5 clients get CONNACK with a reason code.
func (s *Server) onConnect(cl *mqtt.Client, pk packets.Packet) error {
	c := connOf(cl)
	if c == nil {
		return errRefused // not one of ours: cannot happen, the broker owns its listener
	}
	c.cl = cl
	c.version = cl.Properties.ProtocolVersion
	c.maxPacket = s.lim.PacketBytes
	c.ready.Store(true)
	c.clientID = cl.ID // mochi has assigned an ID when the client sent none [MQTT-3.1.3-6]
	c.lifecycle = !strings.ContainsAny(c.clientID, "+#")
	state := c.tls.ConnectionState()
	c.sni = state.ServerName
	now := s.now()

	if r, ok := s.checkIdentity(c, state.PeerCertificates, now); !ok {
		return s.refuse(c, r)
	}
	s.indexCert(c)
	// AWS: GR:iot-core (client ID size; '$' is reserved for client IDs AWS generates).
	if id := pk.Connect.ClientIdentifier; len(id) > s.lim.ClientIDBytes || strings.HasPrefix(id, "$") {
		return s.refuse(c, refusal{code: packets.ErrClientIdentifierNotValid, logReason: reasonInvalidClientID,
			details: "The client ID is longer than 128 bytes or starts with '$'"})
	}
	if !s.allowConnectRate(c.clientID, now) {
		// AWS: GR:iot-core — "Connect requests per second per client ID: 1" (CONNACK 0x97 Quota exceeded).
		return s.refuse(c, refusal{code: packets.ErrQuotaExceeded, logReason: reasonThrottled,
			details: "Too many connect requests for this client ID"})
	}

	// mochi may have been told Clean Start (see onConnectRead); the session outlives the connection as
	// the client asked. AWS: mqtt.html#mqtt-persistent-sessions
	cl.Properties.Clean = c.cleanStart
	persistent := !c.cleanStart
	if c.version == 5 {
		persistent = pk.Properties.SessionExpiryInterval > 0
		s.capSessionExpiry(c)
	}
	c.persistent = persistent
	if persistent {
		c.connectAttrs = append(c.connectAttrs, attrPersistent)
	}
	if pk.Connect.WillFlag {
		c.connectAttrs = append(c.connectAttrs, attrLastWill)
	}

	if d := s.canConnect(c); d.Effect != policy.Allowed {
		return s.refuse(c, refusal{code: packets.ErrNotAuthorized, logReason: reasonAuthorization,
			details: "Authorization Failure", connectFailed: true, action: actConnect, decision: d})
	}
	if pk.Connect.WillFlag {
		if r, ok := s.checkWill(c, pk); !ok {
			return s.refuse(c, r)
		}
		// The broker publishes the will itself (see sendWill); mochi must never.
		atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
	}

	// AWS: GR:iot-core — keep-alive 0 or over 1200 s is 1200 s, under 30 s is 30 s; MQTT 5 clients are
	// told in CONNACK (Server Keep Alive). mochi disconnects after 1.5 × this.
	if ka := effectiveKeepAlive(pk.Connect.Keepalive, s.quirks.keepAliveFloor()); ka != pk.Connect.Keepalive {
		cl.State.Keepalive = ka
		cl.State.ServerKeepalive = true
	}
	c.authorized = true
	return nil
}

// onConnectRead sees CONNECT before mochi parses it into the client. mochi resumes whatever session it
// still holds for the client ID; the broker tells it Clean Start instead, so that it replaces the
// session, when AWS would not resume it:
//   - a session of the other MQTT version (an MQTT 3 session as MQTT 5 or the reverse; checklist 47);
//   - a session that ends with its connection (clean session, MQTT 5 Session Expiry Interval 0) whose
//     connection has already stopped, although mochi has not yet finished with it.
//
// OnConnect then restores the client's own flag for the new session's persistence.
// AWS: mqtt.html#mqtt-persistent-sessions
func (s *Server) onConnectRead(c *conn, pk packets.Packet) (packets.Packet, error) {
	if err := s.screenConnect(c, pk); err != nil {
		return pk, err
	}
	c.cleanStart = pk.Connect.Clean
	if pk.Connect.Clean || pk.Connect.ClientIdentifier == "" {
		return pk, nil
	}
	old, ok := s.mq.Clients.Get(pk.Connect.ClientIdentifier)
	if !ok {
		return pk, nil
	}
	c.crossVersion = versionClass(old.Properties.ProtocolVersion) != versionClass(pk.ProtocolVersion)
	stopped := old.Closed()
	if oc := connOf(old); oc != nil && oc.stopped.Load() {
		stopped = true // mochi closed the socket (the peer may have seen it) but has not marked the client yet
	}
	ending := stopped && ((old.Properties.ProtocolVersion == 5 && old.Properties.Props.SessionExpiryInterval == 0) ||
		(old.Properties.ProtocolVersion < 5 && old.Properties.Clean))
	if c.crossVersion || ending {
		pk.Connect.Clean = true
	}
	return pk, nil
}

// errMalformedConnect ends a connection whose CONNECT screenConnect refused; mochi closes it without
// a CONNACK of its own (only ErrRejectPacket stops mochi's OnPacketRead).
var errMalformedConnect = fmt.Errorf("broker: malformed CONNECT: %w", packets.ErrRejectPacket)

// screenConnect refuses, before mochi validates it, a CONNECT that mochi would answer with an MQTT 5
// reason code where MQTT 3.1.1 defines none, or that comes with a certificate that is no identity:
//   - an unregistered, inactive or expired certificate never gets a CONNACK for a malformed CONNECT
//     (research §4.2, checklist 4); a well-formed one is refused in OnConnect, AWS's way;
//   - any protocol level but 5 is answered as MQTT 3.1.1 does: an unsupported level gets CONNACK 0x01
//     [MQTT-3.1.2-2], a client ID of zero bytes without Clean Session 0x02 [MQTT-3.1.3-8], and any
//     other fault (protocol name [MQTT-3.1.2-1], reserved flag [MQTT-3.1.2-3], inconsistent flags) a
//     close without CONNACK [MQTT-4.8.0-1].
//
// MQTT 5 CONNECTs from a known certificate stay with mochi, whose CONNACK reason codes are MQTT 5's.
func (s *Server) screenConnect(c *conn, pk packets.Packet) error {
	code := pk.ConnectValidate()
	v311 := pk.ProtocolVersion != 5
	if v311 && code == packets.CodeSuccess && !pk.Connect.Clean && pk.Connect.ClientIdentifier == "" {
		code = packets.ErrClientIdentifierNotValid
	}
	if v311 && code == packets.CodeSuccess && pk.ProtocolVersion != 4 {
		code = packets.ErrUnsupportedProtocolVersion // MQTT 3.1 (MQIsdp): AWS: mqtt.html — 3.1.1 and 5 only
	}
	if code == packets.CodeSuccess {
		return nil
	}
	if _, ok := s.checkIdentity(c, c.tls.ConnectionState().PeerCertificates, s.now()); !ok {
		s.log.Debug("broker: malformed CONNECT from an unknown certificate", "remote", c.remoteIP, "cert", c.certID, "err", code.Reason)
		return errMalformedConnect
	}
	if !v311 {
		return nil
	}
	var rc byte
	switch code {
	case packets.ErrProtocolViolationProtocolVersion, packets.ErrUnsupportedProtocolVersion:
		rc = 0x01 // unacceptable protocol level
	case packets.ErrClientIdentifierNotValid:
		rc = 0x02 // identifier rejected
	}
	if rc != 0 {
		// The CONNACK of MQTT 3.1.1 (fixed header, acknowledge flags, return code), written straight to
		// the connection: mochi's client has no protocol version yet to encode one with.
		_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Conn.Write([]byte{byte(packets.Connack) << 4, 2, 0, rc})
	}
	s.log.Debug("broker: malformed CONNECT", "remote", c.remoteIP, "level", pk.ProtocolVersion, "err", code.Reason, "connack", rc)
	return errMalformedConnect
}

// capSessionExpiry lowers an MQTT 5 Session Expiry Interval above the account's expiry period to it;
// CONNACK then carries the adjusted value (see OnPacketEncode). The broker expires sessions itself
// (sweepSessions), so mochi is told the interval is absent: its own expiry then never fires.
// AWS: mqtt.html#mqtt5-properties — "AWS IoT Core will return the adjusted value in the CONNACK"
func (s *Server) capSessionExpiry(c *conn) {
	p := &c.cl.Properties.Props
	if max := uint32(s.lim.SessionExpiry / time.Second); p.SessionExpiryInterval > max {
		p.SessionExpiryInterval = max
		c.seiAdjusted = true
	}
	p.SessionExpiryIntervalFlag = false
}

// checkIdentity: the leaf certificate's ID must be registered and ACTIVE, and the certificate within
// its validity period. The TLS handshake already proved the client holds its key.
// AWS: x509-client-certs, API_UpdateCertificate ("Only ACTIVE certificates can authenticate devices")
func (s *Server) checkIdentity(c *conn, chain []*x509.Certificate, now time.Time) (refusal, bool) {
	r := refusal{code: packets.ErrNotAuthorized, logReason: reasonAuthentication}
	if len(chain) == 0 {
		r.details = "No client certificate"
		return r, false
	}
	leaf := chain[0]
	c.certID = certs.CertificateID(leaf.Raw)
	c.leaf = leaf
	reg, ok := s.dir.Certificate(c.certID)
	switch {
	case !ok:
		r.details = "The certificate is not registered"
	case reg.Status != StatusActive:
		r.details = fmt.Sprintf("The certificate is %s", reg.Status)
	case now.Before(leaf.NotBefore) || now.After(leaf.NotAfter):
		r.details = "The certificate is expired or not yet valid"
	default:
		c.caID = reg.CAID
		if status := s.caStatus(reg.CAID); status != StatusActive {
			r.details = "The CA certificate is " + status
			return r, false
		}
		return refusal{}, true
	}
	return r, false
}

// caStatus is the status of a device certificate's CA: ACTIVE when there is none, or when the
// Directory does not know CAs.
func (s *Server) caStatus(caID string) string {
	cd, ok := s.dir.(CADirectory)
	if caID == "" || !ok {
		return StatusActive
	}
	ca, ok := cd.CACertificate(caID)
	if !ok {
		return "not registered"
	}
	return ca.Status
}

// checkWill: QoS 0 or 1, a valid topic the client may publish to (iot:Publish, and iot:RetainPublish
// for a retained will). AWS: life-cycle-events#connect-authfailure-event, mqtt.html#mqtt-lwt
func (s *Server) checkWill(c *conn, pk packets.Packet) (refusal, bool) {
	w := &will{
		topic:   pk.Connect.WillTopic,
		payload: pk.Connect.WillPayload,
		qos:     pk.Connect.WillQos,
		retain:  pk.Connect.WillRetain,
		props:   pk.Connect.WillProperties.Copy(true),
	}
	if w.qos > 1 {
		if !s.quirks.DowngradeQoS2 {
			// Observed: a QoS 2 will makes AWS close the connection; MQTT 5 CONNACK 0x9B.
			return refusal{code: packets.ErrQosNotSupported, logReason: reasonQoSNotSupported,
				details: "QoS 2 is not supported"}, false
		}
		w.qos = 1
	}
	if p := s.checkTopicName(w.topic); p != topicOK {
		return refusal{code: packets.ErrTopicNameInvalid, logReason: reasonInvalidTopic,
			details: "Invalid will topic: " + string(p)}, false
	}
	deny := refusal{code: packets.ErrNotAuthorized, logReason: reasonAuthorization,
		details: "Authorization Failure", connectFailed: true, action: actPublish}
	if !clientMayPublish(w.topic) || (w.retain && strings.HasPrefix(w.topic, "$")) {
		return deny, false
	}
	if d := s.canPublish(c, w.topic); d.Effect != policy.Allowed {
		deny.decision = d
		return deny, false
	}
	if w.retain {
		if d := s.canRetain(c, w.topic); d.Effect != policy.Allowed {
			deny.action, deny.decision = actRetainPublish, d
			return deny, false
		}
	}
	c.will = w
	return refusal{}, true
}

// refuse answers a refused CONNECT: CONNACK with r.code for MQTT 5, nothing for MQTT 3.1.1; then
// mochi closes the connection. It logs, tells observers and publishes connect_failed when due.
func (s *Server) refuse(c *conn, r refusal) error {
	now := s.now()
	if r.connectFailed && c.lifecycle {
		s.publishConnectFailed(c, now)
	}
	s.logConnect(c, now, r)
	if s.observed() {
		s.emit(Event{Kind: EventConnectFailed, Time: now, ClientID: c.clientID, CertID: c.certID,
			Action: r.action, Decision: r.decision, Reason: r.logReason})
	}
	if c.version == 5 {
		_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		_ = s.mq.SendConnack(c.cl, r.code, false, nil)
	}
	return errRefused
}

func (s *Server) logConnect(c *conn, now time.Time, r refusal) {
	lvl, status := awslog.Info, awslog.StatusSuccess
	if r.logReason != "" {
		lvl, status = awslog.Error, awslog.StatusFailure
	}
	if !s.wantLog(c, lvl) {
		return
	}
	e := s.entry(c, now, lvl, status, awslog.EventConnect)
	e.Reason, e.Details = r.logReason, r.details
	s.writeLog(c, &e)
}

// onSessionEstablish runs after OnConnect accepted the client and before mochi takes over an existing
// session with the same client ID: that connection is closed as a duplicate, with DISCONNECT 0x8E for
// MQTT 5; its will is published and its lifecycle event says DUPLICATE_CLIENTID. The broker closes it
// itself so that the DISCONNECT is not stuck behind queued messages and MQTT 3.1.1 clients get no
// DISCONNECT (mochi would send one). AWS: mqtt.html#mqtt-differences, mqtt.html#mqtt5-reason-codes
func (s *Server) onSessionEstablish(c *conn, pk packets.Packet) {
	s.locks.lock(c, c.clientID) // released in onEstablished, or when the connection ends
	if old, ok := s.mq.Clients.Get(c.clientID); ok && old != c.cl && !old.Closed() {
		if oc := connOf(old); oc != nil {
			s.kill(oc, reasonDuplicateClientID, packets.ErrSessionTakenOver)
		}
	}
	s.establish(c, pk)
	s.beginSession(c, pk.Connect.Clean)
}

// onEstablished runs once CONNACK 0 is sent.
func (s *Server) onEstablished(c *conn) {
	s.attach(c)
	s.locks.unlock(c)
	now := s.now()
	c.established.Store(true)
	s.fixSubject(c)
	if c.lifecycle {
		s.publishConnected(c, now)
	}
	s.logConnect(c, now, refusal{})
	if s.observed() {
		s.emit(Event{Kind: EventConnect, Time: now, ClientID: c.clientID, CertID: c.certID})
	}
}

// onDisconnect runs when an established connection ends, whatever the cause. expire says that mochi
// ends the session with it (clean session, or MQTT 5 Session Expiry Interval 0).
func (s *Server) onDisconnect(c *conn, err error, expire bool) {
	now := s.now()
	reason := s.disconnectReason(c, err)
	c.finish()
	// Held until the connection's goroutine has returned: mochi deletes the client from its map after
	// this hook, unless a new connection has taken the session over (see idLocks).
	s.locks.lock(c, c.clientID)
	if ss := c.sess.Load(); ss != nil {
		s.detach(ss, c)
		if (expire && !c.cl.IsTakenOver()) || c.cleanOnEnd.Load() {
			s.discard(ss)
		}
	}
	if c.cleanOnEnd.Load() {
		// DeleteConnection cleanSession=true: the session goes with the connection.
		s.mq.UnsubscribeClient(c.cl)
		c.cl.ClearInflights()
		if cur, ok := s.mq.Clients.Get(c.clientID); ok && cur == c.cl {
			s.mq.Clients.Delete(c.clientID)
		}
	}
	// AWS: life-cycle-events — the will is published for every reason but a client's DISCONNECT
	// (unless it asked for it with reason 0x04), and not after DeleteConnection preventWillMessage.
	sendWill := reason != reasonClientInitiated || c.willOnDisconnect
	if reason == reasonAPIInitiated && c.preventWill.Load() {
		sendWill = false
	}
	if sendWill {
		s.sendWill(c)
	}
	s.endSession(c, now)
	if c.lifecycle {
		s.publishDisconnected(c, now, reason)
	}
	s.logDisconnect(c, now, reason)
	if s.observed() {
		s.emit(Event{Kind: EventDisconnect, Time: now, ClientID: c.clientID, CertID: c.certID, Reason: reason})
	}
}

// disconnectReason names why a connection ended, in AWS's terms. AWS: life-cycle-events
func (s *Server) disconnectReason(c *conn, err error) string {
	if r := c.reasonSet(); r != "" {
		return r
	}
	var code packets.Code
	isCode := errors.As(err, &code)
	switch {
	case c.clientDisconnect && (err == nil || !isCode || code.Code < packets.ErrUnspecifiedError.Code):
		return reasonClientInitiated
	case isCode && code.Code >= packets.ErrUnspecifiedError.Code:
		return reasonClientError // protocol errors: a second CONNECT, a malformed packet, …
	case s.closing.Load():
		return reasonServerInitiated
	case err == nil:
		if cause := c.cl.StopCause(); cause != nil && errors.As(cause, &code) && code.Code >= packets.ErrUnspecifiedError.Code {
			return reasonClientError
		}
		return reasonConnectionLost
	}
	return reasonConnectionLost
}

func (s *Server) logDisconnect(c *conn, now time.Time, reason string) {
	lvl, status := awslog.Info, awslog.StatusSuccess
	if reason != reasonClientInitiated {
		lvl, status = awslog.Error, awslog.StatusFailure
	}
	if !s.wantLog(c, lvl) {
		return
	}
	e := s.entry(c, now, lvl, status, awslog.EventDisconnect)
	e.DisconnectReason = reason
	if status == awslog.StatusFailure {
		e.Reason, e.Details = reason, disconnectDetails(reason)
		if reason == reasonDuplicateClientID {
			e.Reason = reasonDuplicateClientLog
		}
	}
	s.writeLog(c, &e)
}

func disconnectDetails(reason string) string {
	switch reason {
	case reasonDuplicateClientID:
		return "A new connection was established with the same client ID" // AWS: security-best-practices
	case reasonKeepAliveTimeout:
		return "No packet was received for 1.5 times the keep-alive time"
	case reasonAuthError:
		return "The client is no longer authorized"
	case reasonAPIInitiated:
		return "The connection was deleted through the API"
	case reasonClientError:
		return "The client did something wrong"
	case reasonServerInitiated:
		return "The server is shutting down"
	case reasonThrottled:
		return "The client exceeded a limit"
	}
	return "The connection was lost"
}

// sendWill publishes the connection's will, once. The broker, not mochi, publishes wills, so that
// every reason AWS lists gets one whatever mochi's read loop was doing when the connection ended.
// Will Delay Interval is ignored (AWS's supported-property table does not list it).
func (s *Server) sendWill(c *conn) {
	w := c.will
	if w == nil || !c.willDone.CompareAndSwap(false, true) {
		return
	}
	s.inject(w.topic, w.payload, w.qos, w.retain, w.props)
}
