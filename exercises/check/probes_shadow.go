package check

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/target"
)

// shadowConn is a client subscribed to every response topic of a thing's shadows.
type shadowConn struct {
	c     *client.Conn
	base  string // $aws/things/<thing>/shadow/
	thing string
	e     *env
}

func (e *env) shadow(ctx context.Context, n int) (*shadowConn, error) {
	d, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	thing := e.name(n, "thing")
	if _, err := e.t.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		return nil, err
	}
	e.record(thingRes(thing))
	e.record(target.Resource{Kind: target.KindShadow, Name: thing})
	c, err := e.connected(ctx, d, e.name(n, "dev"), client.V311)
	if err != nil {
		return nil, err
	}
	base := "$aws/things/" + thing + "/shadow/"
	if codes, err := c.Subscribe(ctx, client.Sub{Filter: base + "#", QoS: 1}); err != nil || codes[0] >= 0x80 {
		c.Disconnect()
		return nil, fmt.Errorf("subscribe %s#: % x %v", base, codes, err)
	}
	return &shadowConn{c: c, base: base, thing: thing, e: e}, nil
}

// do publishes to <base><op> and waits for <op>/accepted or <op>/rejected (after skip earlier answers).
func (s *shadowConn) do(ctx context.Context, op, payload string) (outcome string, doc map[string]any) {
	before := len(s.c.Received())
	if _, err := s.c.Publish(ctx, client.Message{Topic: s.base + op, Payload: []byte(payload), QoS: 1}); err != nil {
		return "error: " + err.Error(), nil
	}
	n := 0
	m, ok := s.c.WaitFor(ctx, s.e.t.Wait, func(m client.Message) bool {
		n++
		return n > before && (m.Topic == s.base+op+"/accepted" || m.Topic == s.base+op+"/rejected")
	})
	if !ok {
		return "no answer", nil
	}
	json.Unmarshal(m.Payload, &doc)
	return strings.TrimPrefix(m.Topic, s.base+op+"/"), doc
}

// since reports whether a message arrived on <base>rest after the first skip messages.
func (s *shadowConn) since(ctx context.Context, skip int, rest string, wait bool) (map[string]any, bool) {
	d := s.e.t.Quiet
	if wait {
		d = s.e.t.Wait
	}
	n := 0
	m, ok := s.c.WaitFor(ctx, d, func(m client.Message) bool {
		n++
		return n > skip && m.Topic == s.base+rest
	})
	if !ok {
		return nil, false
	}
	var doc map[string]any
	json.Unmarshal(m.Payload, &doc)
	return doc, true
}

