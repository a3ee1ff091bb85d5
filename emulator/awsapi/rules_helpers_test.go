package awsapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/policy"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/rules"
)

// The rules tests run the parts as emulator/instance wires them: the API and the registry, the mTLS
// broker with the registry as its Directory, and the rules engine fed by the broker's events and
// reloaded by the registry's. The adapters below are the wiring in miniature.

// rlWait bounds every wait of the rules tests; nothing should take more than a fraction of it.
const rlWait = 10 * time.Second

var rlScope = registry.Scope{Account: "123456789012", Region: "eu-west-1"}

// rlDirectory is the broker's view of the registry.
type rlDirectory struct{ reg *registry.Registry }

func (d rlDirectory) Certificate(id string) (broker.Cert, bool) {
	c, ok := d.reg.CertificateByID(rlScope, id)
	if !ok {
		return broker.Cert{}, false
	}
	return broker.Cert{ID: c.ID, Status: c.Status, CAID: c.CAID}, true
}

func (d rlDirectory) Principal(certID, clientID string) ([]policy.Policy, *policy.Thing, error) {
	return d.reg.Principal(rlScope, certID, clientID)
}

// rlRuleSource is the rules engine's view of the registry.
type rlRuleSource struct{ reg *registry.Registry }

func (s rlRuleSource) EnabledRules() ([]rules.Rule, error) {
	var out []rules.Rule
	for _, r := range s.reg.EnabledTopicRules(rlScope) {
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

// rlPublisher is the rules engine's view of the broker, MQTT 5 properties included.
type rlPublisher struct{ srv *broker.Server }

func (p rlPublisher) Publish(topic string, payload []byte, qos byte, retain bool) error {
	return p.srv.Publish(topic, payload, qos, retain)
}

func (p rlPublisher) PublishWithHeaders(topic string, payload []byte, qos byte, retain bool, h rules.Headers) error {
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
	return p.srv.Publish(topic, payload, qos, retain, opts...)
}

// rlLab is a running API, broker and rules engine on one registry.
type rlLab struct {
	*testEnv
	Broker *broker.Server
	Engine *rules.Engine
	Logs   *rlLogs
	iot    *iot.Client
	policy sync.Once
}

// newRulesLab starts the three parts; tweak adjusts the engine's options.
func newRulesLab(t *testing.T, tweak ...func(*rules.Options)) *rlLab {
	t.Helper()
	e := newTestEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	brk, err := broker.New(broker.Options{
		Listener:  ln,
		TLSConfig: e.Srv.cfg.CA.ServerTLSConfig(),
		Directory: rlDirectory{e.Reg},
		Account:   rlScope.Account,
		Region:    rlScope.Region,
	})
	mustOK(t, err)
	mustOK(t, brk.Start())
	t.Cleanup(func() { brk.Close() })

	logs := &rlLogs{signal: make(chan struct{}, 1)}
	opt := rules.Options{
		Rules:     rlRuleSource{e.Reg},
		Publisher: rlPublisher{brk},
		Account:   rlScope.Account,
		Region:    rlScope.Region,
		Logger:    slog.New(logs),
	}
	for _, f := range tweak {
		f(&opt)
	}
	eng, err := rules.New(opt)
	mustOK(t, err)
	t.Cleanup(func() { eng.Close() }) // runs before the broker's Close

	e.Reg.Watch(func(ev registry.Event) {
		if ev.Kind == registry.RuleEventKind && ev.Scope == rlScope {
			eng.Reload()
		}
	})
	cancel := brk.Subscribe(func(ev broker.Event) {
		if ev.Kind == broker.EventPublish {
			eng.Handle(rules.Message{Topic: ev.Topic, Payload: ev.Payload, ClientID: ev.ClientID, Principal: ev.CertID, Timestamp: ev.Time})
		}
	})
	t.Cleanup(cancel)
	return &rlLab{testEnv: e, Broker: brk, Engine: eng, Logs: logs, iot: e.iotClient()}
}

// device makes a key, has the API sign its CSR, attaches an allow-all policy and returns the TLS
// certificate, as a learner's device setup does.
func (l *rlLab) device(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	l.policy.Do(func() {
		_, err := l.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("allow_all"), PolicyDocument: aws.String(allowAll)})
		mustOK(t, err)
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mustOK(t, err)
	out, err := l.iot.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csrPEM(t, key, cn)), SetAsActive: true})
	mustOK(t, err)
	_, err = l.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("allow_all"), Target: out.CertificateArn})
	mustOK(t, err)
	keyPEM, err := certs.EncodePrivateKeyPEM(key)
	mustOK(t, err)
	pair, err := tls.X509KeyPair([]byte(aws.ToString(out.CertificatePem)), []byte(keyPEM))
	mustOK(t, err)
	return pair
}

