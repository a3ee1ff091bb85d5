package lab

import (
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// labHook is the one hook that decides who may do what on the lab listener (mochi OR-combines the answers of
// all hooks that provide OnConnectAuthenticate or OnACLCheck, so there must be exactly one). It also carries
// the places where the lab must behave like Mosquitto 2.0.11 and mochi v2.7.9 does not.
//
// Mosquitto 2.0.11 with an acl_file, observed on loopback (see the package tests):
//   - SUBSCRIBE is always granted, even to a filter the client may never read; the read check runs on each
//     delivery (retained messages included).
//   - a denied PUBLISH is acknowledged as if accepted and then dropped for MQTT 3.1 and 3.1.1 (PUBACK, or
//     PUBREC/PUBREL/PUBCOMP); MQTT 5 gets PUBACK or PUBREC with reason 0x87; QoS 0 is dropped silently.
//   - a will on a topic the client may not write is dropped when it would be sent; the connection is accepted.
//   - clients may never publish to $SYS/... or $share... topics, with or without an ACL file.
type labHook struct {
	mqtt.HookBase
	acl      *aclTable // nil: everything allowed
	log      *slog.Logger
	srv      *mqtt.Server
	mu       sync.Mutex                    // guards subs
	subs     map[*mqtt.Client]*subscribing // SUBSCRIBE packets being processed, see OnSubscribe
	nsubs    atomic.Int32                  // len(subs), so that deliveries need not lock mu
	sessions *sessionLocks

	// retained orders mochi's writes of retained messages against its scans of them for wildcard
	// subscriptions: TopicsIndex.RetainMessage writes a particle's retainPath under a lock that scanMessages
	// does not take (a data race in mochi v2.7.9). Writers hold it from OnPublish or OnWill to
	// OnRetainMessage; a SUBSCRIBE holds it for reading from OnPacketSent(SUBACK), when the scans start,
	// to OnPacketProcessed, so never across network I/O. Both sections are short and take no other lock
	// of ours.
	retained sync.RWMutex
	rmu      sync.Mutex                  // guards rstate
	rstate   map[*mqtt.Client]retainRole // what a client's goroutine holds or is about to hold
}

type retainRole uint8

const (
	retainWriting  retainRole = iota + 1 // holds retained for writing
	retainScanNext                       // its SUBSCRIBE will scan after the SUBACK
	retainScanning                       // holds retained for reading
)

func newLabHook(acl *aclTable, srv *mqtt.Server, log *slog.Logger) *labHook {
	return &labHook{acl: acl, srv: srv, log: log, subs: map[*mqtt.Client]*subscribing{},
		sessions: newSessionLocks(log), rstate: map[*mqtt.Client]retainRole{}}
}

func (h *labHook) ID() string { return "lab" }

func (h *labHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnConnect, mqtt.OnPublish,
		mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnPacketEncode,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnWill, mqtt.OnRetainMessage,
		mqtt.OnPacketSent, mqtt.OnPacketProcessed:
		return true
	}
	return false
}

// OnConnectAuthenticate accepts everyone: the lab is Mosquitto with allow_anonymous true and no password file,
// where a username is taken as given and only selects the ACL "user" block.
func (h *labHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// emptyWill stands in for a zero-length will payload while mochi validates CONNECT; see OnPacketRead.
var emptyWill = []byte{0}

// OnPacketRead runs before mochi validates or processes a packet.
func (h *labHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Connect:
		// mochi answers these with CONNACK 0x80, which is not an MQTT 3 return code.
		if (pk.ProtocolVersion == 3 && pk.Connect.ClientIdentifier == "") || // MQTT 3.1: 1 to 23 characters
			(pk.ProtocolVersion == 4 && pk.Connect.ClientIdentifier == "" && !pk.Connect.Clean) { // [MQTT-3.1.3-8]
			_ = cl.WritePacket(packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Connack},
				ReasonCode:  packets.Err3ClientIdentifierNotValid.Code, // 0x02 Identifier rejected
			})
			// [MQTT-3.2.2-5] close the connection after the refusal; mochi passes on only this error.
			return pk, packets.ErrRejectPacket
		}
		// A will payload may be empty (MQTT 3.1.1 §3.1.3.4, MQTT 5 §3.1.3.4); mochi refuses one. Hand it a
		// placeholder and put the empty payload back in OnConnect.
		if pk.Connect.WillFlag && len(pk.Connect.WillPayload) == 0 {
			pk.Connect.WillPayload = emptyWill
		}
	case packets.Publish:
		// mochi drops a PUBLISH to $SYS/... or to a malformed $share topic without acknowledging it, and the
		// publisher then waits forever. Mosquitto denies these topics to clients; answer as for any denial.
		if pk.PublishValidate(h.srv.Options.Capabilities.TopicAliasMaximum) == packets.CodeSuccess &&
			!mqtt.IsValidFilter(pk.TopicName, true) {
			h.log.Debug("lab: publish denied", "client", cl.ID, "topic", pk.TopicName, "reason", "reserved topic")
			h.denyPublish(cl, pk, true)
		}
	}
	return pk, nil
}

