package broker

import (
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/emulator/policy"
)

// onPacketRead sees every packet of an accepted connection before mochi processes it. It handles what
// mochi would otherwise answer differently from AWS:
//
//   - PUBLISH QoS 2 (mochi downgrades it), a payload over the quota, a topic with wildcards (mochi
//     answers MQTT 5 with DISCONNECT 0x82) and $SYS topics (mochi drops them silently);
//   - SUBSCRIBE with QoS 2 (mochi grants QoS 1 or 2) or with a subscription identifier;
//   - AUTH, which AWS does not support;
//   - DISCONNECT, whose reason code decides whether the will is published.
//
// Returning ErrRejectPacket makes mochi end the connection.
func (s *Server) onPacketRead(c *conn, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos > 1 {
			if !s.quirks.DowngradeQoS2 {
				// AWS: mqtt.html#mqtt-differences — no PUBACK for QoS 2; observed: the connection closes.
				s.logPublish(c, awslog.EventPublishIn, pk.TopicName, pk.FixedHeader.Retain, reasonQoSNotSupported)
				s.kill(c, reasonClientError, packets.ErrQosNotSupported)
				return pk, packets.ErrRejectPacket
			}
			pk.FixedHeader.Qos = 1
		}
		if s.lim.PayloadBytes > 0 && len(pk.Payload) > s.lim.PayloadBytes {
			// AWS: GR:iot-core — "rejects publish … requests larger than this size"; lifecycle CLIENT_ERROR.
			s.logPublish(c, awslog.EventPublishIn, pk.TopicName, pk.FixedHeader.Retain, reasonPayloadTooLarge)
			s.kill(c, reasonClientError, packets.ErrPacketTooLarge)
			return pk, packets.ErrRejectPacket
		}
		if strings.ContainsAny(pk.TopicName, "+#") {
			s.logPublish(c, awslog.EventPublishIn, pk.TopicName, pk.FixedHeader.Retain, reasonInvalidTopic)
			s.kill(c, reasonClientError, packets.ErrTopicNameInvalid)
			return pk, packets.ErrRejectPacket
		}
		if len(pk.TopicName) >= 4 && strings.EqualFold(pk.TopicName[:4], "$SYS") {
			// Not an AWS topic: refused like any '$' topic a client may not publish to. mochi drops
			// $SYS publishes before OnPublish, so the answer is given here.
			return pk, s.refusePublishHere(c, pk)
		}
	case packets.Subscribe:
		if len(pk.Properties.SubscriptionIdentifier) > 0 {
			// AWS: mqtt.html#mqtt5-properties — Subscription Identifier Available = 0; DISCONNECT 0xA1.
			s.kill(c, reasonClientError, packets.ErrSubscriptionIdentifiersNotSupported)
			return pk, packets.ErrRejectPacket
		}
		for i := range pk.Filters {
			if pk.Filters[i].Identifier > 0 {
				s.kill(c, reasonClientError, packets.ErrSubscriptionIdentifiersNotSupported)
				return pk, packets.ErrRejectPacket
			}
			if pk.Filters[i].Qos > 1 {
				if !s.quirks.DowngradeQoS2 {
					// AWS: mqtt.html#mqtt-differences — no SUBACK for QoS 2; the connection closes.
					s.kill(c, reasonClientError, packets.ErrQosNotSupported)
					return pk, packets.ErrRejectPacket
				}
				pk.Filters[i].Qos = 1
			}
		}
	case packets.Auth:
		// AWS: mqtt.html#mqtt-differences — AUTH (enhanced authentication) is not supported.
		s.kill(c, reasonClientError, packets.ErrProtocolViolation)
		return pk, packets.ErrRejectPacket
	case packets.Puback:
		// The broker, not mochi, keeps what is in flight to the client (see outbox.go); mochi finds
		// nothing under this packet ID and ignores it.
		if ss := c.sess.Load(); ss != nil {
			s.ack(ss, pk.PacketID)
		}
	case packets.Disconnect:
		c.clientDisconnect = true
		c.willOnDisconnect = pk.ReasonCode == packets.CodeDisconnectWillMessage.Code
		if p := &pk.Properties; c.version == 5 && p.SessionExpiryIntervalFlag && p.SessionExpiryInterval > 0 &&
			c.cl.Properties.Props.SessionExpiryInterval > 0 {
			// A new, non-zero Session Expiry Interval is the broker's to keep (capped as at CONNECT):
			// mochi would write it into the client after the connection has stopped, racing its own
			// expiry loop, and would then expire the session itself. Zero (the session ends now) and
			// zero to non-zero (a protocol error [MQTT-3.14.2-2]) stay mochi's to process.
			c.disconnectSEI = min(p.SessionExpiryInterval, uint32(s.lim.SessionExpiry/time.Second))
			p.SessionExpiryIntervalFlag = false
		}
	}
	return pk, nil
}

// refusePublishHere answers, from OnPacketRead, a PUBLISH that mochi will then drop silently:
// MQTT 3.1.1 connections are closed, MQTT 5 QoS 1 gets PUBACK 0x87.
func (s *Server) refusePublishHere(c *conn, pk packets.Packet) error {
	s.logPublish(c, awslog.EventPublishIn, pk.TopicName, pk.FixedHeader.Retain, reasonAuthorization)
	if c.version < 5 {
		s.kill(c, reasonAuthError, packets.ErrNotAuthorized)
		return packets.ErrRejectPacket
	}
	if pk.FixedHeader.Qos > 0 {
		_ = c.cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Puback},
			PacketID:    pk.PacketID,
			ReasonCode:  packets.ErrNotAuthorized.Code,
		})
	}
	return nil
}

