package broker

import (
	"strings"
	"unsafe"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/emulator/policy"
)

// subCheck carries OnSubscribe's decisions to the OnACLCheck calls mochi makes, on the same goroutine,
// for the filters of that SUBSCRIBE.
//
// mochi calls OnACLCheck(write=false) for each filter of a SUBSCRIBE and for each delivery, with a
// string only. AWS makes two decisions there: iot:Subscribe on topicfilter/<filter> at SUBSCRIBE, and
// iot:Receive on topic/<topic> at delivery — and a filter with no wildcard reads exactly like a topic.
// Deliveries to the same client run concurrently on other goroutines, so "a SUBSCRIBE is in progress"
// cannot tell the calls apart. String identity can: OnSubscribe gives each filter a fresh copy, mochi
// passes that very string (same data pointer and length) to OnACLCheck, and no delivery can carry a
// pointer into it. So a call whose string is one of the copies is the SUBSCRIBE's; any other, even
// with equal text, is a delivery and gets an iot:Receive decision.
type subCheck struct {
	filters []string
	allowed []bool
}

// lookup finds topic by identity, not by value.
func (sc *subCheck) lookup(topic string) (allowed, found bool) {
	p := unsafe.StringData(topic)
	for i, f := range sc.filters {
		if unsafe.StringData(f) == p && len(f) == len(topic) {
			return sc.allowed[i], true
		}
	}
	return false, false
}

// subDenial explains a refused filter, for logs and observers.
type subDenial struct {
	reason   string
	action   string
	decision policy.Decision
}

// onSubscribe decides every filter of a SUBSCRIBE: filters beyond the per-SUBSCRIBE quota, invalid
// filters, '$' filters that are not AWS's, iot:Subscribe on topicfilter/<filter>, and the
// subscriptions-per-connection quota. Refused filters get SUBACK 0x80 (MQTT 3.1.1) or the MQTT 5
// reason (0x87 not authorized, 0x8F invalid, 0x97 quota); the others are granted.
// AWS: mqtt.html, iot-policy-actions, GR:iot-core (subscriptions per connection, filters per SUBSCRIBE)
func (s *Server) onSubscribe(c *conn, pk packets.Packet) packets.Packet {
	n := len(pk.Filters)
	filters := make(packets.Subscriptions, n)
	copy(filters, pk.Filters)
	pk.Filters = filters
	sc := &subCheck{filters: make([]string, n), allowed: make([]bool, n)}
	codes := make([]byte, n)
	denials := make([]*subDenial, n)
	existing := c.cl.State.Subscriptions.Len()
	added := map[string]bool{}
	anyPolicyDenial := false
	c.subHad = make([]bool, n)
	for i := range filters {
		f := strings.Clone(filters[i].Filter) // a string of our own: see subCheck
		filters[i].Filter = f
		sc.filters[i] = f
		_, c.subHad[i] = c.cl.State.Subscriptions.Get(f)
		var code packets.Code
		var den *subDenial
		switch {
		case s.lim.FiltersPerSubscribe > 0 && i >= s.lim.FiltersPerSubscribe:
			code, den = packets.ErrQuotaExceeded, &subDenial{reason: reasonQuotaExceeded}
		case s.checkTopicFilter(f) != topicOK:
			code, den = packets.ErrTopicFilterInvalid, &subDenial{reason: reasonInvalidTopic}
		case !clientMaySubscribe(f):
			code, den = packets.ErrNotAuthorized, &subDenial{reason: reasonAuthorization}
		default:
			d := s.canSubscribe(c, f)
			if d.Effect != policy.Allowed {
				code, den = packets.ErrNotAuthorized, &subDenial{reason: reasonAuthorization, action: actSubscribe, decision: d}
				anyPolicyDenial = true
				break
			}
			_, had := c.cl.State.Subscriptions.Get(f)
			if !had && !added[f] {
				if lim := s.lim.SubscriptionsPerConnection; lim > 0 && existing+len(added) >= lim {
					code, den = packets.ErrQuotaExceeded, &subDenial{reason: reasonQuotaExceeded, action: actSubscribe, decision: d}
					break
				}
				added[f] = true
			}
			sc.allowed[i] = true
		}
		if den != nil {
			denials[i] = den
			codes[i] = code.Code
			if c.version < 5 {
				codes[i] = packets.ErrUnspecifiedError.Code // MQTT 3.1.1 SUBACK failure 0x80
			}
		}
	}
	c.subCheck.Store(sc)
	c.suback = subackFix{packetID: pk.PacketID, codes: codes}
	c.subDenials = denials
	if anyPolicyDenial && c.version < 5 && s.quirks.DisconnectOnDeniedSubscribe311 {
		s.kill(c, reasonAuthError, packets.ErrNotAuthorized)
	}
	return pk
}

