package broker

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"
)

// Options configure a Server. Zero values get defaults.
type Options struct {
	// Listener is used as is when set; otherwise the server listens on Addr ("127.0.0.1:8883" by
	// default; "127.0.0.1:0" picks a free port). The server does TLS itself: give it a plain TCP listener.
	Listener net.Listener
	Addr     string

	// ALPNListener (used as is) or ALPNAddr, when either is set, add a second TLS listener that plays
	// AWS's port 443, where the protocol is chosen by ALPN: x-amzn-mqtt-ca is MQTT exactly as on Addr;
	// x-amzn-http-ca, http/1.1 or no ALPN is HTTPS, handed to whoever serves HTTPSListener; mqtt
	// (custom authentication, not emulated) is closed after the handshake, with a log line saying why.
	// Same TLS configuration and client-certificate rule as Addr. AWS: protocols
	ALPNListener net.Listener
	ALPNAddr     string

	// TLSConfig is the endpoint's configuration, normally certs' (*CA).ServerTLSConfig(). It must ask
	// for a client certificate (tls.RequireAnyClientCert or stricter): the certificate is the identity.
	// AWS: x509-client-certs, protocols (TLS 1.2 and 1.3 on 8883)
	TLSConfig *tls.Config

	// Directory answers who a certificate is and what it may do. Required.
	Directory Directory

	// Account and Region build ARNs and fill lifecycle events and logs; EndpointHost is informational.
	Account, Region, EndpointHost string

	// Limits are AWS IoT Core's quotas; the zero value means AWS's values. See NoQuotas.
	Limits Limits
	// Quirks holds every deliberate deviation from AWS; the zero value is iotlab's default.
	Quirks Quirks

	// HandshakeTimeout bounds the time from accepting a connection to receiving its MQTT CONNECT, TLS
	// handshake included; default 10 s. mochi-mqtt sets no deadline before CONNECT, so without it a
	// peer that opens TCP and stays silent would hold a goroutine and a descriptor forever.
	HandshakeTimeout time.Duration

	// LogDir receives the AWS-format log (AWSIotLogsV2.log) as the V2 logging configuration asks;
	// "" writes no file.
	LogDir string
	// Logger receives the broker's own diagnostics and, at the matching slog level, every AWS log entry
	// (so `--log-level debug` shows them all on stderr whatever the V2 configuration says). nil discards.
	Logger *slog.Logger
	// Now is the clock for quotas, lifecycle timestamps, logs, session and message expiry; default
	// time.Now.
	Now func() time.Time

	// StorePath is the broker's durable state, a bbolt file (normally <state-dir>/broker.db): retained
	// messages, persistent sessions, their subscriptions and their queued QoS 1 messages, so that they
	// survive a restart and a crash. A QoS 1 PUBLISH is acknowledged only once it is on disk for every
	// persistent session it is queued for (group commit, see commit.go). "" keeps everything in memory.
	StorePath string
	// Store replaces the file named by StorePath (tests inject faults with it). Close closes it.
	Store Store
}

