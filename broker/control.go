package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// CertificateChanged tells the broker that a certificate's status may have changed. Live connections
// that authenticated with it are closed when it is no longer ACTIVE (or no longer registered), after
// Quirks.CertDisconnectDelay: lifecycle reason AUTH_ERROR, MQTT 5 DISCONNECT 0x87, will published.
// AWS: API_UpdateCertificate ("disconnects all devices that used that certificate")
func (s *Server) CertificateChanged(certID string) {
	if cert, ok := s.dir.Certificate(certID); ok && cert.Status == StatusActive {
		return
	}
	s.connsMu.Lock()
	victims := make([]*conn, 0, len(s.byCert[certID]))
	for c := range s.byCert[certID] {
		victims = append(victims, c)
	}
	s.connsMu.Unlock()
	if len(victims) == 0 {
		return
	}
	disconnect := func() {
		if cert, ok := s.dir.Certificate(certID); ok && cert.Status == StatusActive {
			return // reactivated in the meantime
		}
		for _, c := range victims {
			s.kill(c, reasonAuthError, packets.ErrNotAuthorized)
		}
	}
	s.later(s.quirks.CertDisconnectDelay, disconnect)
}

// CACertificateChanged tells the broker that a CA certificate's status may have changed: when it is
// no longer ACTIVE (or no longer registered), live connections whose certificate it signed are closed
// as in CertificateChanged. Only meaningful with a CADirectory.
func (s *Server) CACertificateChanged(caID string) {
	if caID == "" || s.caStatus(caID) == StatusActive {
		return
	}
	s.connsMu.Lock()
	var victims []*conn
	for _, set := range s.byCert {
		for c := range set {
			if c.caID == caID {
				victims = append(victims, c)
			}
		}
	}
	s.connsMu.Unlock()
	disconnect := func() {
		if s.caStatus(caID) == StatusActive {
			return
		}
		for _, c := range victims {
			s.kill(c, reasonAuthError, packets.ErrNotAuthorized)
		}
	}
	if len(victims) > 0 {
		s.later(s.quirks.CertDisconnectDelay, disconnect)
	}
}

// later runs f after d (at once when d is 0) on a goroutine Close waits for; Close cancels it.
func (s *Server) later(d time.Duration, f func()) {
	if d <= 0 {
		f()
		return
	}
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closing.Load() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-s.ctx.Done():
		}
	}()
}

// PoliciesChanged tells the broker that policies, policy versions, attachments, things or thing
// groups changed: every connection resolves its principal again at its next operation (after
// Quirks.PolicyCacheTTL) and forgets its cached decisions. Nobody is disconnected.
// AWS: iot-policies (changes apply to connected clients; detaching does not disconnect)
func (s *Server) PoliciesChanged() {
	s.policyGen.Add(1)
}

// Disconnect ends the connection of clientID as DeleteConnection does: MQTT 5 clients get DISCONNECT
// 0x98 (administrative action), the lifecycle reason is API_INITIATED_DISCONNECT, the will is published
// unless preventWill. With cleanSession the client's session (subscriptions, queued messages) goes too.
// It reports whether there was a connection or a persistent session to act on (false → the API answers
// ResourceNotFoundException). AWS: mqtt.html#mqtt-client-disconnect, API_iotdata_DeleteConnection
func (s *Server) Disconnect(clientID string, cleanSession, preventWill bool) bool {
	cl, ok := s.mq.Clients.Get(clientID)
	if !ok {
		return false
	}
	if c := connOf(cl); c != nil && !cl.Closed() {
		c.preventWill.Store(preventWill)
		c.cleanOnEnd.Store(cleanSession)
		s.kill(c, reasonAPIInitiated, packets.ErrAdministrativeAction)
		return true
	}
	if cleanSession {
		owner := new(int)
		s.locks.lock(owner, clientID)
		defer s.locks.unlock(owner)
		if cur, ok := s.mq.Clients.Get(clientID); ok && cur.Closed() {
			s.dropSession(clientID)
		}
	}
	return true
}

// Connected reports whether a client with that ID is connected now.
func (s *Server) Connected(clientID string) bool {
	cl, ok := s.mq.Clients.Get(clientID)
	return ok && !cl.Closed() && connOf(cl) != nil
}

// PublishOption sets an MQTT 5 property of a server-side publish.
type PublishOption func(*packets.Properties)

// WithUserProperty adds a user property (order is kept).
func WithUserProperty(key, value string) PublishOption {
	return func(p *packets.Properties) { p.User = append(p.User, packets.UserProperty{Key: key, Val: value}) }
}

// WithContentType sets the Content Type.
func WithContentType(ct string) PublishOption {
	return func(p *packets.Properties) { p.ContentType = ct }
}

// WithResponseTopic sets the Response Topic.
func WithResponseTopic(t string) PublishOption {
	return func(p *packets.Properties) { p.ResponseTopic = t }
}

// WithCorrelationData sets the Correlation Data.
func WithCorrelationData(b []byte) PublishOption {
	return func(p *packets.Properties) { p.CorrelationData = b }
}

// WithPayloadFormatIndicator marks the payload as UTF-8 text (true) or bytes (false).
func WithPayloadFormatIndicator(utf8 bool) PublishOption {
	return func(p *packets.Properties) {
		p.PayloadFormatFlag = true
		p.PayloadFormat = 0
		if utf8 {
			p.PayloadFormat = 1
		}
	}
}

// WithMessageExpiry sets the Message Expiry Interval in seconds.
func WithMessageExpiry(seconds uint32) PublishOption {
	return func(p *packets.Properties) { p.MessageExpiryInterval = seconds }
}

// ErrNotStarted is returned by Publish before Start or after Close.
var ErrNotStarted = errors.New("broker: not running")

// ErrNotStored is Publish's error when the message could not be made durable (a full disk, an I/O
// error): a server failure, not a bad request; the error wraps the store's.
var ErrNotStored = errors.New("broker: the message could not be stored")

// Publish sends a message as the service does (iot-data Publish, rules' republish): QoS 0 or 1, any
// topic the service may use, '$aws/…' included. No publish policy applies, but every delivery still
// checks the subscriber's iot:Receive. A retained empty payload deletes the retained message.
func (s *Server) Publish(topic string, payload []byte, qos byte, retain bool, opts ...PublishOption) error {
	if !s.started.Load() || s.closing.Load() {
		return ErrNotStarted
	}
	if qos > 1 {
		return fmt.Errorf("broker: QoS %d is not supported; AWS IoT Core supports QoS 0 and 1", qos)
	}
	if p := s.checkTopicName(topic); p != topicOK {
		return fmt.Errorf("broker: topic %q: %s", topic, p)
	}
	if s.lim.PayloadBytes > 0 && len(payload) > s.lim.PayloadBytes {
		return fmt.Errorf("broker: payload of %d bytes is over the %d-byte limit", len(payload), s.lim.PayloadBytes)
	}
	var props packets.Properties
	for _, o := range opts {
		o(&props)
	}
	// Like a device's PUBACK, the answer waits until the message is stored for every persistent
	// session it is queued for (and, retained, as the topic's retained message).
	if b := s.inject(topic, payload, qos, retain, props); b != nil {
		select {
		case <-b.done:
			if b.err != nil {
				return fmt.Errorf("%w: %w", ErrNotStored, b.err)
			}
		case <-s.ctx.Done():
			return ErrNotStarted
		}
	}
	return nil
}