// OnConnect runs after mochi has parsed CONNECT into cl.Properties and before CONNACK.
func (h *labHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	will := &cl.Properties.Will
	if len(will.Payload) == 1 && &will.Payload[0] == &emptyWill[0] {
		will.Payload = []byte{}
	}
	if will.Flag == 1 {
		// The ACL is fixed for the server's lifetime, so checking the will now gives the answer Mosquitto
		// gives when it checks at sending time.
		if d := h.write(cl, will.TopicName); !d.Allowed {
			h.log.Debug("lab: will dropped", "client", cl.ID, "topic", will.TopicName, "decision", d.String())
			*will = mqtt.Will{}
		}
	}
	return nil
}

// OnACLCheck: mochi asks with write=true only for PUBLISH, before it resolves a topic alias, so the write
// decision is made in OnPublish instead. With write=false it asks both for each SUBSCRIBE filter and for each
// delivery; Mosquitto grants every SUBSCRIBE and checks each delivery, so the two must be told apart.
func (h *labHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write {
		return true
	}
	if hasWildcard(topic) || isShareFilter(topic) {
		return true // a filter (topic names carry no wildcard [MQTT-3.3.2-2]): this is a SUBSCRIBE
	}
	switch h.takeSubscribing(cl, topic) {
	case subscribeCheck:
		return true
	case ambiguous:
		return h.read(cl, topic)
	}
	return h.deliver(cl, topic)
}

// deliver decides whether a message on topic may be sent to cl.
func (h *labHook) deliver(cl *mqtt.Client, topic string) bool {
	if strings.HasPrefix(topic, "$") && !subscribedTo(cl, topic) {
		// mochi matches a shared subscription "$share/g/#" and a retained-message scan with a first-level
		// wildcard against '$' topics; [MQTT-4.7.2-1] says they must not match.
		return false
	}
	return h.read(cl, topic)
}

// read applies the ACL file's read permission.
func (h *labHook) read(cl *mqtt.Client, topic string) bool {
	if h.acl == nil {
		return true
	}
	d := h.acl.check(cl.ID, string(cl.Properties.Username), topic, aclRead)
	if !d.Allowed {
		h.log.Debug("lab: delivery denied", "client", cl.ID, "topic", topic, "decision", d.String())
	}
	return d.Allowed
}

// subscribedTo reports whether one of cl's subscriptions matches topic as the specification says.
func subscribedTo(cl *mqtt.Client, topic string) bool {
	for filter := range cl.State.Subscriptions.GetAll() {
		if matchTopic(shareTopicFilter(filter), topic) {
			return true
		}
	}
	return false
}

// subscribing holds the concrete filters (no wildcard) of the SUBSCRIBE a client is sending, between
// OnSubscribe and OnSubscribed.
type subscribing struct {
	safe      map[string]int  // filters no delivery can be using: each OnACLCheck with one is the SUBSCRIBE's
	ambiguous map[string]bool // filters a concurrent delivery might also be asked about
}

type readCheck int

const (
	delivery       readCheck = iota
	subscribeCheck           // certainly the SUBSCRIBE's check
	ambiguous                // either
)

