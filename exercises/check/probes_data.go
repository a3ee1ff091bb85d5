package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/target"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func thingRes(name string) target.Resource {
	return target.Resource{Kind: target.KindThing, Name: name}
}

// sessionProbes cover sessions, retained messages and MQTT 5 features (checklist 45–60).
func sessionProbes() []probe {
	return []probe{
		{n: 45, expected: "session present 1; QoS 1 delivered; QoS 0 not", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			id, t := e.name(45, "sub"), e.topic(45, "t")
			persistent := func(o *client.Options) { o.Clean = false }
			s, err := e.connected(ctx, d, id, client.V311, persistent)
			if err != nil {
				return failed(err)
			}
			s.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			s.Disconnect()
			p, err := e.connected(ctx, d, e.name(45, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("q1"), QoS: 1})
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("q0"), QoS: 0})
			p.Disconnect()
			s2, ack, err := e.dial(ctx, d, id, client.V311, persistent)
			if err != nil || ack.Code != 0 {
				return verdict(false, refusal(ack, err))
			}
			_, got1 := s2.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return string(m.Payload) == "q1" })
			_, got0 := s2.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return string(m.Payload) == "q0" })
			s2.Disconnect()
			// End the session.
			if c, _, err := e.dial(ctx, d, id, client.V311); err == nil {
				c.Disconnect()
			}
			return verdict(ack.SessionPresent && got1 && !got0, fmt.Sprintf("session present %v; QoS 1 delivered %v; QoS 0 delivered %v", ack.SessionPresent, got1, got0))
		}},
		{n: 47, expected: "session present 0", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			id := e.name(47, "dev")
			c, err := e.connected(ctx, d, id, client.V311, func(o *client.Options) { o.Clean = false })
			if err != nil {
				return failed(err)
			}
			c.Subscribe(ctx, client.Sub{Filter: e.topic(47, "t"), QoS: 1})
			c.Disconnect()
			c5, ack, err := e.dial(ctx, d, id, client.V5, func(o *client.Options) { o.Clean, o.SessionExpiry = false, 60 })
			if err != nil || ack.Code != 0 {
				return verdict(false, refusal(ack, err))
			}
			c5.Disconnect()
			if c, _, err := e.dial(ctx, d, id, client.V311); err == nil {
				c.Disconnect()
			}
			return verdict(!ack.SessionPresent, fmt.Sprintf("session present %v", ack.SessionPresent))
		}},
		{n: 49, expected: "persistent connect refused; clean connect accepted", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			st := stmt{Effect: "Allow", Action: aConnect, Resource: []string{e.arn("client/*")},
				Condition: map[string]any{"ForAllValues:StringNotEquals": map[string]any{"iot:ConnectAttributes": []string{"PersistentConnect"}}}}
			d, err := e.restricted(ctx, 49, st)
			if err != nil {
				return failed(err)
			}
			_, ackP, errP := e.dial(ctx, d, e.name(49, "persistent"), client.V311, func(o *client.Options) { o.Clean = false })
			c, ackC, errC := e.dial(ctx, d, e.name(49, "clean"), client.V311)
			if errC == nil && ackC.Code == 0 {
				c.Disconnect()
			}
			return verdict(errP != nil && errC == nil && ackC.Code == 0, "persistent: "+refusal(ackP, errP)+"; clean: "+refusal(ackC, errC))
		}},
		{n: 50, expected: "exact subscriber gets it (RETAIN 1); wildcard subscriber does not", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(50, "room/temp")
			p, err := e.connected(ctx, d, e.name(50, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			if ack, err := p.Publish(ctx, client.Message{Topic: t, Payload: []byte("21"), QoS: 1, Retain: true}); err != nil || ack.Code != 0 {
				return verdict(false, "retained publish: "+pubOutcome(ack, err))
			}
			e.record(target.Resource{Kind: target.KindRetained, Name: t})
			exact, err := e.connected(ctx, d, e.name(50, "exact"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer exact.Disconnect()
			exact.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			wild, err := e.connected(ctx, d, e.name(50, "wild"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer wild.Disconnect()
			wild.Subscribe(ctx, client.Sub{Filter: e.topic(50, "+/temp"), QoS: 1})
			m, gotExact := exact.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == t })
			_, gotWild := wild.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == t })
			return verdict(gotExact && m.Retain && !gotWild, fmt.Sprintf("exact: received %v (retain %v); wildcard: received %v", gotExact, m.Retain, gotWild))
		}},
		{n: 51, expected: "RETAIN 0", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(51, "t")
			s, err := e.connected(ctx, d, e.name(51, "sub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer s.Disconnect()
			s.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			p, err := e.connected(ctx, d, e.name(51, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("x"), QoS: 1, Retain: true})
			e.record(target.Resource{Kind: target.KindRetained, Name: t})
			m, ok := s.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == t })
			return verdict(ok && !m.Retain, fmt.Sprintf("received %v, retain %v", ok, m.Retain))
		}},
		{n: 52, expected: "GetRetainedMessage 404 ResourceNotFoundException; the subscriber receives the empty message", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(52, "t")
			p, err := e.connected(ctx, d, e.name(52, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("x"), QoS: 1, Retain: true})
			e.record(target.Resource{Kind: target.KindRetained, Name: t})
			s, err := e.connected(ctx, d, e.name(52, "sub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer s.Disconnect()
			s.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			s.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == t })
			p.Publish(ctx, client.Message{Topic: t, QoS: 1, Retain: true})
			_, gotEmpty := s.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == t && len(m.Payload) == 0 })
			_, err = e.t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(t)})
			return verdict(code(err) == "ResourceNotFoundException" && gotEmpty, fmt.Sprintf("GetRetainedMessage: %s; empty message received %v", code(err), gotEmpty))
		}},
		{n: 53, expected: "GetRetainedMessage {topic, payload, qos, lastModifiedTime}; ListRetainedMessages lists the topic", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(53, "t")
			p, err := e.connected(ctx, d, e.name(53, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("21.5"), QoS: 1, Retain: true})
			e.record(target.Resource{Kind: target.KindRetained, Name: t})
			g, err := e.t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(t)})
			if err != nil {
				return failed(err)
			}
			listed := false
			pg := iotdataplane.NewListRetainedMessagesPaginator(e.t.Data, &iotdataplane.ListRetainedMessagesInput{})
			for pg.HasMorePages() && !listed {
				out, err := pg.NextPage(ctx)
				if err != nil {
					return failed(err)
				}
				for _, r := range out.RetainedTopics {
					listed = listed || aws.ToString(r.Topic) == t
				}
			}
			obs := fmt.Sprintf("topic %s, payload %q, qos %d, lastModifiedTime %d; listed %v", aws.ToString(g.Topic), g.Payload, g.Qos, g.LastModifiedTime, listed)
			return verdict(aws.ToString(g.Topic) == t && string(g.Payload) == "21.5" && g.Qos == 1 && g.LastModifiedTime > 0 && listed, obs)
		}},
		{n: 54, expected: "HTTP Publish retain=true is retained; retain with an empty body deletes it", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			t := e.topic(54, "t")
			if _, err := e.t.Data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(t), Qos: 1, Retain: true, Payload: []byte("on")}); err != nil {
				return failed(err)
			}
			e.record(target.Resource{Kind: target.KindRetained, Name: t})
			g, err := e.t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(t)})
			if err != nil {
				return failed(err)
			}
			if _, err := e.t.Data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(t), Qos: 1, Retain: true}); err != nil {
				return failed(err)
			}
			_, err = e.t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(t)})
			return verdict(string(g.Payload) == "on" && code(err) == "ResourceNotFoundException", fmt.Sprintf("retained %q; after an empty one: %s", g.Payload, code(err)))
		}},
		{n: 56, expected: "user property and content type reach the MQTT 5 subscriber", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(56, "t")
			s, err := e.connected(ctx, d, e.name(56, "sub"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer s.Disconnect()
			s.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			p, err := e.connected(ctx, d, e.name(56, "pub"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			p.Publish(ctx, client.Message{Topic: t, Payload: []byte("{}"), QoS: 1, Props: packets.Properties{ContentType: "application/json",
				User: []packets.UserProperty{{Key: "room", Val: "hall"}}}})
			m, ok := s.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == t })
			obs := fmt.Sprintf("content type %q, user properties %v", m.Props.ContentType, m.Props.User)
			return verdict(ok && m.Props.ContentType == "application/json" && len(m.Props.User) == 1 && m.Props.User[0] == packets.UserProperty{Key: "room", Val: "hall"}, obs)
		}},
		{n: 57, expected: "DISCONNECT 0x94", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(57, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Publish(ctx, client.Message{Topic: e.topic(57, "t"), Payload: []byte("x"), QoS: 1, Props: packets.Properties{TopicAlias: 9, TopicAliasFlag: true}})
			closed, how := closedWithin(ctx, c, e.t.Wait)
			return verdict(closed && how == "DISCONNECT 0x94", how)
		}},
		{n: 58, expected: "DISCONNECT 0xA1", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(58, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.SubscribeWith(ctx, packets.Properties{SubscriptionIdentifier: []int{5}}, client.Sub{Filter: e.topic(58, "t"), QoS: 1})
			closed, how := closedWithin(ctx, c, e.t.Wait)
			return verdict(closed && how == "DISCONNECT 0xa1", how)
		}},
		{n: 59, expected: "each of 6 messages to exactly one member", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			t := e.topic(59, "t")
			var members []*client.Conn
			for i := range 2 {
				c, err := e.connected(ctx, d, e.name(59, fmt.Sprint("m", i)), client.V5)
				if err != nil {
					return failed(err)
				}
				defer c.Disconnect()
				if codes, err := c.Subscribe(ctx, client.Sub{Filter: "$share/g/" + t, QoS: 1}); err != nil || len(codes) != 1 || codes[0] >= 0x80 {
					return verdict(false, fmt.Sprintf("shared SUBACK % x %v", codes, errText(err)))
				}
				members = append(members, c)
			}
			p, err := e.connected(ctx, d, e.name(59, "pub"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer p.Disconnect()
			for i := range 6 {
				p.Publish(ctx, client.Message{Topic: t, Payload: fmt.Appendf(nil, "%d", i), QoS: 1})
			}
			deadline := time.Now().Add(e.t.Wait)
			count := func() map[string]int {
				n := map[string]int{}
				for _, m := range members {
					for _, msg := range m.Received() {
						n[string(msg.Payload)]++
					}
				}
				return n
			}
			for len(count()) < 6 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			members[0].WaitFor(ctx, e.t.Quiet, func(client.Message) bool { return false })
			n := count()
			ok := len(n) == 6
			for _, c := range n {
				ok = ok && c == 1
			}
			return verdict(ok, fmt.Sprintf("deliveries per message %v (members got %d and %d)", n, len(members[0].Received()), len(members[1].Received())))
		}},
	}
}