// onSubscribed runs after mochi applied the SUBSCRIBE and before it writes SUBACK. A persistent
// session's new subscriptions are written to the store first, so that a SUBACK means the subscription
// survives a crash; when they cannot be, the filters are refused (SUBACK 0x80) and unsubscribed.
func (s *Server) onSubscribed(c *conn, pk packets.Packet, reasonCodes []byte) {
	c.subCheck.Store(nil)
	denials := c.subDenials
	c.subDenials = nil
	var subs []packets.Subscription
	for i, sub := range pk.Filters {
		if i < len(reasonCodes) && reasonCodes[i] < packets.ErrUnspecifiedError.Code {
			sub.Qos = reasonCodes[i]
			subs = append(subs, sub)
		}
	}
	if b := s.subscribed(c, subs); b != nil && !s.wait(c, b) {
		s.log.Error("broker: a persistent session's subscriptions could not be stored; refused", "client", c.clientID, "err", b.err)
		for i, sub := range pk.Filters {
			if i < len(reasonCodes) && reasonCodes[i] < packets.ErrUnspecifiedError.Code {
				reasonCodes[i] = packets.ErrUnspecifiedError.Code
				if i < len(c.suback.codes) && c.suback.packetID == pk.PacketID {
					c.suback.codes[i] = packets.ErrUnspecifiedError.Code
				}
				if s.mq.Topics.Unsubscribe(sub.Filter, c.clientID) {
					c.cl.State.Subscriptions.Delete(sub.Filter)
				}
				for len(denials) <= i {
					denials = append(denials, nil)
				}
				denials[i] = &subDenial{reason: reasonServerError}
			}
		}
		s.subscribed(c, nil) // the session's '#' patterns
	}
	now := s.now()
	var granted []string
	c.pendingRetained = nil
	for i, sub := range pk.Filters {
		ok := i < len(reasonCodes) && reasonCodes[i] < packets.ErrUnspecifiedError.Code
		var den *subDenial
		if i < len(denials) {
			den = denials[i]
		}
		if ok {
			granted = append(granted, sub.Filter)
			// AWS: mqtt.html#mqtt-retain — only a filter equal to the topic gets the retained message,
			// never a wildcard or shared one. MQTT 5 Retain Handling 1 and 2 are honoured.
			had := i < len(c.subHad) && c.subHad[i]
			if !strings.ContainsAny(sub.Filter, "+#") && !strings.HasPrefix(sub.Filter, sharePrefix) &&
				sub.RetainHandling != 2 && !(sub.RetainHandling == 1 && had) {
				if d, ok := s.retainedFor(sub.Filter, reasonCodes[i]); ok {
					c.pendingRetained = append(c.pendingRetained, d)
				}
			}
		} else if den == nil {
			den = &subDenial{reason: reasonInvalidTopic} // refused by mochi itself (e.g. shared + No Local)
		}
		lvl, status := awslog.Info, awslog.StatusSuccess
		if !ok {
			lvl, status = awslog.Error, awslog.StatusFailure
		}
		if s.wantLog(c, lvl) {
			e := s.entry(c, now, lvl, status, awslog.EventSubscribe)
			e.TopicName = sub.Filter
			if !ok {
				e.Reason, e.Details = den.reason, denialDetails(den.reason)
			}
			s.writeLog(c, &e)
		}
		if s.observed() {
			if ok {
				s.emit(Event{Kind: EventSubscribe, Time: now, ClientID: c.clientID, CertID: c.certID, Topic: sub.Filter, QoS: sub.Qos})
			} else {
				s.emit(Event{Kind: EventDeny, Time: now, ClientID: c.clientID, CertID: c.certID, Topic: sub.Filter,
					Action: den.action, Decision: den.decision, Reason: den.reason})
			}
		}
	}
	if len(granted) > 0 {
		s.publishSubscriptions(c, "subscribed", granted)
	}
}

