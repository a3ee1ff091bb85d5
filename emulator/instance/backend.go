package instance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/emulator/awsapi"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/rules"
	"github.com/iotlab/iotlab/emulator/shadowsvc"
)

// The backend: the Device Shadow service and the rules engine, fed by the broker's traffic, and the
// iot-data plane's view of the broker. Each is bound here through the small interface its consumer
// declares.

// startBackend opens the shadow service and the rules engine and routes every accepted publish —
// devices', and the broker's own (lifecycle events, iot-data Publish, republish) — to both.
func (i *Instance) startBackend() error {
	sc := registry.Scope{Account: i.cfg.Account, Region: i.cfg.Region}
	b := i.Broker
	svc, err := shadowsvc.Open(shadowsvc.Options{
		Store:     i.state,
		Scope:     sc,
		Logger:    i.log.With("component", "shadows"),
		Publisher: shadowsvc.PublisherFunc(func(t string, p []byte) error { return b.Publish(t, p, 1, false) }),
	})
	if err != nil {
		return fmt.Errorf("instance: shadows: %w", err)
	}
	i.Shadows = svc
	eng, err := rules.New(rules.Options{
		Rules:       ruleSource{reg: i.Registry, sc: sc},
		Publisher:   rulePublisher{b},
		Functions:   i.cfg.Functions,
		FunctionEnv: []string{"AWS_ENDPOINT_URL=" + i.APIURL(), "AWS_DEFAULT_REGION=" + i.cfg.Region},
		Account:     i.cfg.Account,
		Region:      i.cfg.Region,
		Logger:      i.log.With("component", "rules"),
	})
	if err != nil {
		svc.Close()
		return fmt.Errorf("instance: rules: %w", err)
	}
	i.Rules = eng
	i.Registry.Watch(func(e registry.Event) {
		if e.Scope == sc && e.Kind == registry.RuleEventKind {
			eng.Reload()
		}
	})
	cancel := b.Subscribe(func(e broker.Event) {
		switch e.Kind {
		case broker.EventPublish:
			svc.HandleMessage(e.ClientID, e.Topic, e.Payload)
			eng.Handle(rules.Message{Topic: e.Topic, Payload: e.Payload, ClientID: e.ClientID, Principal: e.CertID, Timestamp: e.Time})
		case broker.EventServicePublish:
			// The shadow service ignores its own response topics; a rule's republish to a request
			// topic reaches it as a device's would. AWS: republish-rule-action
			svc.HandleMessage("", e.Topic, e.Payload)
			eng.Handle(rules.Message{Topic: e.Topic, Payload: e.Payload, Timestamp: e.Time})
		}
	})
	// Closed in reverse: first stop feeding them, then drain the engine, then the shadow service.
	i.closers = append(i.closers, svc.Close, func() error { eng.Close(); return nil }, func() error { cancel(); return nil })
	return nil
}

// ruleSource lists the broker's scope's enabled rules for the engine.
type ruleSource struct {
	reg *registry.Registry
	sc  registry.Scope
}

func (s ruleSource) EnabledRules() ([]rules.Rule, error) {
	var out []rules.Rule
	for _, r := range s.reg.EnabledTopicRules(s.sc) {
		rr := rules.Rule{Name: r.Name, SQL: r.SQL, SQLVersion: r.SQLVersion}
		for _, a := range r.Actions {
			rr.Actions = append(rr.Actions, rules.Action(a))
		}
		if r.ErrorAction != nil {
			ea := rules.Action(*r.ErrorAction)
			rr.ErrorAction = &ea
		}
		out = append(out, rr)
	}
	return out, nil
}

// rulePublisher is the rules engine's view of the broker, MQTT 5 properties included.
type rulePublisher struct{ b *broker.Server }

func (p rulePublisher) Publish(topic string, payload []byte, qos byte, retain bool) error {
	return p.b.Publish(topic, payload, qos, retain)
}