// controlProbes cover the control plane (checklist 61–80).
func controlProbes() []probe {
	thing := func(ctx context.Context, e *env, name string, attrs map[string]string, typ string) error {
		in := &iot.CreateThingInput{ThingName: aws.String(name)}
		if len(attrs) > 0 {
			in.AttributePayload = &types.AttributePayload{Attributes: attrs}
		}
		if typ != "" {
			in.ThingTypeName = aws.String(typ)
		}
		_, err := e.t.IoT.CreateThing(ctx, in)
		if err == nil {
			e.record(thingRes(name))
		}
		return err
	}
	return []probe{
		{n: 61, expected: "identical: ok; other attributes: ResourceAlreadyExistsException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			name := e.name(61, "thing")
			e1 := thing(ctx, e, name, map[string]string{"room": "hall"}, "")
			e2 := thing(ctx, e, name, map[string]string{"room": "hall"}, "")
			e3 := thing(ctx, e, name, map[string]string{"room": "attic"}, "")
			return verdict(e1 == nil && e2 == nil && code(e3) == "ResourceAlreadyExistsException", join(code(e1), code(e2), code(e3)))
		}},
		{n: 62, expected: "InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			err := thing(ctx, e, e.name(62, "thing"), map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}, "")
			return verdict(code(err) == "InvalidRequestException", code(err))
		}},
		{n: 63, expected: "InvalidRequestException twice", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			e1 := thing(ctx, e, e.name(63, "thing"), map[string]string{"room": "living room"}, "")
			e2 := thing(ctx, e, e.name(63, "a/b"), nil, "")
			return verdict(code(e1) == "InvalidRequestException" && code(e2) == "InvalidRequestException", join(code(e1), code(e2)))
		}},
		{n: 64, expected: "stale: VersionConflictException; current: ok, version 2", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			name := e.name(64, "thing")
			if err := thing(ctx, e, name, map[string]string{"room": "hall"}, ""); err != nil {
				return failed(err)
			}
			_, e1 := e.t.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(name), ExpectedVersion: aws.Int64(7),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "kitchen"}}})
			_, e2 := e.t.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(name), ExpectedVersion: aws.Int64(1),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "kitchen"}}})
			out, err := e.t.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
			if err != nil {
				return failed(err)
			}
			return verdict(code(e1) == "VersionConflictException" && e2 == nil && out.Version == 2, fmt.Sprintf("%s; %s, version %d", code(e1), code(e2), out.Version))
		}},
		{n: 65, expected: "missing: ok; attached: InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			_, e1 := e.t.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(e.name(65, "never"))})
			d, err := e.device(ctx, "p65-dev", "")
			if err != nil {
				return failed(err)
			}
			_, e2 := e.t.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(d.Thing)})
			return verdict(e1 == nil && code(e2) == "InvalidRequestException", join(code(e1), code(e2)))
		}},
		{n: 66, expected: "InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			name := e.name(66, "type")
			if _, err := e.t.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(name)}); err != nil {
				return failed(err)
			}
			e.record(target.Resource{Kind: target.KindThingType, Name: name})
			_, err := e.t.IoT.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String(name)})
			return verdict(code(err) == "InvalidRequestException", code(err))
		}},
		{n: 67, expected: "deleting a group with a child: InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			parent, child := e.name(67, "parent"), e.name(67, "child")
			for _, g := range []struct{ name, parent string }{{parent, ""}, {child, parent}} {
				in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
				if g.parent != "" {
					in.ParentGroupName = aws.String(g.parent)
				}
				if _, err := e.t.IoT.CreateThingGroup(ctx, in); err != nil {
					return failed(err)
				}
				e.record(target.Resource{Kind: target.KindThingGroup, Name: g.name})
			}
			_, err := e.t.IoT.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(parent)})
			return verdict(code(err) == "InvalidRequestException", code(err))
		}},
		{n: 68, expected: "RSA 2048, id = SHA-256 of the DER, INACTIVE without setAsActive", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			out, err := e.t.IoT.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{})
			if err != nil {
				return failed(err)
			}
			id := aws.ToString(out.CertificateId)
			e.record(target.Resource{Kind: target.KindCertificate, Name: "p68", ID: id})
			desc, err := e.t.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
			if err != nil {
				return failed(err)
			}
			keyType, sha := certFacts(aws.ToString(out.CertificatePem), aws.ToString(out.KeyPair.PrivateKey))
			status := string(desc.CertificateDescription.Status)
			return verdict(keyType == "RSA 2048" && sha == id && status == "INACTIVE", fmt.Sprintf("%s, id is SHA-256 %v, %s", keyType, sha == id, status))
		}},
		{n: 69, expected: "RSA 1024 CSR: InvalidRequestException; the same CSR twice: two certificates", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			weak, err := csr(1024)
			if err != nil {
				return failed(err)
			}
			_, e1 := e.t.IoT.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(weak)})
			good, err := csr(0)
			if err != nil {
				return failed(err)
			}
			var ids []string
			for range 2 {
				out, err := e.t.IoT.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(good)})
				if err != nil {
					return failed(err)
				}
				ids = append(ids, aws.ToString(out.CertificateId))
				e.record(target.Resource{Kind: target.KindCertificate, Name: "p69", ID: aws.ToString(out.CertificateId)})
			}
			return verdict(code(e1) == "InvalidRequestException" && ids[0] != ids[1], fmt.Sprintf("RSA 1024: %s; two ids differ %v", code(e1), ids[0] != ids[1]))
		}},
		{n: 70, expected: "ResourceAlreadyExistsException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			_, err = e.t.IoT.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(d.CertPEM)})
			return verdict(code(err) == "ResourceAlreadyExistsException", code(err))
		}},
		{n: 71, expected: "InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.device(ctx, "p71-dev", "")
			if err != nil {
				return failed(err)
			}
			_, err = e.t.IoT.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(d.CertID), NewStatus: "PENDING_ACTIVATION"})
			return verdict(code(err) == "InvalidRequestException", code(err))
		}},
		{n: 72, expected: "CertificateStateException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.device(ctx, "p71-dev", "")
			if err != nil {
				return failed(err)
			}
			_, err = e.t.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(d.CertID)})
			return verdict(code(err) == "CertificateStateException", code(err))
		}},
		{n: 73, expected: "MalformedPolicyException; default version 1", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			_, e1 := e.t.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(e.name(73, "bad")), PolicyDocument: aws.String(`{"Version": "2012-10-17", "Statement": [`)})
			name, err := e.policy(ctx, "p73-good", []stmt{allow(aConnect, e.arn("client/x"))})
			if err != nil {
				return failed(err)
			}
			out, err := e.t.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
			if err != nil {
				return failed(err)
			}
			return verdict(code(e1) == "MalformedPolicyException" && aws.ToString(out.DefaultVersionId) == "1", fmt.Sprintf("%s; default version %s", code(e1), aws.ToString(out.DefaultVersionId)))
		}},
		{n: 74, expected: "6th version: VersionsLimitExceededException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			name, err := e.policy(ctx, "p74", []stmt{allow(aConnect, e.arn("client/x"))})
			if err != nil {
				return failed(err)
			}
			var last error
			for i := range 5 {
				_, last = e.t.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(name),
					PolicyDocument: aws.String(fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "%s"}]}`, e.arn(fmt.Sprint("client/x", i))))})
				if last != nil && i < 4 {
					return failed(last)
				}
			}
			return verdict(code(last) == "VersionsLimitExceededException", code(last))
		}},
		{n: 75, expected: "the connected client's next publish is refused, without a reconnect", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			st := []stmt{allow(aConnect, e.arn("client/*")), allow(aPublish, e.arn("topic/"+e.topic(75, "*")))}
			d, err := e.restricted(ctx, 75, st...)
			if err != nil {
				return failed(err)
			}
			name := e.n.Prefix + "p75"
			c, err := e.connected(ctx, d, e.name(75, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			before, err := c.Publish(ctx, client.Message{Topic: e.topic(75, "t"), Payload: []byte("x"), QoS: 1})
			if err != nil {
				return failed(err)
			}
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st[:1]})
			if _, err := e.t.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(name), PolicyDocument: aws.String(string(doc)), SetAsDefault: true}); err != nil {
				return failed(err)
			}
			var after client.PubAck
			deadline := time.Now().Add(e.t.Wait)
			for {
				after, err = c.Publish(ctx, client.Message{Topic: e.topic(75, "t"), Payload: []byte("x"), QoS: 1})
				if err != nil || after.Code >= 0x80 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			return verdict(before.Code == 0 && err == nil && after.Code == 0x87, fmt.Sprintf("before: PUBACK 0x%02x; after: %s", before.Code, pubOutcome(after, err)))
		}},
		{n: 76, expected: "11th AttachPolicy: LimitExceededException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.device(ctx, "p76-dev", "")
			if err != nil {
				return failed(err)
			}
			var last error
			for i := range 11 {
				name, err := e.policy(ctx, fmt.Sprintf("p76-%d", i), []stmt{allow(aConnect, e.arn("client/x"))})
				if err != nil {
					return failed(err)
				}
				_, last = e.t.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(name), Target: aws.String(d.CertARN)})
				if last == nil {
					e.record(target.Resource{Kind: target.KindPolicyTarget, Name: name, Target: d.CertARN})
				} else if i < 10 {
					return failed(last)
				}
			}
			return verdict(code(last) == "LimitExceededException", code(last))
		}},
		{n: 78, expected: "missing rule: UnauthorizedException; bad SQL: SqlParseException; name with -: InvalidRequestException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			_, e1 := e.t.IoT.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String(ruleName(e, 78, "missing"))})
			rule := func(name, sql string) error {
				_, err := e.t.IoT.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), TopicRulePayload: &types.TopicRulePayload{
					Sql: aws.String(sql), Actions: []types.Action{}}})
				if err == nil {
					e.record(target.Resource{Kind: target.KindRule, Name: name})
				}
				return err
			}
			e2 := rule(ruleName(e, 78, "badsql"), "SELECT FROM WHERE")
			e3 := rule(e.name(78, "dash-name"), "SELECT * FROM 'a'")
			return verdict(code(e1) == "UnauthorizedException" && code(e2) == "SqlParseException" && code(e3) == "InvalidRequestException", join(code(e1), code(e2), code(e3)))
		}},
		{n: 80, expected: "the SDK raises the modelled ResourceNotFoundException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			_, err := e.t.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(e.name(80, "never"))})
			var nf *types.ResourceNotFoundException
			return verdict(errors.As(err, &nf), fmt.Sprintf("%T", unwrapAPI(err)))
		}},
		{n: 93, expected: "NotConfiguredException", localOnly: "it reads account-wide logging settings that an account may have set", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			_, err := e.t.IoT.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
			if err == nil {
				return "logging is already configured on this instance: nothing to observe", exercises.NotApplicable
			}
			return verdict(code(err) == "NotConfiguredException", code(err))
		}},
	}
}

func ruleName(e *env, n int, rest string) string {
	return strings.NewReplacer("-", "_").Replace(e.name(n, rest))
}