// rlClient is an MQTT 5 client (paho.golang) over mutual TLS.
type rlClient struct {
	t    *testing.T
	c    *paho.Client
	msgs chan *paho.Publish
}

// connect connects a new device with that client ID.
func (l *rlLab) connect(t *testing.T, clientID string) *rlClient {
	t.Helper()
	cert := l.device(t, clientID)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: rlWait}, "tcp", l.Broker.Addr().String(), &tls.Config{
		RootCAs:      l.Srv.cfg.CA.RootPool(),
		Certificates: []tls.Certificate{cert},
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	})
	mustOK(t, err)
	t.Cleanup(func() { conn.Close() })
	rc := &rlClient{t: t, msgs: make(chan *paho.Publish, 1000)}
	rc.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case rc.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
		PacketTimeout: rlWait,
		PingHandler:   rlNoPings{},
	})
	c, cancel := context.WithTimeout(ctx, rlWait)
	defer cancel()
	if _, err := rc.c.Connect(c, &paho.Connect{ClientID: clientID, KeepAlive: 60, CleanStart: true}); err != nil {
		t.Fatalf("connect %s: %v", clientID, err)
	}
	t.Cleanup(func() { _ = rc.c.Disconnect(&paho.Disconnect{}) })
	return rc
}

func (rc *rlClient) subscribe(filters ...string) {
	rc.t.Helper()
	var subs []paho.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	c, cancel := context.WithTimeout(ctx, rlWait)
	defer cancel()
	sa, err := rc.c.Subscribe(c, &paho.Subscribe{Subscriptions: subs})
	if err != nil {
		rc.t.Fatalf("subscribe %v: %v", filters, err)
	}
	for i, code := range sa.Reasons {
		if code > 1 {
			rc.t.Fatalf("subscribe %s: reason code %#x", filters[i], code)
		}
	}
}

func (rc *rlClient) publish(topic, payload string) {
	rc.t.Helper()
	c, cancel := context.WithTimeout(ctx, rlWait)
	defer cancel()
	if _, err := rc.c.Publish(c, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		rc.t.Fatalf("publish %s: %v", topic, err)
	}
}

// next returns the next message received.
func (rc *rlClient) next() *paho.Publish {
	rc.t.Helper()
	select {
	case m := <-rc.msgs:
		return m
	case <-time.After(rlWait):
		rc.t.Fatal("no message")
		return nil
	}
}

// expect returns the next message and checks its topic and payload ("" for any payload).
func (rc *rlClient) expect(topic, payload string) *paho.Publish {
	rc.t.Helper()
	m := rc.next()
	if m.Topic != topic || (payload != "" && string(m.Payload) != payload) {
		rc.t.Fatalf("got %s %s, want %s %s", m.Topic, m.Payload, topic, payload)
	}
	return m
}

// rlNoPings never pings: test connections live far less than their keep-alive, and paho's default
// pinger can interleave a PINGREQ with another packet's writes (see broker/helpers_test.go).
type rlNoPings struct{}

func (rlNoPings) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (rlNoPings) PacketSent()                                         {}
func (rlNoPings) PacketReceived()                                     {}
func (rlNoPings) PingResp()                                           {}
func (rlNoPings) SetDebug(log.Logger)                                 {}

// rlLogs is a slog.Handler that keeps the engine's log messages with their attributes.
type rlLogs struct {
	mu     sync.Mutex // guards lines
	lines  []string
	signal chan struct{}
}

func (h *rlLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *rlLogs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *rlLogs) WithGroup(string) slog.Handler            { return h }

func (h *rlLogs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.Key + "=" + a.Value.String()); return true })
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
	return nil
}

// matching returns the lines that contain every part.
func (h *rlLogs) matching(parts ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
next:
	for _, l := range h.lines {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// wait returns the first line that contains every part, waiting up to rlWait.
func (h *rlLogs) wait(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(rlWait)
	for {
		if ls := h.matching(parts...); len(ls) > 0 {
			return ls[0]
		}
		select {
		case <-h.signal:
		case <-deadline:
			t.Fatalf("no log line with %q", parts)
			return ""
		}
	}
}