// OnSubscribe runs before mochi checks each filter of a SUBSCRIBE with OnACLCheck(write=false). A filter
// without wildcards is also a topic name, so that check and a concurrent delivery check look alike. A message
// reaches this client only through a subscription it already has or one made earlier in this packet, so a
// concrete filter that none of those matches cannot be a delivery: its check is the SUBSCRIBE's, granted. For
// the others (rare: the client re-subscribes or overlaps its own filters) only the read ACL answers, so
// Mosquitto's "granted" may become 0x80/0x87 there, with no difference in what gets delivered.
func (h *labHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	var existing []string
	for filter := range cl.State.Subscriptions.GetAll() {
		existing = append(existing, shareTopicFilter(filter))
	}
	p := &subscribing{safe: map[string]int{}, ambiguous: map[string]bool{}}
	for i, sub := range pk.Filters {
		f := sub.Filter
		if isShareFilter(f) {
			continue // a shared subscription gets no retained messages (MQTT 5 §4.8.2), so no scan
		}
		if hasWildcard(f) {
			h.setRetainRole(cl, retainScanNext) // mochi scans the topic tree for this filter
			continue
		}
		safe := true
		for _, e := range existing {
			safe = safe && !matchTopicLoose(e, f) // loose: mochi may deliver where the spec says no
		}
		for j, other := range pk.Filters {
			safe = safe && (j == i || !matchTopicLoose(shareTopicFilter(other.Filter), f))
		}
		if safe {
			p.safe[f]++
		} else {
			p.ambiguous[f] = true
		}
	}
	h.mu.Lock()
	h.subs[cl] = p
	h.nsubs.Store(int32(len(h.subs)))
	h.mu.Unlock()
	return pk
}