func get(doc map[string]any, path string) any {
	var v any = doc
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// shadowProbes cover the Device Shadow service (checklist 81–89).
func shadowProbes() []probe {
	return []probe{
		{n: 81, expected: "update/accepted, update/documents and update/delta {color: red}", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 81)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			skip := len(s.c.Received())
			res, _ := s.do(ctx, "update", `{"state": {"desired": {"color": "red"}}}`)
			_, docs := s.since(ctx, skip, "update/documents", true)
			delta, gotDelta := s.since(ctx, skip, "update/delta", true)
			ok := res == "accepted" && docs && gotDelta && reflect.DeepEqual(get(delta, "state"), map[string]any{"color": "red"})
			return verdict(ok, fmt.Sprintf("%s; documents %v; delta %v", res, docs, get(delta, "state")))
		}},
		{n: 82, expected: "accepted and documents, no delta", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 82)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			s.do(ctx, "update", `{"state": {"desired": {"color": "red"}}}`)
			s.since(ctx, 0, "update/delta", true)
			skip := len(s.c.Received())
			res, _ := s.do(ctx, "update", `{"state": {"reported": {"color": "red"}}}`)
			_, docs := s.since(ctx, skip, "update/documents", true)
			_, delta := s.since(ctx, skip, "update/delta", false)
			return verdict(res == "accepted" && docs && !delta, fmt.Sprintf("%s; documents %v; delta %v", res, docs, delta))
		}},
		{n: 83, expected: "MQTT: update/rejected 409; HTTP: ConflictException", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 83)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			s.do(ctx, "update", `{"state": {"reported": {"n": 1}}}`)
			s.do(ctx, "update", `{"state": {"reported": {"n": 2}}}`)
			res, doc := s.do(ctx, "update", `{"state": {"reported": {"n": 3}}, "version": 1}`)
			_, herr := e.t.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(s.thing), Payload: []byte(`{"state": {"reported": {"n": 4}}, "version": 1}`)})
			return verdict(res == "rejected" && fmt.Sprint(doc["code"]) == "409" && code(herr) == "ConflictException",
				fmt.Sprintf("MQTT %s %v %v; HTTP %s", res, doc["code"], doc["message"], code(herr)))
		}},
		{n: 84, expected: "clientToken echoed; 65 bytes: rejected 400", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 84)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			_, doc := s.do(ctx, "update", `{"state": {"reported": {"n": 1}}, "clientToken": "tok-1"}`)
			res, bad := s.do(ctx, "update", fmt.Sprintf(`{"state": {"reported": {"n": 1}}, "clientToken": %q}`, strings.Repeat("t", 65)))
			return verdict(doc["clientToken"] == "tok-1" && res == "rejected" && fmt.Sprint(bad["code"]) == "400",
				fmt.Sprintf("echoed %v; long token: %s %v", doc["clientToken"], res, bad["code"]))
		}},
		{n: 85, expected: "invalid JSON: 400; missing state: 400", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 85)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			r1, d1 := s.do(ctx, "update", `not json`)
			r2, d2 := s.do(ctx, "update", `{"desired": {}}`)
			return verdict(r1 == "rejected" && fmt.Sprint(d1["code"]) == "400" && r2 == "rejected" && fmt.Sprint(d2["code"]) == "400",
				fmt.Sprintf("%s %v %v; %s %v %v", r1, d1["code"], d1["message"], r2, d2["code"], d2["message"]))
		}},
		{n: 86, expected: "a: null removes a; desired: null removes desired", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 86)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			s.do(ctx, "update", `{"state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1}}}`)
			s.do(ctx, "update", `{"state": {"desired": {"a": null}}}`)
			_, g1 := s.do(ctx, "get", "")
			s.do(ctx, "update", `{"state": {"desired": null}}`)
			_, g2 := s.do(ctx, "get", "")
			d1 := get(g1, "state.desired")
			_, hasDesired := get(g2, "state").(map[string]any)["desired"]
			return verdict(reflect.DeepEqual(d1, map[string]any{"b": float64(2)}) && !hasDesired, fmt.Sprintf("desired after a: null %v; desired present after desired: null %v", d1, hasDesired))
		}},
		{n: 87, expected: "get/rejected 404", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 87)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			res, doc := s.do(ctx, "get", "")
			return verdict(res == "rejected" && fmt.Sprint(doc["code"]) == "404", fmt.Sprintf("%s %v %v", res, doc["code"], doc["message"]))
		}},
		{n: 88, expected: "delete/accepted with the version; the next update's version continues", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 88)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			s.do(ctx, "update", `{"state": {"reported": {"n": 1}}}`)
			s.do(ctx, "update", `{"state": {"reported": {"n": 2}}}`)
			res, del := s.do(ctx, "delete", "")
			_, up := s.do(ctx, "update", `{"state": {"reported": {"n": 3}}}`)
			dv, uv := fmt.Sprint(del["version"]), fmt.Sprint(up["version"])
			return verdict(res == "accepted" && dv == "2" && uv == "3", fmt.Sprintf("delete %s version %s; next update version %s", res, dv, uv))
		}},
		{n: 89, expected: "named shadow accepted on its own topics; listed; the classic shadow untouched", run: func(ctx context.Context, e *env) (string, exercises.Status) {
			s, err := e.shadow(ctx, 89)
			if err != nil {
				return failed(err)
			}
			defer s.c.Disconnect()
			res, _ := s.do(ctx, "name/lock/update", `{"state": {"reported": {"lock": "locked"}}}`)
			classic, _ := s.do(ctx, "get", "")
			out, err := e.t.Data.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String(s.thing)})
			var names []string
			if err == nil {
				names = out.Results
			}
			e.record(target.Resource{Kind: target.KindShadow, Name: s.thing})
			return verdict(res == "accepted" && classic == "rejected" && len(names) == 1 && names[0] == "lock",
				fmt.Sprintf("named update %s; classic get %s; listed %v %s", res, classic, names, errText(err)))
		}},
	}
}