func (p rulePublisher) PublishWithHeaders(topic string, payload []byte, qos byte, retain bool, h rules.Headers) error {
	var opts []broker.PublishOption
	if h.ContentType != "" {
		opts = append(opts, broker.WithContentType(h.ContentType))
	}
	if h.CorrelationData != nil {
		opts = append(opts, broker.WithCorrelationData(h.CorrelationData))
	}
	if h.MessageExpiry != nil {
		opts = append(opts, broker.WithMessageExpiry(*h.MessageExpiry))
	}
	if h.PayloadUTF8 != nil {
		opts = append(opts, broker.WithPayloadFormatIndicator(*h.PayloadUTF8))
	}
	if h.ResponseTopic != "" {
		opts = append(opts, broker.WithResponseTopic(h.ResponseTopic))
	}
	for _, up := range h.UserProperties {
		opts = append(opts, broker.WithUserProperty(up.Key, up.Value))
	}
	return p.b.Publish(topic, payload, qos, retain, opts...)
}

// dataPlane is iot-data's view of the broker: Publish with MQTT 5 properties, and DeleteConnection.
type dataPlane struct{ *broker.Server }

func (d dataPlane) Publish(m awsapi.Message) error {
	var opts []broker.PublishOption
	for _, up := range m.UserProperties {
		opts = append(opts, broker.WithUserProperty(up.Key, up.Value))
	}
	if m.ContentType != "" {
		opts = append(opts, broker.WithContentType(m.ContentType))
	}
	if m.ResponseTopic != "" {
		opts = append(opts, broker.WithResponseTopic(m.ResponseTopic))
	}
	if m.CorrelationData != nil {
		opts = append(opts, broker.WithCorrelationData(m.CorrelationData))
	}
	if m.PayloadUTF8 != nil {
		opts = append(opts, broker.WithPayloadFormatIndicator(*m.PayloadUTF8))
	}
	if m.MessageExpiry != nil {
		opts = append(opts, broker.WithMessageExpiry(*m.MessageExpiry))
	}
	err := d.Server.Publish(m.Topic, m.Payload, m.QoS, m.Retain, opts...)
	if errors.Is(err, broker.ErrNotStarted) {
		return awserr.New(awserr.ServiceUnavailable, "The MQTT message broker is not running")
	}
	if errors.Is(err, broker.ErrNotStored) {
		// A server failure (500), not the InvalidRequestException awsapi makes of other errors.
		return awserr.New(awserr.InternalFailure, "%v", err)
	}
	return err
}

// ParseFunctions reads --function flags: NAME=URL (http:// or https://) or NAME=COMMAND (split on
// spaces), NAME a Lambda function name or ARN that rules' lambda actions name.
func ParseFunctions(specs []string) (map[string]rules.Function, error) {
	fns := map[string]rules.Function{}
	for _, s := range specs {
		name, target, ok := strings.Cut(s, "=")
		if !ok || name == "" || strings.TrimSpace(target) == "" {
			return nil, fmt.Errorf("instance: --function %q: want NAME=URL or NAME=COMMAND", s)
		}
		if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
			fns[name] = rules.Function{URL: target}
		} else {
			fns[name] = rules.Function{Command: strings.Fields(target)}
		}
	}
	return fns, nil
}

// retained is iot-data's view of the broker's retained messages.
type retained struct{ b *broker.Server }

func (r retained) RetainedMessage(topic string) (awsapi.RetainedMessage, bool) {
	m, ok := r.b.RetainedMessage(topic)
	if !ok {
		return awsapi.RetainedMessage{}, false
	}
	return toAPIRetained(m), true
}

func (r retained) RetainedMessages() []awsapi.RetainedMessage {
	page, _ := r.b.RetainedTopics("", 0)
	out := make([]awsapi.RetainedMessage, 0, len(page))
	for _, m := range page {
		out = append(out, toAPIRetained(m))
	}
	return out
}

func toAPIRetained(m broker.RetainedMessage) awsapi.RetainedMessage {
	out := awsapi.RetainedMessage{Topic: m.Topic, Payload: m.Payload, PayloadSize: m.PayloadSize, QoS: m.QoS, LastModified: m.LastModified}
	for _, u := range m.UserProperties {
		out.UserProperties = append(out.UserProperties, awsapi.UserProperty{Key: u.Key, Value: u.Value})
	}
	return out
}
