package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
	"github.com/iotlab/iotlab/exercises/target"
)

// env is what the probes share: the target, the run's names, and devices provisioned once.
type env struct {
	t   *target.Target
	n   exercises.Namer
	run string

	mu       sync.Mutex // guards the maps
	policies map[string]*once
	devices  map[string]*once
	lastConn map[string]time.Time
}

// once is a value made once, by whichever probe asks first.
type once struct {
	done chan struct{}
	v    any
	err  error
}

func (e *env) once(m map[string]*once, key string, mk func() (any, error)) (any, error) {
	e.mu.Lock()
	o, ok := m[key]
	if !ok {
		o = &once{done: make(chan struct{})}
		m[key] = o
	}
	e.mu.Unlock()
	if !ok {
		o.v, o.err = mk()
		close(o.done)
	}
	<-o.done
	return o.v, o.err
}

// name is a run-scoped name for probe n: <prefix>p<n>-<rest>.
func (e *env) name(n int, rest string) string { return fmt.Sprintf("%sp%d-%s", e.n.Prefix, n, rest) }

// topic is a run-scoped topic of probe n.
func (e *env) topic(n int, rest string) string { return fmt.Sprintf("%sp%d/%s", e.n.Prefix, n, rest) }

func (e *env) arn(tail string) string {
	return "arn:aws:iot:" + e.t.Region + ":" + e.t.Account + ":" + tail
}

// stmt is one policy statement.
type stmt struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

func allow(actions []string, resources ...string) stmt {
	return stmt{Effect: "Allow", Action: actions, Resource: resources}
}

func deny(actions []string, resources ...string) stmt {
	return stmt{Effect: "Deny", Action: actions, Resource: resources}
}

var (
	aConnect   = []string{"iot:Connect"}
	aPublish   = []string{"iot:Publish"}
	aPubRetain = []string{"iot:Publish", "iot:RetainPublish"}
	aSubscribe = []string{"iot:Subscribe"}
	aReceive   = []string{"iot:Receive"}
)

// openStatements allow everything the probes need, and only on the run's own names, so that a probe
// run in a real account touches nothing else: any client id, the run's topics and shadows, and the
// reserved topics probes read ($aws/events, $aws/rules, $share).
func (e *env) openStatements() []stmt {
	p := e.n.Prefix
	return []stmt{
		allow(aConnect, e.arn("client/*")),
		allow(aPubRetain, e.arn("topic/"+p+"*"), e.arn("topic/$aws/things/"+p+"*")),
		allow(aReceive, e.arn("topic/"+p+"*"), e.arn("topic/$aws/things/"+p+"*"), e.arn("topic/$aws/events/*")),
		allow(aSubscribe, e.arn("topicfilter/"+p+"*"), e.arn("topicfilter/$aws/things/"+p+"*"), e.arn("topicfilter/$aws/events/*"),
			e.arn("topicfilter/$aws/rules/*"), e.arn("topicfilter/$share/*")),
	}
}

// policy creates a policy of the given statements once, under a run-scoped name.
func (e *env) policy(ctx context.Context, name string, st []stmt) (string, error) {
	full := e.n.Prefix + name
	_, err := e.once(e.policies, full, func() (any, error) {
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st})
		_, err := e.t.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(full), PolicyDocument: aws.String(string(doc)),
			Tags: []types.Tag{{Key: aws.String("iotlab"), Value: aws.String("check")}}})
		if err != nil {
			return nil, fmt.Errorf("create policy %s: %w", full, err)
		}
		e.record(target.Resource{Kind: target.KindPolicy, Name: full})
		return nil, nil
	})
	return full, err
}

// device provisions (once) a device named <prefix><name> with a certificate and the given policy
// ("" for none), its thing attached.
func (e *env) device(ctx context.Context, name, policy string) (*fleet.Device, error) {
	v, err := e.once(e.devices, name, func() (any, error) {
		return fleet.Provision(ctx, e.t, e.run, fleet.Spec{Thing: e.n.Prefix + name, Policy: policy, OwnKey: true})
	})
	if err != nil {
		return nil, err
	}
	return v.(*fleet.Device), nil
}

// open is the device with the open policy.
func (e *env) open(ctx context.Context) (*fleet.Device, error) {
	pol, err := e.policy(ctx, "open", e.openStatements())
	if err != nil {
		return nil, err
	}
	return e.device(ctx, "open", pol)
}