// ruleProbes cover the rules engine (checklist 94–97). Rules need a role for their actions.
func ruleProbes() []probe {
	rule := func(ctx context.Context, e *env, n int, sql, republish string) (string, error) {
		name := ruleName(e, n, "rule")
		_, err := e.t.IoT.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), TopicRulePayload: &types.TopicRulePayload{
			Sql: aws.String(sql), AwsIotSqlVersion: aws.String("2016-03-23"),
			Actions: []types.Action{{Republish: &types.RepublishAction{Topic: aws.String(republish), RoleArn: aws.String(e.t.RuleRoleARN), Qos: aws.Int32(1)}}}}})
		if err == nil {
			e.record(target.Resource{Kind: target.KindRule, Name: name})
		}
		return name, err
	}
	return []probe{
		{n: 94, expected: `{"temp":31,"dev":"d1","cid":<client>,"ts":<ms>} on alerts/d1; nothing for 20`, needs: exercises.CapRuleRole, run: func(ctx context.Context, e *env) (string, exercises.Status) {
			if _, err := rule(ctx, e, 94, fmt.Sprintf("SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM '%s' WHERE temp > 30", e.topic(94, "+/data")),
				e.topic(94, "alerts/${topic(2)}")); err != nil {
				return failed(err)
			}
			d, _ := e.open(ctx)
			id := e.name(94, "dev")
			c, err := e.connected(ctx, d, id, client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Subscribe(ctx, client.Sub{Filter: e.topic(94, "alerts/#"), QoS: 1})
			c.Publish(ctx, client.Message{Topic: e.topic(94, "d2/data"), Payload: []byte(`{"temp": 20}`), QoS: 1})
			c.Publish(ctx, client.Message{Topic: e.topic(94, "d1/data"), Payload: []byte(`{"temp": 31}`), QoS: 1})
			alert, ok := e.jsonOn(ctx, c, e.topic(94, "alerts/d1"))
			_, cold := c.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == e.topic(94, "alerts/d2") })
			_, hasTS := alert["ts"].(float64)
			return verdict(ok && fmt.Sprint(alert["temp"]) == "31" && alert["dev"] == "d1" && alert["cid"] == id && hasTS && !cold,
				fmt.Sprintf("alert %v; for 20: %v", alert, cold))
		}},
		{n: 95, expected: "the shadow's desired color is red", needs: exercises.CapRuleRole, run: func(ctx context.Context, e *env) (string, exercises.Status) {
			thing := e.name(95, "thing")
			if _, err := e.t.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
				return failed(err)
			}
			e.record(thingRes(thing))
			e.record(target.Resource{Kind: target.KindShadow, Name: thing})
			if _, err := rule(ctx, e, 95, fmt.Sprintf("SELECT {'desired': {'color': color}} AS state FROM '%s'", e.topic(95, "cmd")),
				"$$aws/things/"+thing+"/shadow/update"); err != nil {
				return failed(err)
			}
			d, _ := e.open(ctx)
			c, err := e.connected(ctx, d, e.name(95, "dev"), client.V311)
			if err != nil {
				return failed(err)
			}
			defer c.Disconnect()
			c.Publish(ctx, client.Message{Topic: e.topic(95, "cmd"), Payload: []byte(`{"color": "red"}`), QoS: 1})
			var got any
			for range 3 * int(e.t.Wait.Seconds()) {
				out, err := e.t.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
				if err == nil {
					var doc map[string]any
					json.Unmarshal(out.Payload, &doc)
					if got = get(doc, "state.desired.color"); got == "red" {
						break
					}
				}
				c.WaitFor(ctx, e.t.Wait/10, func(client.Message) bool { return false })
			}
			return verdict(got == "red", fmt.Sprintf("desired color %v", got))
		}},
		{n: 97, expected: "the connected event reaches the rule", needs: exercises.CapRuleRole, run: func(ctx context.Context, e *env) (string, exercises.Status) {
			id := e.name(97, "dev")
			if _, err := rule(ctx, e, 97, fmt.Sprintf("SELECT clientId, eventType FROM '$aws/events/presence/connected/+' WHERE clientId = '%s'", id),
				e.topic(97, "events")); err != nil {
				return failed(err)
			}
			w, err := e.watch(ctx, 97, e.topic(97, "events"))
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
			ev, ok := e.jsonOn(ctx, w, e.topic(97, "events"))
			return verdict(ok && ev["clientId"] == id && ev["eventType"] == "connected", fmt.Sprintf("republished %v", ev))
		}},
	}
}
