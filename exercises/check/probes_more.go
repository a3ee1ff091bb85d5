package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// moreProbes cover items that need a second look at the same mechanisms: lifecycle filtering, the
// connect quota, live policy changes, group policies, the HTTP shadow API, binary payloads in rules.
func moreProbes() []probe {
	return []probe{
		{n: 14, expected: "no connected event for a client id with +; one for a plain id", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			plus, plain := e.name(14, "a+b"), e.name(14, "plain")
			w, err := e.watch(ctx, 14, "$aws/events/presence/connected/#")
			if err != nil {
				return failed(err)
			}
			defer w.Disconnect()
			d, _ := e.open(ctx)
			for _, id := range []string{plus, plain} {
				c, err := e.connected(ctx, d, id, client.V311)
				if err != nil {
					return failed(err)
				}
				c.Disconnect()
			}
			_, gotPlain := w.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == "$aws/events/presence/connected/"+plain })
			_, gotPlus := w.WaitFor(ctx, 0, func(m client.Message) bool { return bytes.Contains(m.Payload, []byte(plus)) })
			return verdict(gotPlain && !gotPlus, fmt.Sprintf("event for the plain id %v; for the id with + %v", gotPlain, gotPlus))
		}},
		{n: 15, expected: "a second CONNECT within the second is refused (5: CONNACK 0x97)", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			id := e.name(15, "dev")
			c, err := e.connected(ctx, d, id, client.V5)
			if err != nil {
				return failed(err)
			}
			c.Disconnect()
			// Straight away, bypassing the probes' own pacing.
			c2, ack, err := d.Dial(ctx, e.t, client.Options{Version: client.V5, ClientID: id, Clean: true})
			if err == nil && ack.Code == 0 {
				c2.Disconnect()
			}
			return verdict(err == nil && ack.Code == 0x97, "second CONNECT: "+refusal(ack, err))
		}},
		{n: 30, expected: "deliveries stop without a new SUBSCRIBE", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			st := []stmt{allow(aConnect, e.arn("client/*")), allow(aSubscribe, e.arn("topicfilter/"+e.topic(30, "*"))), allow(aReceive, e.arn("topic/"+e.topic(30, "*")))}
			d, err := e.restricted(ctx, 30, st...)
			if err != nil {
				return failed(err)
			}
			t := e.topic(30, "t")
			sub, err := e.connected(ctx, d, e.name(30, "sub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer sub.Disconnect()
			sub.Subscribe(ctx, client.Sub{Filter: t, QoS: 1})
			o, _ := e.open(ctx)
			pub, err := e.connected(ctx, o, e.name(30, "pub"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer pub.Disconnect()
			pub.Publish(ctx, client.Message{Topic: t, Payload: []byte("before"), QoS: 1})
			if _, ok := sub.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return string(m.Payload) == "before" }); !ok {
				return "the first message was not delivered", exercises.Fail
			}
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st[:2]})
			if _, err := e.t.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(e.n.Prefix + "p30"), PolicyDocument: aws.String(string(doc)), SetAsDefault: true}); err != nil {
				return failed(err)
			}
			deadline := time.Now().Add(e.t.Wait)
			for i := 0; time.Now().Before(deadline); i++ {
				msg := fmt.Sprint("after-", i)
				pub.Publish(ctx, client.Message{Topic: t, Payload: []byte(msg), QoS: 1})
				if _, ok := sub.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return string(m.Payload) == msg }); !ok {
					return fmt.Sprintf("delivered before the change; not after it (attempt %d)", i+1), exercises.Pass
				}
			}
			return "still delivered after the policy lost iot:Receive", exercises.Fail
		}},
		{n: 48, expected: "DISCONNECT 0x82 (protocol error)", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			d, err := e.open(ctx)
			if err != nil {
				return failed(err)
			}
			c, err := e.connected(ctx, d, e.name(48, "dev"), client.V5)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, Properties: packets.Properties{SessionExpiryInterval: 60, SessionExpiryIntervalFlag: true}})
			closed, how := closedWithin(ctx, c, e.t.Wait)
			return verdict(closed && how == "DISCONNECT 0x82", how)
		}},
		{n: 77, expected: "CONNACK 0 through the parent group's policy", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			parent, child := e.name(77, "parent"), e.name(77, "child")
			var parentArn string
			for _, g := range []struct{ name, parent string }{{parent, ""}, {child, parent}} {
				in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
				if g.parent != "" {
					in.ParentGroupName = aws.String(g.parent)
				}
				out, err := e.t.IoT.CreateThingGroup(ctx, in)
				if err != nil {
					return failed(err)
				}
				if g.parent == "" {
					parentArn = aws.ToString(out.ThingGroupArn)
				}
				e.record(target.Resource{Kind: target.KindThingGroup, Name: g.name})
			}
			d, err := e.device(ctx, "p77-dev", "")
			if err != nil {
				return failed(err)
			}
			if _, err := e.t.IoT.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(d.Thing), ThingGroupName: aws.String(child)}); err != nil {
				return failed(err)
			}
			pol, err := e.policy(ctx, "p77", []stmt{allow(aConnect, e.arn("client/${iot:Connection.Thing.ThingName}"))})
			if err != nil {
				return failed(err)
			}
			if _, err := e.t.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(pol), Target: aws.String(parentArn)}); err != nil {
				return failed(err)
			}
			e.record(target.Resource{Kind: target.KindPolicyTarget, Name: pol, Target: parentArn})
			c, ack, err := e.dial(ctx, d, d.Thing, client.V311)
			if err == nil && ack.Code == 0 {
				c.Disconnect()
			}
			return verdict(err == nil && ack.Code == 0, refusal(ack, err))
		}},
		{n: 91, expected: "GetThingShadow over HTTP (SigV4) returns the MQTT update", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 91)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			s.do(ctx, "update", `{"state": {"reported": {"door": "closed"}}}`)
			out, err := e.t.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(s.thing)})
			if err != nil {
				return failed(err)
			}
			var doc map[string]any
			json.Unmarshal(out.Payload, &doc)
			return verdict(get(doc, "state.reported.door") == "closed", fmt.Sprintf("reported door %v", get(doc, "state.reported.door")))
		}},
		{n: 98, expected: "SELECT * republishes the bytes unchanged; SELECT temp does not fire", needs: exercises.CapRuleRole, run: func(ctx context.Context, e *env) (string, exercises.Status) {
			mk := func(n, sql, to string) error {
				name := ruleName(e, 98, n)
				_, err := e.t.IoT.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), TopicRulePayload: &types.TopicRulePayload{
					Sql: aws.String(sql), AwsIotSqlVersion: aws.String("2016-03-23"),
					Actions: []types.Action{{Republish: &types.RepublishAction{Topic: aws.String(to), RoleArn: aws.String(e.t.RuleRoleARN), Qos: aws.Int32(1)}}}}})
				if err == nil {
					e.record(target.Resource{Kind: target.KindRule, Name: name})
				}
				return err
			}
			if err := errors.Join(mk("all", fmt.Sprintf("SELECT * FROM '%s'", e.topic(98, "bin")), e.topic(98, "out")),
				mk("field", fmt.Sprintf("SELECT temp FROM '%s'", e.topic(98, "bin")), e.topic(98, "field"))); err != nil {
				return failed(err)
			}
			d, _ := e.open(ctx)
			c, err := e.connected(ctx, d, e.name(98, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Subscribe(ctx, client.Sub{Filter: e.topic(98, "out"), QoS: 1}, client.Sub{Filter: e.topic(98, "field"), QoS: 1})
			bin := []byte{0x00, 0xff, 0x10, 0x80}
			c.Publish(ctx, client.Message{Topic: e.topic(98, "bin"), Payload: bin, QoS: 1})
			m, got := c.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == e.topic(98, "out") })
			_, field := c.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == e.topic(98, "field") })
			return verdict(got && bytes.Equal(m.Payload, bin) && !field, fmt.Sprintf("SELECT *: % x; SELECT temp fired %v", m.Payload, field))
		}},
	}
}
