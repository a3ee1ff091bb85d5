package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/smithy-go"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
	"github.com/iotlab/iotlab/exercises/target"
)

// tag marks what iotlab creates, where AWS allows tags at creation.
var tag = []types.Tag{{Key: aws.String("iotlab"), Value: aws.String("exercise")}}

// connectGap spaces two CONNECTs of one client id: AWS allows one per second (GR:iot-core).
const connectGap = 1100 * time.Millisecond

// do performs one action. An error is returned only when the action could not be performed at all;
// refusals the exercise is about (a refused CONNECT, PUBLISH, SUBSCRIBE, an API error that is saved)
// are recorded, not returned.
func (r *Runner) do(ctx context.Context, s exercises.Step, a exercises.Action) error {
	x := r.Expand
	c := r.t.IoT
	api := func(op string, err error) error {
		if err != nil {
			r.emit(exercises.Event{Source: "api", Kind: exercises.EvAPIError, Action: op, Detail: err.Error()})
		} else {
			r.emit(exercises.Event{Source: "api", Kind: exercises.EvAPI, Action: op})
		}
		return err
	}
	switch a := a.(type) {
	case exercises.CreateBillingGroup:
		out, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String(x(a.Name)), Tags: tag})
		if err := api("CreateBillingGroup", err); err != nil {
			return err
		}
		r.record(target.Resource{Kind: target.KindBillingGroup, Name: x(a.Name), ARN: aws.ToString(out.BillingGroupArn)})
	case exercises.CreateThingType:
		out, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(x(a.Name)), Tags: tag,
			ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: a.Searchable, ThingTypeDescription: optional(a.Description)}})
		if err := api("CreateThingType", err); err != nil {
			return err
		}
		r.record(target.Resource{Kind: target.KindThingType, Name: x(a.Name), ARN: aws.ToString(out.ThingTypeArn)})
	case exercises.CreateThing:
		in := &iot.CreateThingInput{ThingName: aws.String(x(a.Name)), ThingTypeName: optional(x(a.Type)), BillingGroupName: optional(x(a.BillingGroup))}
		if len(a.Attrs) > 0 {
			in.AttributePayload = &types.AttributePayload{Attributes: a.Attrs}
		}
		out, err := c.CreateThing(ctx, in)
		api("CreateThing", err)
		if err == nil {
			r.record(target.Resource{Kind: target.KindThing, Name: x(a.Name), ARN: aws.ToString(out.ThingArn)})
		}
		return r.keep(a.Save, out, err)
	case exercises.CreateThingGroup:
		out, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(x(a.Name)), ParentGroupName: optional(x(a.Parent)), Tags: tag})
		if err := api("CreateThingGroup", err); err != nil {
			return err
		}
		r.record(target.Resource{Kind: target.KindThingGroup, Name: x(a.Name), ARN: aws.ToString(out.ThingGroupArn)})
	case exercises.AddThingToGroup:
		_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(x(a.Thing)), ThingGroupName: aws.String(x(a.Group))})
		return api("AddThingToThingGroup", err)
	case exercises.AddThingToBillingGroup:
		_, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String(x(a.Thing)), BillingGroupName: aws.String(x(a.Group))})
		return api("AddThingToBillingGroup", err)
	case exercises.ListThings:
		var names []string
		in := &iot.ListThingsInput{AttributeName: optional(a.AttrName), AttributeValue: optional(a.AttrValue), ThingTypeName: optional(x(a.Type))}
		p := iot.NewListThingsPaginator(c, in)
		var err error
		for p.HasMorePages() && err == nil {
			var out *iot.ListThingsOutput
			if out, err = p.NextPage(ctx); err == nil {
				for _, th := range out.Things {
					names = append(names, aws.ToString(th.ThingName))
				}
			}
		}
		api("ListThings", err)
		return r.keep(a.Save, sorted(names), err)
	case exercises.ListThingsInGroup:
		var names []string
		p := iot.NewListThingsInThingGroupPaginator(c, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(x(a.Group)), Recursive: a.Recursive})
		var err error
		for p.HasMorePages() && err == nil {
			var out *iot.ListThingsInThingGroupOutput
			if out, err = p.NextPage(ctx); err == nil {
				names = append(names, out.Things...)
			}
		}
		api("ListThingsInThingGroup", err)
		return r.keep(a.Save, sorted(names), err)
	case exercises.ListThingsInBillingGroup:
		var names []string
		p := iot.NewListThingsInBillingGroupPaginator(c, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String(x(a.Group))})
		var err error
		for p.HasMorePages() && err == nil {
			var out *iot.ListThingsInBillingGroupOutput
			if out, err = p.NextPage(ctx); err == nil {
				names = append(names, out.Things...)
			}
		}
		api("ListThingsInBillingGroup", err)
		return r.keep(a.Save, sorted(names), err)
	case exercises.DescribeThing:
		out, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(x(a.Name))})
		api("DescribeThing", err)
		return r.keep(a.Save, out, err)
	case exercises.DescribeThingType:
		out, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(x(a.Name))})
		api("DescribeThingType", err)
		return r.keep(a.Save, out, err)
	case exercises.DescribeEndpoint:
		out, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: optional(a.Type)})
		api("DescribeEndpoint", err)
		return r.keep(a.Save, out, err)
	case exercises.CreatePolicy:
		name := x(a.Name)
		_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(x(a.Document)), Tags: tag})
		if err := api("CreatePolicy", err); err != nil {
			return err
		}
		r.record(target.Resource{Kind: target.KindPolicy, Name: name})
	case exercises.Provision:
		thing := a.Thing
		if thing == "" {
			thing = "@{" + a.Device + "}"
		}
		d, err := fleet.Provision(ctx, r.t, r.opt.Run, fleet.Spec{Thing: x(thing), Type: x(a.Type), Attrs: a.Attrs, OwnKey: a.OwnKey, Policy: x(a.Policy), NoThing: a.NoThing})
		if err := api("Provision", err); err != nil {
			return err
		}
		r.mu.Lock()
		r.devices[a.Device] = d
		r.mu.Unlock()
		r.save(a.Save, map[string]any{"certificateId": d.CertID, "certificateArn": d.CertARN, "keyType": d.KeyType,
			"idIsDerSha256": d.IDIsDERSHA256(), "thingName": d.Thing}, nil)
	case exercises.ForeignCertificate:
		d, err := fleet.SelfSigned(x("@{" + a.Device + "}"))
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.devices[a.Device] = d
		r.mu.Unlock()
	case exercises.UpdateCertificate:
		d, err := r.device(a.Device)
		if err != nil {
			return err
		}
		_, err = c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(d.CertID), NewStatus: types.CertificateStatus(a.Status)})
		return api("UpdateCertificate", err)
	case exercises.TestAuthorization:
		d, err := r.device(a.Device)
		if err != nil {
			return err
		}
		action := strings.ToUpper(strings.TrimPrefix(a.Action, "iot:"))
		out, err := c.TestAuthorization(ctx, &iot.TestAuthorizationInput{
			Principal: aws.String(d.CertARN), ClientId: aws.String(x(a.ClientID)),
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionType(action), Resources: []string{r.arn(x(a.Resource))}}},
		})
		api("TestAuthorization", err)
		var first any
		if err == nil && len(out.AuthResults) > 0 {
			first = out.AuthResults[0]
		}
		return r.keep(a.Save, first, err)
	case exercises.EnableLogging:
		if !r.t.Has(exercises.CapLocalLogs) {
			return nil // on AWS the logs go to CloudWatch through an IAM role: the learner sets that up
		}
		_, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
		var nc *types.NotConfiguredException
		if errors.As(err, &nc) {
			_, err = c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(r.t.RuleRoleARN), DefaultLogLevel: types.LogLevelError})
			return api("SetV2LoggingOptions", err)
		}
		return api("GetV2LoggingOptions", err)
	case exercises.CreateRule:
		name := r.names.RuleName(a.Name)
		_, err := c.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), Tags: aws.String("iotlab=exercise"),
			TopicRulePayload: &types.TopicRulePayload{Sql: aws.String(x(a.SQL)), AwsIotSqlVersion: aws.String("2016-03-23"),
				Actions: []types.Action{{Republish: &types.RepublishAction{Topic: aws.String(x(a.Republish)), RoleArn: aws.String(r.t.RuleRoleARN), Qos: aws.Int32(int32(a.QoS))}}}}})
		if err := api("CreateTopicRule", err); err != nil {
			return err
		}
		r.record(target.Resource{Kind: target.KindRule, Name: name})
	case exercises.WhoAmI:
		id, err := r.t.Identity(ctx)
		api("GetCallerIdentity+DescribeEndpoint", err)
		return r.keep(a.Save, id, err)
	case exercises.UpdateShadow:
		out, err := r.t.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(x(a.Thing)), Payload: []byte(x(a.Document))})
		api("UpdateThingShadow", err)
		var v any
		if err == nil {
			r.record(target.Resource{Kind: target.KindShadow, Name: x(a.Thing)})
			v = decodeJSON(out.Payload)
		}
		return r.keep(a.Save, v, err)
	case exercises.GetShadow:
		out, err := r.t.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(x(a.Thing))})
		api("GetThingShadow", err)
		var v any
		if err == nil {
			v = decodeJSON(out.Payload)
		}
		return r.keep(a.Save, v, err)
	case exercises.GetRetained:
		out, err := r.t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(x(a.Topic))})
		api("GetRetainedMessage", err)
		var v any
		if err == nil {
			v = map[string]any{"topic": aws.ToString(out.Topic), "payload": string(out.Payload), "qos": out.Qos}
		}
		return r.keep(a.Save, v, err)
	case exercises.Connect:
		return r.connect(ctx, s, a)
	case exercises.Subscribe:
		cs, err := r.client(a.Client)
		if err != nil {
			return err
		}
		var subs []client.Sub
		for _, f := range a.Filters {
			subs = append(subs, client.Sub{Filter: x(f), QoS: byte(a.QoS)})
		}
		codes, err := cs.c.Subscribe(ctx, subs...)
		if err != nil {
			return err
		}
		for i, sb := range subs {
			if i < len(codes) {
				cs.subs[sb.Filter] = codes[i]
			}
		}
	case exercises.Publish:
		cs, err := r.client(a.Client)
		if err != nil {
			return err
		}
		topic := x(a.Topic)
		p := pub{qos: byte(a.QoS), at: time.Now()}
		ack, err := cs.c.Publish(ctx, client.Message{Topic: topic, Payload: []byte(x(a.Payload)), QoS: byte(a.QoS), Retain: a.Retain})
		switch {
		case err == nil:
			p.code = ack.Code
		case errors.Is(err, client.ErrClosed):
			p.closed = true
		default:
			p.err = err
		}
		r.mu.Lock()
		cs.pubs[topic] = p
		r.mu.Unlock()
		if a.Retain && cs.listener == exercises.MTLS && err == nil && ack.Code < 0x80 {
			r.record(target.Resource{Kind: target.KindRetained, Name: topic})
		}
		// A QoS 0 PUBLISH has no acknowledgement: the broker may route it after what the step does
		// next (a reconnect, say). Let it land first, as it would for a learner typing commands.
		if a.QoS == 0 && err == nil {
			select {
			case <-time.After(settle):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	case exercises.Disconnect:
		cs, err := r.client(a.Client)
		if err != nil {
			return err
		}
		cs.c.Disconnect()
	case exercises.Drop:
		cs, err := r.client(a.Client)
		if err != nil {
			return err
		}
		cs.c.Drop()
		// The broker learns of a dropped connection only when its read fails; until then it still
		// delivers to the old connection. Give it that moment, as a real network drop would, so what
		// is published next finds the client offline. (A bounded pause: the broker is not observable
		// on every target.)
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return ctx.Err()
		}
	case exercises.StartLock:
		d, err := r.device(a.Device)
		if err != nil {
			return err
		}
		l, err := fleet.StartLock(ctx, r.t, d, fleet.DeviceOptions{Home: x("@{home}"), OnPacket: r.trace})
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.stops = append(r.stops, l.Stop)
		r.mu.Unlock()
	case exercises.StartFleet:
		f, err := fleet.Start(ctx, r.t, fleet.Options{Names: r.names, Run: r.opt.Run, Rooms: a.Rooms, Interval: r.opt.FleetInterval,
			DeviceOptions: fleet.DeviceOptions{Home: x("@{home}"), OnPacket: r.trace}})
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.stops = append(r.stops, f.Stop)
		r.mu.Unlock()
	default:
		return fmt.Errorf("runner: unknown action %T", a)
	}
	return nil
}