// restricted provisions a device whose policy is the given statements.
func (e *env) restricted(ctx context.Context, n int, st ...stmt) (*fleet.Device, error) {
	pol, err := e.policy(ctx, fmt.Sprintf("p%d", n), st)
	if err != nil {
		return nil, err
	}
	return e.device(ctx, fmt.Sprintf("p%d-dev", n), pol)
}

func (e *env) record(r target.Resource) {
	r.Account, r.Region, r.Run = e.t.Account, e.t.Region, e.run
	_ = e.t.Manifest.Add(r)
}

// dial connects d with client id id, at most once per second per id (AWS's quota).
func (e *env) dial(ctx context.Context, d *fleet.Device, id string, v byte, mod ...func(*client.Options)) (*client.Conn, client.ConnAck, error) {
	e.mu.Lock()
	wait := time.Until(e.lastConn[id].Add(1100 * time.Millisecond))
	e.mu.Unlock()
	if wait > 0 {
		select {
		case <-ctx.Done():
			return nil, client.ConnAck{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	e.mu.Lock()
	e.lastConn[id] = time.Now()
	e.mu.Unlock()
	o := client.Options{Version: v, ClientID: id, Clean: true}
	for _, m := range mod {
		m(&o)
	}
	return d.Dial(ctx, e.t, o)
}

// connected dials and insists on CONNACK 0.
func (e *env) connected(ctx context.Context, d *fleet.Device, id string, v byte, mod ...func(*client.Options)) (*client.Conn, error) {
	c, ack, err := e.dial(ctx, d, id, v, mod...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	if ack.Code != 0 {
		return nil, fmt.Errorf("connect %s: CONNACK 0x%02x", id, ack.Code)
	}
	return c, nil
}

// watch connects an open-policy client subscribed to the filters (QoS 1).
func (e *env) watch(ctx context.Context, n int, filters ...string) (*client.Conn, error) {
	d, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.connected(ctx, d, e.name(n, "watch"), client.V311)
	if err != nil {
		return nil, err
	}
	var subs []client.Sub
	for _, f := range filters {
		subs = append(subs, client.Sub{Filter: f, QoS: 1})
	}
	codes, err := c.Subscribe(ctx, subs...)
	if err != nil {
		c.Disconnect()
		return nil, err
	}
	for i, code := range codes {
		if code >= 0x80 {
			c.Disconnect()
			return nil, fmt.Errorf("watch %s: SUBACK 0x%02x", filters[i], code)
		}
	}
	return c, nil
}

// jsonOn waits for a message on topic and decodes it.
func (e *env) jsonOn(ctx context.Context, c *client.Conn, topic string) (map[string]any, bool) {
	m, ok := c.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == topic })
	if !ok {
		return nil, false
	}
	var v map[string]any
	if json.Unmarshal(m.Payload, &v) != nil {
		return nil, false
	}
	return v, true
}

// refusal describes how a connect ended for a probe row.
func refusal(ack client.ConnAck, err error) string {
	switch {
	case err == nil && ack.Code == 0:
		return "CONNACK 0x00"
	case err == nil:
		return fmt.Sprintf("CONNACK 0x%02x", ack.Code)
	case errors.Is(err, client.ErrNoConnack):
		return "closed without CONNACK"
	}
	return "error: " + err.Error()
}

// pubOutcome describes a publish outcome.
func pubOutcome(ack client.PubAck, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("PUBACK 0x%02x", ack.Code)
	case errors.Is(err, client.ErrClosed):
		return "connection closed"
	}
	return "error: " + err.Error()
}

// code is an API error's AWS code ("ok" when there was no error).
func code(err error) string {
	if err == nil {
		return "ok"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// closedWithin reports whether c closes within d, and the broker's DISCONNECT reason if any.
func closedWithin(ctx context.Context, c *client.Conn, d time.Duration) (bool, string) {
	if !c.WaitClosed(ctx, d) {
		return false, "still open"
	}
	if pk, ok := c.ServerDisconnect(); ok {
		return true, fmt.Sprintf("DISCONNECT 0x%02x", pk.ReasonCode)
	}
	return true, "closed"
}

func join(parts ...string) string { return strings.Join(parts, "; ") }