// Limits are the message broker quotas of AWS IoT Core (research §10.1, GR:iot-core#message-broker-limits).
// A zero field takes AWS's value; a negative field switches that quota off. Identity and policy
// checks are never affected by Limits.
type Limits struct {
	// ClientIDBytes: client IDs longer than this are refused (128 bytes of UTF-8).
	ClientIDBytes int
	// PayloadBytes: a PUBLISH payload larger than this closes the connection (128 KiB).
	// AWS: "The AWS IoT service rejects publish and connect requests larger than this size."
	PayloadBytes int
	// PacketBytes: the MQTT 5 Maximum Packet Size advertised in CONNACK and enforced on every packet
	// (146 KiB; AWS's quota page, research §1.11).
	PacketBytes int
	// TopicBytes and TopicSlashes bound topic names and filters (256 bytes, 7 '/'); the
	// "$aws/rules/<rule>/" prefix and the two slashes of "$share/<name>/" do not count.
	TopicBytes, TopicSlashes int

	// FiltersPerSubscribe: filters of one SUBSCRIBE beyond this many are refused (8).
	FiltersPerSubscribe int
	// SubscriptionsPerConnection: a SUBSCRIBE that would go beyond this many is refused (50).
	SubscriptionsPerConnection int
	// PublishesPerSecond: inbound PUBLISH packets per second and connection beyond this are discarded
	// (100). Deliveries count against it only with Quirks.ThrottleDeliveries.
	PublishesPerSecond int
	// ConnectsPerSecond: CONNECT attempts per second for one client ID beyond this are refused (1).
	ConnectsPerSecond int
	// ReceiveMaximum: unacknowledged inbound QoS 1 PUBLISH packets per connection (100), advertised in
	// MQTT 5 CONNACK. As AWS says, "no new PUBLISH [is] accepted until PUBACK sent": the broker stops
	// reading the connection until its oldest PUBACK has gone. AWS: GR:iot-core
	ReceiveMaximum int
	// TopicAliasMaximum: the MQTT 5 Topic Alias Maximum advertised in CONNACK (8); a larger alias
	// closes the connection with DISCONNECT 0x94.
	TopicAliasMaximum int

	// OutboundUnacked: QoS 1 messages sent to a connection and not yet acknowledged (100, or the MQTT 5
	// client's Receive Maximum when smaller). Further messages wait in the session's queue until the
	// client acknowledges; none is dropped. AWS: GR:iot-core ("Maximum outbound unacknowledged QoS 1
	// publish requests")
	OutboundUnacked int
	// QueuedMessagesPerSecond: the pace at which a resumed persistent session receives the messages
	// stored while it was away (10), alongside its live traffic. AWS: mqtt.html#mqtt-persistent-sessions
	QueuedMessagesPerSecond int
	// SessionExpiry: how long a persistent session outlives its connection, the account's "Persistent
	// session expiry period" (1 h; at most 7 days). MQTT 3 sessions all get it; an MQTT 5 Session Expiry
	// Interval above it is lowered to it and CONNACK says so. AWS: mqtt.html#mqtt5-properties
	SessionExpiry time.Duration
	// RetryWindow: how long a QoS 1 message may stay unacknowledged (resent on each resume of a
	// persistent session) before it is dropped (1 h). AWS: GR:iot-core ("Maximum retry interval for
	// delivering QoS 1 messages")
	RetryWindow time.Duration

	// SessionQueueMessages and SessionQueueBytes bound the QoS 1 messages one session holds (queued,
	// stored and in flight): 10,000 messages and 16 MiB of payload. AWS documents no per-session
	// number, only that "messages that exceed the limit will be dropped" (and, for shared
	// subscription groups, that new messages are dropped and old ones kept); iotlab does the same:
	// at the bound the new message is not queued for that session, which is logged (slog warning,
	// Publish-Out log entry with reason QUEUE_FULL) and reported as an EventDeny. They bound memory,
	// not load, so NoQuotas leaves them. AWS: mqtt.html#mqtt-persistent-sessions
	SessionQueueMessages, SessionQueueBytes int
}

// AWS's values. AWS: GR:iot-core#message-broker-limits, mqtt.html#mqtt5-properties
const (
	awsClientIDBytes     = 128
	awsPayloadBytes      = 128 << 10
	awsPacketBytes       = 146 << 10
	awsTopicBytes        = 256
	awsTopicSlashes      = 7
	awsFiltersPerSub     = 8
	awsSubsPerConnection = 50
	awsPublishesPerSec   = 100
	awsConnectsPerSec    = 1
	awsReceiveMaximum    = 100
	awsTopicAliasMaximum = 8
	awsOutboundUnacked   = 100
	awsQueuedPerSecond   = 10
	awsSessionExpiry     = time.Hour
	awsMaxSessionExpiry  = 7 * 24 * time.Hour
	awsRetryWindow       = time.Hour
	awsMaxMessageExpiry  = 604800 // seconds (7 days); larger Message Expiry Intervals are lowered to it

	defaultQueueMessages = 10000
	defaultQueueBytes    = 16 << 20

	// noQuotaReceiveMaximum is ReceiveMaximum under NoQuotas: mochi-mqtt's default.
	noQuotaReceiveMaximum = 1024
)

// NoQuotas returns the limits of `--limits none`, for load tests: the rate and count quotas
// (connects and publishes per second, subscriptions per connection, filters per SUBSCRIBE, in-flight
// QoS 1 both ways, the pace of stored messages) are off. Sizes (client ID, payload, packet, topic),
// expiry periods and the per-session memory bounds stay: they shape the protocol, not load.
func NoQuotas() Limits {
	return Limits{
		FiltersPerSubscribe:        -1,
		SubscriptionsPerConnection: -1,
		PublishesPerSecond:         -1,
		ConnectsPerSecond:          -1,
		ReceiveMaximum:             -1,
		OutboundUnacked:            -1,
		QueuedMessagesPerSecond:    -1,
	}
}

