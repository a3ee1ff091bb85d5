package broker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// clientRecord is what the broker remembers per client ID across connections.
type clientRecord struct {
	lastConnect time.Time // last CONNECT attempt that passed the rate check
	version     int64     // lifecycle versionNumber of the latest connection
	hasVersion  bool
	live        int       // established connections with this client ID (0 or 1, briefly 2 on takeover)
	lastEnd     time.Time // when the last connection ended
	sessionID   string
	persistent  bool // the last session outlives its connection
}

// versionResetAfter: AWS resets versionNumber to 0 once a client stays disconnected about an hour.
// AWS: life-cycle-events#connect-disconnect
const versionResetAfter = time.Hour

// record returns the client's record, creating it; callers hold clientsMu.
func (s *Server) record(id string) *clientRecord {
	r := s.clients[id]
	if r == nil {
		r = &clientRecord{}
		s.clients[id] = r
	}
	return r
}

// allowConnectRate applies "Connect requests per second per client ID" (1, not adjustable).
func (s *Server) allowConnectRate(id string, now time.Time) bool {
	n := s.lim.ConnectsPerSecond
	if n <= 0 {
		return true
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	r := s.record(id)
	if !r.lastConnect.IsZero() && now.Sub(r.lastConnect) < time.Second/time.Duration(n) {
		return false
	}
	r.lastConnect = now
	return true
}

// beginSession gives an accepted connection its lifecycle versionNumber and sessionIdentifier: a
// larger version than the client's previous connection (0 after an hour away), and the previous
// session's identifier when a persistent session is resumed.
func (s *Server) beginSession(c *conn, cleanStart bool) {
	now := s.now()
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	r := s.record(c.clientID)
	switch {
	case !r.hasVersion || (r.live == 0 && !r.lastEnd.IsZero() && now.Sub(r.lastEnd) > versionResetAfter):
		r.version = 0
	default:
		r.version++
	}
	r.hasVersion = true
	if cleanStart || !r.persistent || r.sessionID == "" {
		r.sessionID = newUUID()
	}
	r.persistent = c.persistent
	r.live++
	c.versionNum, c.sessionID = r.version, r.sessionID
}

func (s *Server) endSession(c *conn, now time.Time) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if r := s.clients[c.clientID]; r != nil {
		if r.live > 0 {
			r.live--
		}
		r.lastEnd = now
	}
}

// sweepClients forgets clients that are neither connected nor recently seen.
func (s *Server) sweepClients(now time.Time) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	for id, r := range s.clients {
		if r.live == 0 && now.Sub(r.lastConnect) > time.Second && (r.lastEnd.IsZero() || now.Sub(r.lastEnd) > versionResetAfter) {
			delete(s.clients, id)
		}
	}
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// Lifecycle event documents, fields in AWS's order. thingName is left out: AWS includes it only for
// exclusive thing associations, which the Directory does not report. AWS: life-cycle-events
type presenceEvent struct {
	ClientID                  string `json:"clientId"`
	Timestamp                 int64  `json:"timestamp"`
	EventType                 string `json:"eventType"`
	ConnectFailureReason      string `json:"connectFailureReason,omitempty"`
	SessionIdentifier         string `json:"sessionIdentifier"`
	PrincipalIdentifier       string `json:"principalIdentifier"`
	ClientInitiatedDisconnect *bool  `json:"clientInitiatedDisconnect,omitempty"`
	IPAddress                 string `json:"ipAddress,omitempty"`
	DisconnectReason          string `json:"disconnectReason,omitempty"`
	VersionNumber             *int64 `json:"versionNumber,omitempty"`
}

type subscriptionEvent struct {
	ClientID            string   `json:"clientId"`
	Timestamp           int64    `json:"timestamp"`
	EventType           string   `json:"eventType"`
	SessionIdentifier   string   `json:"sessionIdentifier"`
	PrincipalIdentifier string   `json:"principalIdentifier"`
	Topics              []string `json:"topics"`
}

func (s *Server) publishConnected(c *conn, now time.Time) {
	v := c.versionNum
	s.publishEvent(lifecyclePrefix+"connected/"+c.clientID, presenceEvent{
		ClientID: c.clientID, Timestamp: now.UnixMilli(), EventType: "connected",
		SessionIdentifier: c.sessionID, PrincipalIdentifier: c.certID,
		IPAddress: c.remoteIP, VersionNumber: &v,
	})
}

func (s *Server) publishDisconnected(c *conn, now time.Time, reason string) {
	v := c.versionNum
	ci := reason == reasonClientInitiated
	s.publishEvent(lifecyclePrefix+"disconnected/"+c.clientID, presenceEvent{
		ClientID: c.clientID, Timestamp: now.UnixMilli(), EventType: "disconnected",
		SessionIdentifier: c.sessionID, PrincipalIdentifier: c.certID,
		ClientInitiatedDisconnect: &ci, DisconnectReason: reason, VersionNumber: &v,
	})
}

func (s *Server) publishConnectFailed(c *conn, now time.Time) {
	s.publishEvent(lifecyclePrefix+"connect_failed/"+c.clientID, presenceEvent{
		ClientID: c.clientID, Timestamp: now.UnixMilli(), EventType: "connect_failed",
		ConnectFailureReason: "AUTHORIZATION_FAILED", SessionIdentifier: newUUID(),
		PrincipalIdentifier: c.certID, IPAddress: c.remoteIP,
	})
}

func (s *Server) publishSubscriptions(c *conn, eventType string, filters []string) {
	if len(filters) == 0 || !c.lifecycle {
		return
	}
	s.publishEvent(subscriptionsEvt+eventType+"/"+c.clientID, subscriptionEvent{
		ClientID: c.clientID, Timestamp: s.now().UnixMilli(), EventType: eventType,
		SessionIdentifier: c.sessionID, PrincipalIdentifier: c.certID, Topics: filters,
	})
}

// publishEvent publishes a lifecycle event at QoS 1. Delivery still checks each subscriber's
// iot:Receive.
func (s *Server) publishEvent(topic string, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		s.log.Error("broker: encoding a lifecycle event", "topic", topic, "err", err)
		return
	}
	s.inject(topic, b, 1, false, packets.Properties{})
}

// inject publishes as the broker: no publish checks, but every delivery checks iot:Receive. It
// returns the store batch holding the message's durable records (nil when none). Rules and the
// shadow service see these publishes too (EventServicePublish), as on AWS (rules on $aws/events/…,
// republish to shadow topics).
func (s *Server) inject(topic string, payload []byte, qos byte, retain bool, props packets.Properties) *batch {
	if s.observed() {
		s.emit(Event{Kind: EventServicePublish, Time: s.now(), Topic: topic, QoS: qos, Retain: retain, Payload: payload})
	}
	return s.route(s.newMessage(topic, payload, qos, props, "", true), retain)
}