// wait waits for a store batch on the connection's read goroutine; false when it failed (or the
// connection or the server ended first).
func (s *Server) wait(c *conn, b *batch) bool {
	select {
	case <-b.done:
		return b.err == nil
	case <-c.done:
	case <-s.ctx.Done():
	}
	return false
}

// onUnsubscribed runs before mochi writes UNSUBACK: a persistent session's subscriptions leave the
// store first.
func (s *Server) onUnsubscribed(c *conn, pk packets.Packet) {
	now := s.now()
	filters := make([]string, 0, len(pk.Filters))
	for _, f := range pk.Filters {
		filters = append(filters, f.Filter)
	}
	if b := s.unsubscribed(c, filters); b != nil && !s.wait(c, b) {
		s.log.Error("broker: a persistent session's subscriptions could not be removed from the store", "client", c.clientID, "err", b.err)
	}
	for _, f := range pk.Filters {
		if s.wantLog(c, awslog.Info) {
			e := s.entry(c, now, awslog.Info, awslog.StatusSuccess, awslog.EventUnsubscribe)
			e.TopicName = f.Filter
			s.writeLog(c, &e)
		}
		if s.observed() {
			s.emit(Event{Kind: EventUnsubscribe, Time: now, ClientID: c.clientID, CertID: c.certID, Topic: f.Filter})
		}
	}
	s.publishSubscriptions(c, "unsubscribed", filters)
}

func denialDetails(reason string) string {
	switch reason {
	case reasonAuthorization:
		return "Authorization Failure"
	case reasonQuotaExceeded:
		return "A subscription quota was exceeded"
	case reasonInvalidTopic:
		return "The topic or topic filter is not valid"
	case reasonThrottled:
		return "The publish rate limit was exceeded"
	case reasonQoSNotSupported:
		return "QoS 2 is not supported"
	case reasonPayloadTooLarge:
		return "The payload is larger than the limit"
	case reasonServerError:
		return "The broker could not store the request"
	case reasonQueueFull:
		return "The session's message queue is full; the message was not queued"
	}
	return reason
}

// allowDelivery decides whether a message on topic goes to the connection now: iot:Receive, checked at
// every delivery so that a policy change takes effect without a new SUBSCRIBE (AWS's topic matching
// and the delivery throttle are applied when the message is routed). AWS: iot-policy-actions
// ("iot:Receive … every time a message is delivered")
func (s *Server) allowDelivery(c *conn, topic string) bool {
	if len(topic) >= 4 && strings.EqualFold(topic[:4], "$SYS") {
		return false // mochi's own topics; AWS has none
	}
	d := s.canReceive(c, topic)
	if d.Effect != policy.Allowed {
		s.logPublish(c, awslog.EventPublishOut, topic, false, reasonAuthorization)
		if s.observed() {
			s.emit(Event{Kind: EventDeny, ClientID: c.clientID, CertID: c.certID, Topic: topic,
				Action: actReceive, Decision: d, Reason: reasonAuthorization})
		}
		return false
	}
	s.logPublish(c, awslog.EventPublishOut, topic, false, "")
	if s.observed() {
		s.emit(Event{Kind: EventDeliver, ClientID: c.clientID, CertID: c.certID, Topic: topic,
			Action: actReceive, Decision: d})
	}
	return true
}
