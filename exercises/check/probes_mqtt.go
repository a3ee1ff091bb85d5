package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
)

// probe checks one checklist item against the target.
type probe struct {
	n        int
	expected string
	// localOnly, when set, says why the probe is not run on AWS (it would change account-wide settings,
	// or needs a fresh instance).
	localOnly string
	needs     exercises.Capability
	run       func(ctx context.Context, e *env) (string, exercises.Status)
}

func verdict(ok bool, obs string) (string, exercises.Status) {
	if ok {
		return obs, exercises.Pass
	}
	return obs, exercises.Fail
}

func failed(err error) (string, exercises.Status) { return "error: " + err.Error(), exercises.Fail }

var bareHost = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// mqttProbes cover connection, identity, publish and subscribe (checklist 1–44).
func mqttProbes() []probe {
	return []probe{
		{n: 1, expected: "bare host, stable; legacy endpoint without -ats", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			var hosts []string
			for _, typ := range []*string{aws.String("iot:Data-ATS"), aws.String("iot:Data-ATS"), nil} {
				out, err := e.t.IoT.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: typ})
				if err != nil {
					return failed(err)
				}
				hosts = append(hosts, aws.ToString(out.EndpointAddress))
			}
			ok := bareHost.MatchString(hosts[0]) && hosts[0] == hosts[1] && bareHost.MatchString(hosts[2]) && !strings.Contains(hosts[2], "-ats")
			return verdict(ok, fmt.Sprintf("ATS %s, again %s, legacy %s", hosts[0], hosts[1], hosts[2]))
		}},
		{n: 2, expected: "no MQTT session", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			tc := &tls.Config{RootCAs: e.t.RootCAs, ServerName: e.t.Endpoint, MinVersion: tls.VersionTLS12}
			c, ack, err := client.Dial(ctx, client.Options{Addr: e.t.MQTTAddr, TLS: tc, ClientID: e.name(2, "nocert")})
			if c != nil && ack.Code == 0 {
				c.Disconnect()
			}
			if errors.Is(err, client.ErrUnreachable) {
				return failed(err)
			}
			return verdict(err != nil || ack.Code != 0, refusal(ack, err))
		}},
		{n: 4, expected: "3.1.1: no CONNACK; 5: CONNACK 0x87", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := fleet.SelfSigned(e.name(4, "stranger"))
			if err != nil {
				return failed(err)
			}
			_, ack3, err3 := e.dial(ctx, d, e.name(4, "v3"), client.V311)
			_, ack5, err5 := e.dial(ctx, d, e.name(4, "v5"), client.V5)
			ok := errors.Is(err3, client.ErrNoConnack) && err5 == nil && ack5.Code == 0x87
			return verdict(ok, "3.1.1: "+refusal(ack3, err3)+"; 5: "+refusal(ack5, err5))
		}},
		{n: 5, expected: "CONNACK 0; connected event with clientId, timestamp, eventType, sessionIdentifier, principalIdentifier = certificate id, versionNumber", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			id := e.name(5, "dev")
			w, err := e.watch(ctx, 5, "$aws/events/presence/connected/"+id)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			d, _ := e.open(ctx)
			c, err := e.connected(ctx, d, id, client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ev, ok := e.jsonOn(ctx, w, "$aws/events/presence/connected/"+id)
			if !ok {
				return "CONNACK 0x00; no connected event", exercises.Fail
			}
			var missing []string
			for _, f := range []string{"clientId", "timestamp", "eventType", "sessionIdentifier", "principalIdentifier", "versionNumber"} {
				if _, ok := ev[f]; !ok {
					missing = append(missing, f)
				}
			}
			obs := fmt.Sprintf("CONNACK 0x00; event %v, principal %v", ev["eventType"], ev["principalIdentifier"])
			if len(missing) > 0 {
				obs += "; missing " + strings.Join(missing, ", ")
			}
			return verdict(len(missing) == 0 && ev["eventType"] == "connected" && ev["principalIdentifier"] == d.CertID && ev["clientId"] == id, obs)
		}},
		{n: 6, expected: "3.1.1: no CONNACK; 5: CONNACK 0x87; connect_failed AUTHORIZATION_FAILED", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 6, allow(aConnect, e.arn("client/"+e.name(6, "allowed"))))
			if err != nil {
				return failed(err)
			}
			id5 := e.name(6, "v5")
			w, err := e.watch(ctx, 6, "$aws/events/presence/connect_failed/"+id5)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			_, ack3, err3 := e.dial(ctx, d, e.name(6, "v3"), client.V311)
			_, ack5, err5 := e.dial(ctx, d, id5, client.V5)
			ev, got := e.jsonOn(ctx, w, "$aws/events/presence/connect_failed/"+id5)
			obs := "3.1.1: " + refusal(ack3, err3) + "; 5: " + refusal(ack5, err5) + fmt.Sprintf("; connect_failed: %v", ev["connectFailureReason"])
			return verdict(errors.Is(err3, client.ErrNoConnack) && err5 == nil && ack5.Code == 0x87 && got && ev["connectFailureReason"] == "AUTHORIZATION_FAILED", obs)
		}},
		{n: 7, expected: "3.1.1: no CONNACK", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.device(ctx, "p7-nopolicy", "")
			if err != nil {
				return failed(err)
			}
			_, ack, err := e.dial(ctx, d, e.name(7, "dev"), client.V311)
			return verdict(errors.Is(err, client.ErrNoConnack), refusal(ack, err))
		}},
		{n: 8, expected: "denied client refused, other allowed", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 8, allow(aConnect, e.arn("client/*")), deny(aConnect, e.arn("client/"+e.name(8, "denied"))))
			if err != nil {
				return failed(err)
			}
			_, ackD, errD := e.dial(ctx, d, e.name(8, "denied"), client.V311)
			c, ackO, errO := e.dial(ctx, d, e.name(8, "other"), client.V311)
			if c != nil && errO == nil {
				c.Disconnect()
			}
			return verdict(errD != nil && errO == nil && ackO.Code == 0, "denied: "+refusal(ackD, errD)+"; other: "+refusal(ackO, errO))
		}},
		{n: 9, expected: "own thing: CONNACK 0; another thing: refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			st := stmt{Effect: "Allow", Action: aConnect, Resource: []string{e.arn("client/${iot:Connection.Thing.ThingName}")},
				Condition: map[string]any{"Bool": map[string]any{"iot:Connection.Thing.IsAttached": "true"}}}
			d, err := e.restricted(ctx, 9, st)
			if err != nil {
				return failed(err)
			}
			other := e.name(9, "other")
			if _, err := e.t.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(other)}); err != nil {
				return failed(err)
			}
			e.record(thingRes(other))
			c, ackO, errO := e.dial(ctx, d, d.Thing, client.V311)
			if errO == nil && ackO.Code == 0 {
				c.Disconnect()
			}
			_, ackX, errX := e.dial(ctx, d, other, client.V311)
			return verdict(errO == nil && ackO.Code == 0 && errX != nil, "own: "+refusal(ackO, errO)+"; other: "+refusal(ackX, errX))
		}},
		{n: 10, expected: "5: CONNACK 0x85; 3.1.1: closed", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			long := e.name(10, "")
			long += strings.Repeat("x", 129-len(long))
			_, ack5, err5 := e.dial(ctx, d, long, client.V5)
			_, ack3, err3 := e.dial(ctx, d, long, client.V311)
			return verdict(err5 == nil && ack5.Code == 0x85 && err3 != nil, "5: "+refusal(ack5, err5)+"; 3.1.1: "+refusal(ack3, err3))
		}},
		{n: 11, expected: "refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			id := "$" + e.name(11, "dev")
			_, ack5, err5 := e.dial(ctx, d, id, client.V5)
			_, ack3, err3 := e.dial(ctx, d, id, client.V311)
			return verdict((err5 != nil || ack5.Code != 0) && err3 != nil, "5: "+refusal(ack5, err5)+"; 3.1.1: "+refusal(ack3, err3))
		}},
		{n: 12, expected: "CONNACK 0 with an Assigned Client Identifier", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, ack, err := e.dial(ctx, d, e.name(12, "unused"), client.V5, func(o *client.Options) {
				o.Connect = func(pk *packets.Packet) { pk.Connect.ClientIdentifier = "" }
			})
			if err != nil || ack.Code != 0 {
				return verdict(false, refusal(ack, err))
			}
			c.Disconnect()
			return verdict(ack.Props.AssignedClientID != "", fmt.Sprintf("CONNACK 0x00, assigned %q", ack.Props.AssignedClientID))
		}},
		{n: 13, expected: "new connection accepted; old one gets DISCONNECT 0x8E; disconnected event DUPLICATE_CLIENTID", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			id := e.name(13, "dup")
			w, err := e.watch(ctx, 13, "$aws/events/presence/disconnected/"+id)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			first, err := e.connected(ctx, d, id, client.V5)
			if err != nil {
				return failed(err)
			}
			second, err := e.connected(ctx, d, id, client.V5)
			if err != nil {
				first.Disconnect()
				return failed(err)
			}
			defer second.Disconnect()
			closed, how := closedWithin(ctx, first, e.t.Wait)
			ev, _ := e.jsonOn(ctx, w, "$aws/events/presence/disconnected/"+id)
			obs := fmt.Sprintf("second accepted; first: %s; event reason %v", how, ev["disconnectReason"])
			return verdict(closed && how == "DISCONNECT 0x8e" && ev["disconnectReason"] == "DUPLICATE_CLIENTID", obs)
		}},
		{n: 16, expected: "keep-alive 5 s → Server Keep Alive 30; 0 → 1200", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			var got []string
			ok := true
			for _, k := range []struct{ ask, want uint16 }{{5, 30}, {0, 1200}} {
				c, ack, err := e.dial(ctx, d, e.name(16, fmt.Sprint(k.ask)), client.V5, func(o *client.Options) {
					o.Connect = func(pk *packets.Packet) { pk.Connect.Keepalive = k.ask }
				})
				if err != nil || ack.Code != 0 {
					return verdict(false, refusal(ack, err))
				}
				c.Disconnect()
				got = append(got, fmt.Sprintf("%d → %d", k.ask, ack.Props.ServerKeepAlive))
				ok = ok && ack.Props.ServerKeepAliveFlag && ack.Props.ServerKeepAlive == k.want
			}
			return verdict(ok, strings.Join(got, ", "))
		}},
		{n: 17, expected: "connection closed", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(17, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: e.name(17, "dev"), Clean: true, Keepalive: 60}})
			closed, how := closedWithin(ctx, c, e.t.Wait)
			return verdict(closed, how)
		}},
		{n: 18, expected: "Max QoS 1, Retain Available 1, Wildcard 1, Subscription Identifiers 0, Topic Alias Max 8, Max Packet 149504, Receive Max 100", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, ack, err := e.dial(ctx, d, e.name(18, "dev"), client.V5)
			if err != nil || ack.Code != 0 {
				return verdict(false, refusal(ack, err))
			}
			c.Disconnect()
			p := ack.Props
			flag := func(set bool, v byte) string {
				if !set {
					return "absent (1)"
				}
				return fmt.Sprint(v)
			}
			obs := fmt.Sprintf("Max QoS %s, Retain Available %s, Wildcard %s, Subscription Identifiers %s, Topic Alias Max %d, Max Packet %d, Receive Max %d",
				flag(p.MaximumQosFlag, p.MaximumQos), flag(p.RetainAvailableFlag, p.RetainAvailable), flag(p.WildcardSubAvailableFlag, p.WildcardSubAvailable),
				flag(p.SubIDAvailableFlag, p.SubIDAvailable), p.TopicAliasMaximum, p.MaximumPacketSize, p.ReceiveMaximum)
			ok := p.MaximumQosFlag && p.MaximumQos == 1 && (!p.RetainAvailableFlag || p.RetainAvailable == 1) &&
				(!p.WildcardSubAvailableFlag || p.WildcardSubAvailable == 1) && p.SubIDAvailableFlag && p.SubIDAvailable == 0 &&
				p.TopicAliasMaximum == 8 && p.MaximumPacketSize == 146<<10 && p.ReceiveMaximum == 100
			return verdict(ok, obs)
		}},
		{n: 19, expected: "Session Expiry 7200 → CONNACK 3600", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, ack, err := e.dial(ctx, d, e.name(19, "dev"), client.V5, func(o *client.Options) { o.SessionExpiry = 7200 })
			if err != nil || ack.Code != 0 {
				return verdict(false, refusal(ack, err))
			}
			c.Disconnect()
			// Leave no session behind.
			if c2, _, err := e.dial(ctx, d, e.name(19, "dev"), client.V5); err == nil {
				c2.Disconnect()
			}
			return verdict(ack.Props.SessionExpiryIntervalFlag && ack.Props.SessionExpiryInterval == 3600,
				fmt.Sprintf("CONNACK Session Expiry %d (present %v)", ack.Props.SessionExpiryInterval, ack.Props.SessionExpiryIntervalFlag))
		}},
		{n: 20, expected: "DISCONNECT 0x82", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(20, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Auth}, ReasonCode: 0x18, Properties: packets.Properties{AuthenticationMethod: "x"}})
			closed, how := closedWithin(ctx, c, e.t.Wait)
			return verdict(closed && how == "DISCONNECT 0x82", how)
		}},
		{n: 21, expected: "PUBACK 0x00 with no subscriber", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(21, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(21, "nobody"), Payload: []byte("x"), QoS: 1})
			return verdict(err == nil && ack.Code == 0, pubOutcome(ack, err))
		}},
		{n: 22, expected: "3.1.1: closed; 5: DISCONNECT 0x9B", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			var obs []string
			ok := true
			for _, v := range []byte{client.V311, client.V5} {
				c, err := e.connected(ctx, d, e.name(22, fmt.Sprint(v)), v)
				if err != nil {
					return failed(err)
				}
				c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: e.topic(22, "t"), PacketID: 7, Payload: []byte("x")})
				closed, how := closedWithin(ctx, c, e.t.Wait)
				c.Disconnect()
				obs = append(obs, how)
				ok = ok && closed && (v == client.V311 || how == "DISCONNECT 0x9b")
			}
			return verdict(ok, "3.1.1: "+obs[0]+"; 5: "+obs[1])
		}},
		{n: 23, expected: "connection closed", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 23, allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(23, "ok"))))
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(23, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(23, "denied"), Payload: []byte("x"), QoS: 1})
			return verdict(errors.Is(err, client.ErrClosed), pubOutcome(ack, err))
		}},
		{n: 24, expected: "PUBACK 0x87, connection open", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 23, allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(23, "ok"))))
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(24, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(23, "denied"), Payload: []byte("x"), QoS: 1})
			closed, _ := closedWithin(ctx, c, e.t.Quiet)
			obs := pubOutcome(ack, err)
			if !closed {
				obs += ", still open"
			}
			return verdict(err == nil && ack.Code == 0x87 && !closed, obs)
		}},
		{n: 25, expected: "MQTT 5: PUBACK 0x87 for the retained publish, 0x00 for the plain one", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 25, allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(25, "*"))))
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(25, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			a1, e1 := c.Publish(ctx, client.Message{Topic: e.topic(25, "t"), Payload: []byte("x"), QoS: 1})
			a2, e2 := c.Publish(ctx, client.Message{Topic: e.topic(25, "t"), Payload: []byte("x"), QoS: 1, Retain: true})
			return verdict(e1 == nil && a1.Code == 0 && e2 == nil && a2.Code == 0x87, "plain: "+pubOutcome(a1, e1)+"; retained: "+pubOutcome(a2, e2))
		}},
		{n: 26, expected: "3.1.1: SUBACK [0x01 0x80]; 5: SUBACK 0x87", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 26, allow(aConnect, e.arn("client/*")), allow(aSubscribe, e.arn("topicfilter/"+e.topic(26, "ok"))))
			if err != nil {
				return failed(err)
			}
			c3, err := e.connected(ctx, d, e.name(26, "v3"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c3.Disconnect()
			codes3, err3 := c3.Subscribe(ctx, client.Sub{Filter: e.topic(26, "ok"), QoS: 1}, client.Sub{Filter: e.topic(26, "denied"), QoS: 1})
			c5, err := e.connected(ctx, d, e.name(26, "v5"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c5.Disconnect()
			codes5, err5 := c5.Subscribe(ctx, client.Sub{Filter: e.topic(26, "denied"), QoS: 1})
			obs := fmt.Sprintf("3.1.1: % x (%v); 5: % x (%v)", codes3, err3, codes5, err5)
			return verdict(bytes.Equal(codes3, []byte{1, 0x80}) && bytes.Equal(codes5, []byte{0x87}), obs)
		}},
		{n: 27, expected: "literal filter granted; a/abc/t refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			lit := e.topic(27, "+/t")
			d, err := e.restricted(ctx, 27, allow(aConnect, e.arn("client/*")), allow(aSubscribe, e.arn("topicfilter/"+lit)))
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(27, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			codes, err := c.Subscribe(ctx, client.Sub{Filter: lit, QoS: 1}, client.Sub{Filter: e.topic(27, "abc/t"), QoS: 1})
			return verdict(err == nil && bytes.Equal(codes, []byte{1, 0x87}), fmt.Sprintf("SUBACK % x", codes))
		}},
		{n: 28, expected: "a/b/c/d 0x00; b/xyz 0x00; b/xy 0x87", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 28, allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(28, "a/*")), e.arn("topic/"+e.topic(28, "b/???"))))
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(28, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			var got []string
			for _, t := range []string{"a/b/c/d", "b/xyz", "b/xy"} {
				ack, err := c.Publish(ctx, client.Message{Topic: e.topic(28, t), Payload: []byte("x"), QoS: 1})
				got = append(got, t+" "+pubOutcome(ack, err))
			}
			return verdict(slices.Equal(got, []string{"a/b/c/d PUBACK 0x00", "b/xyz PUBACK 0x00", "b/xy PUBACK 0x87"}), strings.Join(got, "; "))
		}},
		{n: 29, expected: "open delivered; secret/x not", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 29, allow(aConnect, e.arn("client/*")), allow(aSubscribe, e.arn("topicfilter/"+e.topic(29, "#"))),
				allow(aReceive, e.arn("topic/"+e.topic(29, "*"))), deny(aReceive, e.arn("topic/"+e.topic(29, "secret/*"))))
			if err != nil {
				return failed(err)
			}
			sub, err := e.connected(ctx, d, e.name(29, "sub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer sub.Disconnect()
			if _, err := sub.Subscribe(ctx, client.Sub{Filter: e.topic(29, "#"), QoS: 1}); err != nil {
				return failed(err)
			}
			o, _ := e.open(ctx)
			pub, err := e.connected(ctx, o, e.name(29, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer pub.Disconnect()
			pub.Publish(ctx, client.Message{Topic: e.topic(29, "secret/x"), Payload: []byte("s"), QoS: 1})
			pub.Publish(ctx, client.Message{Topic: e.topic(29, "open"), Payload: []byte("o"), QoS: 1})
			_, gotOpen := sub.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == e.topic(29, "open") })
			_, gotSecret := sub.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == e.topic(29, "secret/x") })
			return verdict(gotOpen && !gotSecret, fmt.Sprintf("open received %v, secret/x received %v", gotOpen, gotSecret))
		}},
		{n: 31, expected: "sensor/, sensor/t, sensor/t/r1; not sensor", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			base := e.topic(31, "sensor")
			sub, err := e.connected(ctx, d, e.name(31, "sub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer sub.Disconnect()
			if _, err := sub.Subscribe(ctx, client.Sub{Filter: base + "/#", QoS: 1}); err != nil {
				return failed(err)
			}
			pub, err := e.connected(ctx, d, e.name(31, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer pub.Disconnect()
			for _, t := range []string{base, base + "/", base + "/t", base + "/t/r1"} {
				pub.Publish(ctx, client.Message{Topic: t, Payload: []byte("x"), QoS: 1})
			}
			sub.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == base+"/t/r1" })
			sub.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return false })
			var got []string
			for _, m := range sub.Received() {
				got = append(got, strings.TrimPrefix(m.Topic, e.topic(31, "")))
			}
			return verdict(slices.Equal(got, []string{"sensor/", "sensor/t", "sensor/t/r1"}), "received "+strings.Join(got, ", "))
		}},
		{n: 32, expected: "refused (5: PUBACK 0x90 or DISCONNECT)", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(32, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(32, "+"), Payload: []byte("x"), QoS: 1})
			return verdict(errors.Is(err, client.ErrClosed) || (err == nil && ack.Code >= 0x80), pubOutcome(ack, err))
		}},
		{n: 33, expected: "8 slashes refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(33, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(33, "a/b/c/d/e/f/g/h"), Payload: []byte("x"), QoS: 1})
			return verdict(errors.Is(err, client.ErrClosed) || (err == nil && ack.Code >= 0x80), pubOutcome(ack, err))
		}},
		{n: 34, expected: "9 filters: refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(34, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			var subs []client.Sub
			for i := range 9 {
				subs = append(subs, client.Sub{Filter: e.topic(34, fmt.Sprint(i)), QoS: 1})
			}
			codes, err := c.Subscribe(ctx, subs...)
			refused := err != nil || slices.ContainsFunc(codes, func(b byte) bool { return b >= 0x80 })
			return verdict(refused, fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
		}},
		{n: 35, expected: "51st subscription refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(35, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			var last []byte
			for i := 0; i < 51; i += 8 {
				var subs []client.Sub
				for j := i; j < min(i+8, 51); j++ {
					subs = append(subs, client.Sub{Filter: e.topic(35, fmt.Sprint(j)), QoS: 1})
				}
				if last, err = c.Subscribe(ctx, subs...); err != nil {
					break
				}
			}
			refused := err != nil || (len(last) > 0 && last[len(last)-1] >= 0x80)
			return verdict(refused, fmt.Sprintf("last SUBACK % x %v", last, errText(err)))
		}},
		{n: 36, expected: "disconnected", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(36, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(36, "big"), Payload: make([]byte, 128<<10+1), QoS: 1})
			return verdict(errors.Is(err, client.ErrClosed), pubOutcome(ack, err))
		}},
		{n: 39, expected: "3.1.1: disconnected", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(39, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			ack, err := c.Publish(ctx, client.Message{Topic: "$aws/events/presence/connected/" + e.name(39, "dev"), Payload: []byte("{}"), QoS: 1})
			return verdict(errors.Is(err, client.ErrClosed), pubOutcome(ack, err))
		}},
		{n: 40, expected: "SUBSCRIBE to $aws/rules/… refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(40, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			codes, err := c.Subscribe(ctx, client.Sub{Filter: "$aws/rules/" + strings.ReplaceAll(e.name(40, "rule"), "-", "_") + "/x", QoS: 1})
			closed, _ := closedWithin(ctx, c, 0)
			return verdict(closed || (err == nil && len(codes) == 1 && codes[0] >= 0x80), fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
		}},
		{n: 41, expected: `subscribed event with "topics": [a, b]; unsubscribed likewise`, run: func(ctx context.Context, e *env) (string, exercises.Status) {
			id := e.name(41, "dev")
			w, err := e.watch(ctx, 41, "$aws/events/subscriptions/+/"+id)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			d, _ := e.open(ctx)
			c, err := e.connected(ctx, d, id, client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			a, b := e.topic(41, "a"), e.topic(41, "b")
			c.Subscribe(ctx, client.Sub{Filter: a, QoS: 1}, client.Sub{Filter: b, QoS: 1})
			c.Unsubscribe(ctx, a, b)
			sub, ok1 := e.jsonOn(ctx, w, "$aws/events/subscriptions/subscribed/"+id)
			uns, ok2 := e.jsonOn(ctx, w, "$aws/events/subscriptions/unsubscribed/"+id)
			want := fmt.Sprint([]any{a, b})
			obs := fmt.Sprintf("subscribed %v %v; unsubscribed %v %v", sub["eventType"], sub["topics"], uns["eventType"], uns["topics"])
			return verdict(ok1 && ok2 && fmt.Sprint(sub["topics"]) == want && fmt.Sprint(uns["topics"]) == want &&
				sub["eventType"] == "subscribed" && uns["eventType"] == "unsubscribed", obs)
		}},
		{n: 42, expected: "DISCONNECT: CLIENT_INITIATED_DISCONNECT, no will; drop: CONNECTION_LOST, will", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			polite, rude := e.name(42, "polite"), e.name(42, "rude")
			will := e.topic(42, "will")
			w, err := e.watch(ctx, 42, "$aws/events/presence/disconnected/+", will)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			d, _ := e.open(ctx)
			var obs []string
			ok := true
			for _, k := range []struct {
				id, reason string
				drop       bool
			}{{polite, "CLIENT_INITIATED_DISCONNECT", false}, {rude, "CONNECTION_LOST", true}} {
				c, err := e.connected(ctx, d, k.id, client.V311, func(o *client.Options) {
					o.Will = &client.Message{Topic: will, Payload: []byte(k.id), QoS: 1}
				})
				if err != nil {
					return failed(err)
				}
				if k.drop {
					c.Drop()
				} else {
					c.Disconnect()
				}
				ev, _ := e.jsonOn(ctx, w, "$aws/events/presence/disconnected/"+k.id)
				wait := e.t.Quiet
				if k.drop {
					wait = e.t.Wait
				}
				_, willSent := w.WaitFor(ctx, wait, func(m client.Message) bool { return m.Topic == will && string(m.Payload) == k.id })
				obs = append(obs, fmt.Sprintf("%v (client initiated %v), will %v", ev["disconnectReason"], ev["clientInitiatedDisconnect"], willSent))
				ok = ok && ev["disconnectReason"] == k.reason && willSent == k.drop && ev["clientInitiatedDisconnect"] == !k.drop
			}
			return verdict(ok, "DISCONNECT: "+obs[0]+"; drop: "+obs[1])
		}},
		{n: 43, expected: "connect and disconnect share versionNumber; a reconnect gets a larger one", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			id := e.name(43, "dev")
			w, err := e.watch(ctx, 43, "$aws/events/presence/+/"+id)
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			d, _ := e.open(ctx)
			var vs []string
			for range 2 {
				c, err := e.connected(ctx, d, id, client.V311)
				if err != nil {
					return failed(err)
				}
				c.Disconnect()
			}
			for i := 0; i < 4; i++ {
				m, err := w.Next(ctx)
				if err != nil {
					break
				}
				var ev struct {
					EventType     string `json:"eventType"`
					VersionNumber int64  `json:"versionNumber"`
				}
				if jsonUnmarshal(m.Payload, &ev) == nil {
					vs = append(vs, fmt.Sprintf("%s %d", ev.EventType, ev.VersionNumber))
				}
			}
			ok := len(vs) == 4
			var n [4]int64
			for i, v := range vs {
				fmt.Sscanf(v[strings.LastIndex(v, " ")+1:], "%d", &n[i])
			}
			ok = ok && n[0] == n[1] && n[2] == n[3] && n[2] > n[0]
			return verdict(ok, strings.Join(vs, ", "))
		}},
		{n: 44, expected: "connection refused", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.restricted(ctx, 44, allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(44, "ok"))))
			if err != nil {
				return failed(err)
			}
			_, ack, err := e.dial(ctx, d, e.name(44, "dev"), client.V311, func(o *client.Options) {
				o.Will = &client.Message{Topic: e.topic(44, "denied"), Payload: []byte("x")}
			})
			return verdict(err != nil || ack.Code != 0, refusal(ack, err))
		}},
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