func (h *labHook) takeSubscribing(cl *mqtt.Client, topic string) readCheck {
	if h.nsubs.Load() == 0 {
		return delivery
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.subs[cl]
	switch {
	case p == nil:
		return delivery
	case p.safe[topic] > 0:
		p.safe[topic]--
		return subscribeCheck
	case p.ambiguous[topic]:
		return ambiguous
	}
	return delivery
}

func (h *labHook) forgetSubscribing(cl *mqtt.Client) {
	h.mu.Lock()
	delete(h.subs, cl)
	h.nsubs.Store(int32(len(h.subs)))
	h.mu.Unlock()
}

// OnSubscribed runs once mochi has answered every filter, before it sends retained messages.
func (h *labHook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) { h.forgetSubscribing(cl) }

// OnSessionEstablish runs just before mochi looks for an existing session with the client's id.
func (h *labHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	h.sessions.lock(cl.Net.Conn, cl.ID)
}

// OnSessionEstablished runs once the client is in mochi's client map and has its CONNACK.
func (h *labHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.sessions.unlock(cl.Net.Conn)
}

// OnDisconnect runs just before mochi decides whether to delete the client from its map; the lock is released
// by connEnded, when the connection's goroutine has returned.
func (h *labHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.forgetSubscribing(cl)
	if cl.Net.Conn != nil { // nil for a session restored from the store, which has no goroutine
		h.sessions.lock(cl.Net.Conn, cl.ID)
	}
}

// connEnded is called by the listener after mochi has finished with a connection.
func (h *labHook) connEnded(conn net.Conn) { h.sessions.unlock(conn) }

// OnPacketEncode: mochi leaves Topic Alias Maximum out of CONNACK, which tells clients that the server
// accepts no topic aliases [MQTT-3.2.2-17]; announce what mochi does accept.
func (h *labHook) OnPacketEncode(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && pk.ProtocolVersion == 5 && pk.ReasonCode == 0 {
		pk.Properties.TopicAliasMaximum = h.srv.Options.Capabilities.TopicAliasMaximum
	}
	return pk
}

// OnClientExpired: mochi forgets an expired session but leaves its subscriptions in the topic tree, where a
// later client reusing the id would inherit them. Remove them.
func (h *labHook) OnClientExpired(cl *mqtt.Client) {
	h.srv.UnsubscribeClient(cl)
}

// OnWill runs before mochi sends a will; one without a delay and with the retain flag is retained next.
func (h *labHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if will.Retain && will.WillDelayInterval == 0 {
		h.retained.Lock()
		h.setRetainRole(cl, retainWriting)
	}
	return will, nil
}

// OnRetainMessage runs right after mochi has stored or cleared a retained message.
func (h *labHook) OnRetainMessage(cl *mqtt.Client, _ packets.Packet, _ int64) {
	if h.takeRetainRole(cl, retainWriting) { // not set for a delayed will, which mochi sends unannounced
		h.retained.Unlock()
	}
}

// OnPacketSent: after the SUBACK, mochi scans the retained messages for the new wildcard subscriptions.
func (h *labHook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Suback && h.takeRetainRole(cl, retainScanNext) {
		h.retained.RLock()
		h.setRetainRole(cl, retainScanning)
	}
}

// OnPacketProcessed runs when mochi has finished with a packet, retained messages sent included.
func (h *labHook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, _ error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	if h.takeRetainRole(cl, retainScanning) {
		h.retained.RUnlock()
	}
	h.takeRetainRole(cl, retainScanNext) // the SUBACK could not be sent
}

func (h *labHook) setRetainRole(cl *mqtt.Client, r retainRole) {
	h.rmu.Lock()
	h.rstate[cl] = r
	h.rmu.Unlock()
}

// takeRetainRole clears cl's role and reports whether it was r.
func (h *labHook) takeRetainRole(cl *mqtt.Client, r retainRole) bool {
	h.rmu.Lock()
	defer h.rmu.Unlock()
	if h.rstate[cl] != r {
		return false
	}
	delete(h.rstate, cl)
	return true
}

// OnPublish makes the write decision, after mochi has resolved any topic alias.
func (h *labHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	d := h.write(cl, pk.TopicName)
	if d.Allowed {
		if pk.FixedHeader.Retain { // mochi retains it next, then calls OnRetainMessage
			h.retained.Lock()
			h.setRetainRole(cl, retainWriting)
		}
		return pk, nil
	}
	h.log.Debug("lab: publish denied", "client", cl.ID, "topic", pk.TopicName, "decision", d.String())
	if cl.Properties.ProtocolVersion < 5 {
		// Mosquitto 2.0.11: MQTT 3 has no way to say "refused", so the flow completes normally and the
		// message is dropped. mochi then acknowledges, does not retain and does not deliver.
		return pk, packets.CodeSuccessIgnore
	}
	h.denyPublish(cl, pk, false)
	return pk, packets.ErrRejectPacket // mochi sends nothing more and drops the message
}

// denyPublish answers a refused PUBLISH of QoS 1 or 2 (QoS 0 has no answer). With v3Ack the MQTT 3 client
// gets the ordinary acknowledgement, as in OnPublish.
func (h *labHook) denyPublish(cl *mqtt.Client, pk packets.Packet, v3Ack bool) {
	ack := packets.Packet{PacketID: pk.PacketID}
	switch pk.FixedHeader.Qos {
	case 1:
		ack.FixedHeader.Type = packets.Puback
	case 2:
		ack.FixedHeader.Type = packets.Pubrec
	default:
		return
	}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode = packets.ErrNotAuthorized.Code // 0x87; a PUBREC >= 0x80 ends the QoS 2 flow (MQTT 5 §4.3.3)
	} else if !v3Ack {
		return
	}
	_ = cl.WritePacket(ack)
}

// write decides whether cl may publish to topic.
func (h *labHook) write(cl *mqtt.Client, topic string) aclDecision {
	// Mosquitto denies these to every client, with or without an ACL file (security.c acl__check_dollar).
	if strings.HasPrefix(topic, "$SYS") {
		return aclDecision{Reason: "$SYS topics are written by the broker only"}
	}
	if strings.HasPrefix(topic, "$share") {
		return aclDecision{Reason: "$share is a subscription prefix, not a topic"}
	}
	if h.acl == nil {
		return aclDecision{Allowed: true, Reason: "no ACL file"}
	}
	return h.acl.check(cl.ID, string(cl.Properties.Username), topic, aclWrite)
}