// keep saves an API result under key; without a key, an error is the action's failure.
func (r *Runner) keep(key string, v any, err error) error {
	if key == "" {
		return err
	}
	if err == nil {
		v = generic(v)
	}
	r.save(key, v, err)
	return nil
}

func (r *Runner) device(name string) (*fleet.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devices[name]
	if !ok {
		return nil, fmt.Errorf("runner: device %s has not been provisioned in this run", name)
	}
	return d, nil
}

func (r *Runner) client(name string) (*conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs, ok := r.clients[name]
	if !ok {
		return nil, fmt.Errorf("runner: client %s has not connected", name)
	}
	if cs.c == nil {
		return nil, fmt.Errorf("runner: client %s was refused (%s)", name, cs.refused)
	}
	return cs, nil
}

// arn completes a resource tail ("topic/a/b") into the target's ARN.
func (r *Runner) arn(tail string) string {
	if strings.HasPrefix(tail, "arn:") {
		return tail
	}
	return "arn:aws:iot:" + r.t.Region + ":" + r.t.Account + ":" + tail
}

// connect opens (or reopens) the named client.
func (r *Runner) connect(ctx context.Context, s exercises.Step, a exercises.Connect) error {
	l := a.Listener
	if l == "" {
		l = s.Listener
	}
	if l != exercises.Lab {
		l = exercises.MTLS
	}
	o := client.Options{Version: client.V311, Clean: !a.Persistent, ManualAck: a.NoAck, OnPacket: r.trace}
	if a.Version == 5 {
		o.Version = client.V5
		if a.Persistent {
			o.SessionExpiry = 3600
		}
	}
	var d *fleet.Device
	if l == exercises.Lab {
		if r.t.LabAddr == "" {
			return errors.New("runner: the target has no lab listener")
		}
		o.Addr, o.ClientID = r.t.LabAddr, r.Expand("@{"+a.Client+"}")
	} else {
		var err error
		if d, err = r.device(a.Device); err != nil {
			return err
		}
		o.Addr, o.TLS, o.ClientID = r.t.MQTTAddr, r.t.TLS(d.Cert), d.Thing
	}
	if a.ID != "" {
		o.ClientID = r.Expand(a.ID)
	}
	// Replace an earlier connection of the same name: the client closes it first, as a device would.
	r.mu.Lock()
	old := r.clients[a.Client]
	r.mu.Unlock()
	if old != nil && old.c != nil {
		old.c.Disconnect()
	}
	if l == exercises.MTLS {
		r.pace(ctx, o.ClientID)
	}
	c, ack, err := client.Dial(ctx, o)
	cs := &conn{c: c, id: o.ClientID, version: o.Version, ack: ack, pubs: map[string]pub{}, subs: map[string]byte{}, listener: l}
	switch {
	case err == nil && ack.Code == 0:
	case err == nil:
		cs.c, cs.refused = nil, fmt.Sprintf("CONNACK 0x%02x %s", ack.Code, client.ReasonName(ack.Code))
	case errors.Is(err, client.ErrUnreachable):
		return err
	case errors.Is(err, client.ErrNoConnack):
		cs.refused = "connection closed without CONNACK"
	default:
		cs.refused = err.Error()
	}
	if cs.refused != "" {
		r.emit(exercises.Event{Source: "client", Kind: exercises.EvRefused, Client: o.ClientID, Detail: "CONNECT refused: " + cs.refused})
	}
	r.mu.Lock()
	r.clients[a.Client] = cs
	r.mu.Unlock()
	return nil
}

// pace waits, if needed, so that a client id connects at most once per connectGap (AWS's quota).
func (r *Runner) pace(ctx context.Context, id string) {
	r.mu.Lock()
	wait := time.Until(r.lastConn[id].Add(connectGap))
	r.mu.Unlock()
	if wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	r.mu.Lock()
	r.lastConn[id] = time.Now()
	r.mu.Unlock()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func sorted(s []string) []any {
	s = slices.Clone(s)
	slices.Sort(s)
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// generic turns an SDK output into JSON-shaped values (maps, slices, strings, json.Number…), so that
// expectations can address any field by its JSON name.
func generic(v any) any {
	switch v.(type) {
	case nil, []any, map[string]any:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) any {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(b)
	}
	return v
}

// errorCode is the AWS error code of an API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// settle is how long the runner lets the broker catch up with what it cannot observe on every target:
// a dropped connection, a QoS 0 message in flight.
const settle = 300 * time.Millisecond