// withDefaults replaces zero fields by AWS's values.
func (l Limits) withDefaults() Limits {
	def := func(v *int, aws int) {
		if *v == 0 {
			*v = aws
		}
	}
	def(&l.ClientIDBytes, awsClientIDBytes)
	def(&l.PayloadBytes, awsPayloadBytes)
	def(&l.PacketBytes, awsPacketBytes)
	def(&l.TopicBytes, awsTopicBytes)
	def(&l.TopicSlashes, awsTopicSlashes)
	def(&l.FiltersPerSubscribe, awsFiltersPerSub)
	def(&l.SubscriptionsPerConnection, awsSubsPerConnection)
	def(&l.PublishesPerSecond, awsPublishesPerSec)
	def(&l.ConnectsPerSecond, awsConnectsPerSec)
	def(&l.ReceiveMaximum, awsReceiveMaximum)
	def(&l.TopicAliasMaximum, awsTopicAliasMaximum)
	def(&l.OutboundUnacked, awsOutboundUnacked)
	def(&l.QueuedMessagesPerSecond, awsQueuedPerSecond)
	def(&l.SessionQueueMessages, defaultQueueMessages)
	def(&l.SessionQueueBytes, defaultQueueBytes)
	if l.SessionExpiry <= 0 {
		l.SessionExpiry = awsSessionExpiry
	}
	// AWS: mqtt.html — "adjustable up to 7 days"; whole seconds, as MQTT counts them.
	l.SessionExpiry = min(l.SessionExpiry, awsMaxSessionExpiry).Truncate(time.Second)
	if l.SessionExpiry < time.Second {
		l.SessionExpiry = time.Second
	}
	if l.RetryWindow <= 0 {
		l.RetryWindow = awsRetryWindow
	}
	return l
}

// Quirks lists, one field each, every deliberate deviation from AWS IoT Core and every choice made
// where AWS is silent or unverified. The zero value is iotlab's default; each field says how that
// default relates to AWS and why.
type Quirks struct {
	// KeepAliveFloor is the smallest keep-alive the broker grants. AWS raises 1–29 s to 30 s and
	// disconnects after 1.5 × keep-alive of silence, so a keep-alive test would wait 45 s; tests
	// lower the floor (to 1 s, say). Zero means 30 s, AWS's value. AWS: GR:iot-core (keep-alive)
	KeepAliveFloor time.Duration

	// DowngradeQoS2 makes QoS 2 behave as in most brokers (and in mochi-mqtt): a QoS 2 PUBLISH is
	// treated as QoS 1 and a QoS 2 SUBSCRIBE is granted QoS 1. The default follows AWS's documentation
	// ("When QoS level 2 is requested, the message broker doesn't send a PUBACK or SUBACK") and what
	// users observe: the connection is closed, with DISCONNECT 0x9B (QoS not supported) for MQTT 5.
	// Unverified against a live account (research §1.2, checklist 22).
	// AWS: mqtt.html#mqtt-differences
	DowngradeQoS2 bool

	// DisconnectOnDeniedSubscribe311 reproduces the 2017–2018 behaviour AWS staff described: an MQTT
	// 3.1.1 SUBSCRIBE to a filter the policy does not allow closes the connection. The default is
	// today's documented answer, SUBACK return code 0x80 for that filter (research §1.3).
	// AWS: diagnosing-connectivity-issues#troubleshooting-authorization
	DisconnectOnDeniedSubscribe311 bool

	// CertDisconnectDelay is how long after a certificate leaves ACTIVE its live connections are
	// closed. AWS does it "within a few minutes"; iotlab's default, zero, closes them at once so the
	// cause and its effect stay together. AWS: API_UpdateCertificate
	CertDisconnectDelay time.Duration

	// PolicyCacheTTL is how long a connection keeps using the policies it last resolved after the
	// control plane reports a change. AWS caches policies and a change "can take a few minutes to
	// become effective"; iotlab's default, zero, applies policy edits, default-version changes and
	// attach/detach at the connection's next operation. AWS: iot-policies
	PolicyCacheTTL time.Duration

	// ThrottleDeliveries counts deliveries to a connection against Limits.PublishesPerSecond and
	// discards those beyond it, as AWS documents for its "inbound and outbound" publish quota. The
	// default counts inbound PUBLISH packets only, so a subscriber of a busy topic does not silently
	// lose messages on a laptop where nothing else competes for the broker. AWS: GR:iot-core
	ThrottleDeliveries bool
}

// keepAliveFloor returns the effective floor.
func (q Quirks) keepAliveFloor() uint16 {
	if q.KeepAliveFloor <= 0 {
		return awsKeepAliveMin
	}
	s := q.KeepAliveFloor / time.Second
	if s < 1 {
		s = 1
	}
	if s > awsKeepAliveMax {
		s = awsKeepAliveMax
	}
	return uint16(s)
}

// Keep-alive bounds in seconds. AWS: GR:iot-core ("Connection inactivity (keep-alive) interval")
const (
	awsKeepAliveMin = 30
	awsKeepAliveMax = 1200
)

// effectiveKeepAlive is the keep-alive AWS grants for a requested one: 0 or more than 1200 s becomes
// 1200 s; below the floor (30 s) becomes the floor.
func effectiveKeepAlive(requested, floor uint16) uint16 {
	switch {
	case requested == 0 || requested > awsKeepAliveMax:
		return awsKeepAliveMax
	case requested < floor:
		return floor
	}
	return requested
}