// onPublish decides a client's PUBLISH once mochi has resolved its topic alias: topic limits, reserved
// topics, the publish rate, then iot:Publish (and iot:RetainPublish with RETAIN). An accepted message
// is routed by the broker (route.go) and acknowledged once durable (ackPublish).
//
// Refusals as AWS answers them (research §1.3): MQTT 3.1.1 connections are closed (QoS 0 and 1);
// MQTT 5 QoS 1 gets PUBACK with a reason code and the connection stays; MQTT 5 QoS 0 is dropped.
// Publishes over the rate are discarded (MQTT 5 QoS 1: PUBACK 0x97) without closing anything.
func (s *Server) onPublish(c *conn, pk packets.Packet) (packets.Packet, error) {
	topic, retain := pk.TopicName, pk.FixedHeader.Retain
	if p := s.checkTopicName(topic); p != topicOK {
		// AWS: GR:iot-core topic size and slashes; MQTT 5 reason 0x90 Topic Name invalid.
		return pk, s.refusePublish(c, pk, packets.ErrTopicNameInvalid, reasonInvalidTopic, reasonClientError, "", policy.Decision{})
	}
	if !clientMayPublish(topic) || (retain && strings.HasPrefix(topic, "$")) {
		// AWS: reserved-topics — no new '$' topics, no events, and "You can't publish to a reserved
		// topic with the RETAIN flag set."
		return pk, s.refusePublish(c, pk, packets.ErrNotAuthorized, reasonAuthorization, reasonAuthError, "", policy.Decision{})
	}
	if !c.pubRate.take(s.lim.PublishesPerSecond, s.now()) {
		// AWS: GR:iot-core — "Publish requests exceeding that limit will be discarded."
		s.logPublish(c, awslog.EventPublishIn, topic, retain, reasonThrottled)
		if s.observed() {
			s.emit(Event{Kind: EventDeny, ClientID: c.clientID, CertID: c.certID, Topic: topic, QoS: pk.FixedHeader.Qos, Retain: retain, Reason: reasonThrottled})
		}
		if c.version == 5 && pk.FixedHeader.Qos > 0 {
			return pk, packets.ErrQuotaExceeded
		}
		return pk, packets.ErrRejectPacket
	}
	d := s.canPublish(c, topic)
	action := actPublish
	if d.Effect == policy.Allowed && retain {
		d, action = s.canRetain(c, topic), actRetainPublish
	}
	if d.Effect != policy.Allowed {
		return pk, s.refusePublish(c, pk, packets.ErrNotAuthorized, reasonAuthorization, reasonAuthError, action, d)
	}
	s.logPublish(c, awslog.EventPublishIn, topic, retain, "")
	if s.observed() {
		s.emit(Event{Kind: EventPublish, ClientID: c.clientID, CertID: c.certID, Topic: topic,
			QoS: pk.FixedHeader.Qos, Retain: retain, Payload: pk.Payload, Action: action, Decision: d})
	}
	var b *batch
	var m *message
	if !strings.HasPrefix(topic, rulesPrefix) {
		// Basic Ingest ($aws/rules/…) goes to the rule only, never to subscribers. AWS: iot-basic-ingest
		m = s.newMessage(topic, pk.Payload, pk.FixedHeader.Qos, pk.Properties, c.clientID, c.version == 5)
		if pk.FixedHeader.Qos > 0 {
			m.publisher = c
		}
		b = s.route(m, retain)
	}
	if pk.FixedHeader.Qos > 0 {
		s.ackPublish(c, pk.PacketID, b, m)
	}
	// The broker has routed and acknowledged the message: mochi does nothing more with it.
	return pk, packets.ErrRejectPacket
}

// refusePublish applies a refusal: MQTT 3.1.1 → close (lifecycle lifecycleReason); MQTT 5 → the
// reason code in PUBACK for QoS 1, a silent drop for QoS 0.
func (s *Server) refusePublish(c *conn, pk packets.Packet, code packets.Code, logReason, lifecycleReason, action string, d policy.Decision) error {
	s.logPublish(c, awslog.EventPublishIn, pk.TopicName, pk.FixedHeader.Retain, logReason)
	if s.observed() {
		s.emit(Event{Kind: EventDeny, ClientID: c.clientID, CertID: c.certID, Topic: pk.TopicName,
			QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain, Action: action, Decision: d, Reason: logReason})
	}
	if c.version < 5 {
		s.kill(c, lifecycleReason, code)
		return packets.ErrRejectPacket
	}
	if pk.FixedHeader.Qos > 0 {
		return code
	}
	return packets.ErrRejectPacket
}

// logPublish writes a Publish-In or Publish-Out entry; failure is the log reason, "" for success.
func (s *Server) logPublish(c *conn, eventType, topic string, retain bool, failure string) {
	lvl, status := awslog.Info, awslog.StatusSuccess
	if failure != "" {
		lvl, status = awslog.Error, awslog.StatusFailure
	}
	if !s.wantLog(c, lvl) {
		return
	}
	e := s.entry(c, s.now(), lvl, status, eventType)
	e.TopicName = topic
	e.Retain = retain && eventType == awslog.EventPublishIn
	if failure != "" {
		e.Reason, e.Details = failure, denialDetails(failure)
	}
	s.writeLog(c, &e)
}
