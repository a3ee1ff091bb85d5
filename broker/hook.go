package broker

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// awsHook is the broker's only mochi-mqtt hook, and so the only one that authenticates
// (OnConnectAuthenticate) and authorizes (OnACLCheck). mochi OR-combines those two across hooks, so a
// second hook providing either could open the broker: TestExactlyOneAuthHook guards that.
//
// Where each AWS decision is made, and why there:
//
//   - CONNECT (identity, client ID, connect rate, iot:Connect, the will): OnConnect, because a false
//     OnConnectAuthenticate makes mochi answer CONNACK 0x05/0x86, while AWS closes MQTT 3.1.1
//     connections without CONNACK and answers MQTT 5 with 0x87. OnConnectAuthenticate then only
//     confirms what OnConnect decided.
//   - PUBLISH (iot:Publish, iot:RetainPublish, topic rules, publish rate): OnPublish, where mochi has
//     resolved topic aliases; OnACLCheck(write=true) runs before that and lets it through. Packets mochi
//     would drop or mangle before OnPublish (QoS 2, wildcard and $SYS topics, oversized payloads) are
//     handled in OnPacketRead.
//   - SUBSCRIBE (iot:Subscribe, filter rules, subscription quotas): OnSubscribe decides every filter;
//     OnACLCheck(write=false) returns those decisions while mochi processes the packet.
//   - Delivery (iot:Receive, and AWS's "#"): OnACLCheck(write=false). mochi calls it both for SUBSCRIBE
//     filters and for deliveries; see subCheck for how the two stay separate decisions.
type awsHook struct {
	mqtt.HookBase
	s *Server
}

func (h *awsHook) ID() string { return "iotlab-aws-iot-core" }

func (h *awsHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
		mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnPacketProcessed,
		mqtt.OnPublish, mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribed:
		return true
	}
	return false
}

func (h *awsHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	return h.s.onConnect(cl, pk)
}

// OnConnectAuthenticate confirms OnConnect's decision; refused connections never get here.
func (h *awsHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	c := connOf(cl)
	return c != nil && c.authorized
}

func (h *awsHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if c := connOf(cl); c != nil {
		h.s.onSessionEstablish(c, pk)
	}
}

func (h *awsHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if c := connOf(cl); c != nil {
		h.s.onEstablished(c)
	}
}

func (h *awsHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if c := connOf(cl); c != nil {
		h.s.onDisconnect(c, err, expire)
	}
}

func (h *awsHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	c := connOf(cl)
	if c == nil {
		return pk, nil
	}
	if !c.authorized {
		if pk.FixedHeader.Type == packets.Connect {
			return h.s.onConnectRead(c, pk)
		}
		return pk, nil
	}
	return h.s.onPacketRead(c, pk)
}

// OnPacketProcessed: once a SUBSCRIBE is done (its SUBACK written), the retained messages it asked for
// are sent.
func (h *awsHook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	if c := connOf(cl); c != nil && c.pendingRetained != nil {
		ds := c.pendingRetained
		c.pendingRetained = nil
		if err == nil {
			h.s.deliverRetained(c, ds)
		}
	}
}

// OnPublish sees devices' publishes only: the broker routes its own (lifecycle events, wills,
// Server.Publish) without mochi, see inject.
func (h *awsHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	c := connOf(cl)
	if c == nil {
		return pk, packets.ErrRejectPacket
	}
	return h.s.onPublish(c, pk)
}

// OnACLCheck: write=true is decided in OnPublish (topic aliases are resolved there); write=false is
// either a filter of the SUBSCRIBE being processed, decided in OnSubscribe, or a delivery (iot:Receive).
func (h *awsHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	c := connOf(cl)
	if c == nil {
		return false // the inline client never subscribes; it publishes without ACL checks
	}
	if write {
		return c.authorized
	}
	if sc := c.subCheck.Load(); sc != nil {
		if allowed, ok := sc.lookup(topic); ok {
			return allowed
		}
	}
	return h.s.allowDelivery(c, topic)
}

func (h *awsHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if c := connOf(cl); c != nil {
		return h.s.onSubscribe(c, pk)
	}
	return pk
}

func (h *awsHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if c := connOf(cl); c != nil {
		h.s.onSubscribed(c, pk, reasonCodes)
	}
}

func (h *awsHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if c := connOf(cl); c != nil && pk.PacketID != 0 {
		// PacketID 0 is mochi clearing a session's subscriptions, not an UNSUBSCRIBE.
		h.s.onUnsubscribed(c, pk)
	}
}

// OnPacketEncode completes what mochi sends: AWS's CONNACK properties and the SUBACK codes the hook
// decided. It runs for every outgoing packet, so it returns at once for the others.
func (h *awsHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		// mochi drops every User Property of a client that sent Request Problem Information 0 (as
		// paho.golang does whenever it sends CONNECT properties); the rule is for packets other than
		// PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]. AWS forwards them (checklist 56).
		pk.Mods.DisallowProblemInfo = false
	case packets.Connack:
		if pk.ReasonCode < packets.ErrUnspecifiedError.Code && cl.Properties.ProtocolVersion == 5 {
			h.s.connackProperties(&pk.Properties)
			if c := connOf(cl); c != nil && c.seiAdjusted {
				// AWS: mqtt.html#mqtt5-properties — the adjusted Session Expiry Interval (checklist 19).
				pk.Properties.SessionExpiryInterval = cl.Properties.Props.SessionExpiryInterval
				pk.Properties.SessionExpiryIntervalFlag = true
			}
		}
	case packets.Suback:
		if c := connOf(cl); c != nil && c.suback.codes != nil && c.suback.packetID == pk.PacketID {
			codes := bytes.Clone(pk.ReasonCodes)
			for i, code := range c.suback.codes {
				if code != 0 && i < len(codes) {
					codes[i] = code
				}
			}
			pk.ReasonCodes = codes
			c.suback = subackFix{}
		}
	}
	return pk
}

// connackProperties sets the MQTT 5 CONNACK properties AWS documents.
// AWS: mqtt.html#mqtt5-properties (checklist 18)
func (s *Server) connackProperties(p *packets.Properties) {
	p.MaximumQos, p.MaximumQosFlag = 1, true
	p.RetainAvailable, p.RetainAvailableFlag = 1, true
	p.WildcardSubAvailable, p.WildcardSubAvailableFlag = 1, true
	p.SubIDAvailable, p.SubIDAvailableFlag = 0, true
	p.SharedSubAvailable, p.SharedSubAvailableFlag = 1, true
	p.TopicAliasMaximum = uint16(s.lim.TopicAliasMaximum)
	p.MaximumPacketSize = uint32(s.lim.PacketBytes)
}
