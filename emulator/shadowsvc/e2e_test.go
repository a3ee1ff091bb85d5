package shadowsvc_test

// End-to-end tests of the Device Shadow service as iotlab runs it: the real mTLS broker, the registry
// as its Directory with real certificates and policies, the iot-data HTTP API, and the shadow
// service on one store, wired as emulator/instance wires them (see wiring below). Devices are
// paho.golang MQTT 5 clients; the back end is aws-sdk-go-v2.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/smithy-go"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/awsapi"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/policy"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
	"github.com/iotlab/iotlab/emulator/shadowsvc"
	"github.com/iotlab/iotlab/emulator/store"
)

// waitFor bounds every wait; nothing should take more than a fraction of it.
const waitFor = 5 * time.Second

var sc = registry.Scope{Account: "123456789012", Region: "eu-west-1"}

// ---- wiring: what emulator/instance does ----

// directory is the broker's Directory over the registry.
type directory struct{ reg *registry.Registry }

func (d directory) Certificate(id string) (broker.Cert, bool) {
	c, ok := d.reg.CertificateByID(sc, id)
	if !ok {
		return broker.Cert{}, false
	}
	return broker.Cert{ID: c.ID, Status: c.Status, CAID: c.CAID}, true
}

func (d directory) Principal(certID, clientID string) ([]policy.Policy, *policy.Thing, error) {
	return d.reg.Principal(sc, certID, clientID)
}

// dataPlane is awsapi.DataPlane over the broker: Disconnect is the broker's own; Publish turns the
// message's MQTT 5 properties into broker options.
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
	return err
}

// stack is one iotlab: store, registry, broker, shadow service and API.
type stack struct {
	t      *testing.T
	st     *store.Bolt
	reg    *registry.Registry
	ca     *certs.CA
	brk    *broker.Server
	mu     sync.Mutex // guards svc and cancel
	svc    *shadowsvc.Service
	cancel func()
	apiURL string
}

var (
	caOnce sync.Once
	caDir  string
	testCA *certs.CA
	caErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if caDir != "" {
		os.RemoveAll(caDir)
	}
	os.Exit(code)
}

// sharedCA is one local CA for the whole test binary (its RSA keys are slow to make).
func sharedCA(t *testing.T) *certs.CA {
	t.Helper()
	caOnce.Do(func() {
		if caDir, caErr = os.MkdirTemp("", "iotlab-shadowsvc-ca-"); caErr != nil {
			return
		}
		testCA, caErr = certs.LoadOrCreate(caDir, certs.Options{})
	})
	if caErr != nil {
		t.Fatal(caErr)
	}
	return testCA
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, ca: sharedCA(t)}
	var err error
	if s.st, err = store.Open(filepath.Join(t.TempDir(), "state.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.st.Close() })
	if s.reg, err = registry.Open(registry.Options{Store: s.st}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.brk, err = broker.New(broker.Options{
		Listener: ln, TLSConfig: s.ca.ServerTLSConfig(), Directory: directory{s.reg},
		Account: sc.Account, Region: sc.Region,
		Quirks: broker.Quirks{KeepAliveFloor: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.brk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.brk.Close(); err != nil {
			t.Errorf("broker Close: %v", err)
		}
	})
	s.startShadows()
	t.Cleanup(s.stopShadows)

	api := awsapi.New(awsapi.Config{Registry: s.reg, CA: s.ca, Account: sc.Account, Region: sc.Region,
		DataPlane: dataPlane{s.brk}, Shadows: shadowsProxy{s}})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	s.apiURL = hs.URL
	return s
}

// startShadows opens the shadow service on the store and feeds it the broker's client publishes.
func (s *stack) startShadows() {
	s.t.Helper()
	svc, err := shadowsvc.Open(shadowsvc.Options{
		Store: s.st, Scope: sc,
		Publisher: shadowsvc.PublisherFunc(func(topic string, payload []byte) error {
			return s.brk.Publish(topic, payload, 1, false)
		}),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	cancel := s.brk.Subscribe(func(e broker.Event) {
		if e.Kind == broker.EventPublish {
			svc.HandleMessage(e.ClientID, e.Topic, e.Payload)
		}
	})
	s.mu.Lock()
	s.svc, s.cancel = svc, cancel
	s.mu.Unlock()
}

// stopShadows stops feeding the service, then closes it.
func (s *stack) stopShadows() {
	s.mu.Lock()
	svc, cancel := s.svc, s.cancel
	s.mu.Unlock()
	cancel()
	if err := svc.Close(); err != nil {
		s.t.Errorf("shadow service Close: %v", err)
	}
}

// restartShadows is a restart of the shadow service on the same store, the broker staying up.
func (s *stack) restartShadows() {
	s.t.Helper()
	s.stopShadows()
	s.startShadows()
}

// shadowsProxy lets the API follow a restarted shadow service.
type shadowsProxy struct{ s *stack }

func (p shadowsProxy) svc() *shadowsvc.Service {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.svc
}

func (p shadowsProxy) Get(sc registry.Scope, id shadow.ID, req []byte) ([]byte, error) {
	return p.svc().Get(sc, id, req)
}

func (p shadowsProxy) Update(sc registry.Scope, id shadow.ID, req []byte) ([]byte, error) {
	return p.svc().Update(sc, id, req)
}

func (p shadowsProxy) Delete(sc registry.Scope, id shadow.ID, req []byte) ([]byte, error) {
	return p.svc().Delete(sc, id, req)
}

func (p shadowsProxy) ListNamed(sc registry.Scope, thing, token string, size int) ([]string, string, error) {
	return p.svc().ListNamed(sc, thing, token, size)
}

func (p shadowsProxy) Submit(sc registry.Scope, clientID, topic string, payload []byte) bool {
	return p.svc().Submit(sc, clientID, topic, payload)
}

// data is the back end's iot-data client.
func (s *stack) data() *iotdataplane.Client {
	return iotdataplane.NewFromConfig(aws.Config{
		Region:           sc.Region,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDIOTLAB", "secret", ""),
		BaseEndpoint:     aws.String(s.apiURL),
		RetryMaxAttempts: 1,
	})
}

// device registers an ACTIVE certificate made from a CSR (as CreateCertificateFromCsr does), with a
// policy of the given statements attached.
func (s *stack) device(name string, statements ...string) tls.Certificate {
	s.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		s.t.Fatal(err)
	}
	cert, certPEM, err := s.ca.SignCSR(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := s.reg.CreateCertificate(sc, cert, true)
	if err != nil {
		s.t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
	if _, err := s.reg.CreatePolicy(sc, name+"-policy", doc, nil); err != nil {
		s.t.Fatal(err)
	}
	if err := s.reg.AttachPolicy(sc, name+"-policy", registry.CertificateARN(sc, c.ID)); err != nil {
		s.t.Fatal(err)
	}
	keyPEM, err := certs.EncodePrivateKeyPEM(key)
	if err != nil {
		s.t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		s.t.Fatal(err)
	}
	return pair
}

// allow is a policy statement; resources are written without the ARN prefix.
func allow(action string, resources ...string) string {
	var rs []string
	for _, r := range resources {
		b, _ := json.Marshal("arn:aws:iot:" + sc.Region + ":" + sc.Account + ":" + r)
		rs = append(rs, string(b))
	}
	return `{"Effect":"Allow","Action":"` + action + `","Resource":[` + strings.Join(rs, ",") + `]}`
}

// shadowDevice is the policy of a device that owns the shadows of thing.
func shadowDevice(clientID, thing string) []string {
	return []string{
		allow("iot:Connect", "client/"+clientID),
		allow("iot:Publish", "topic/$aws/things/"+thing+"/shadow/*"),
		allow("iot:Subscribe", "topicfilter/$aws/things/"+thing+"/shadow/*"),
		allow("iot:Receive", "topic/$aws/things/"+thing+"/shadow/*"),
	}
}

// ---- MQTT 5 device ----

type mqttDevice struct {
	t    *testing.T
	c    *paho.Client
	msgs chan *paho.Publish
}

func (s *stack) connect(cert tls.Certificate, clientID string) *mqttDevice {
	s.t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", s.brk.Addr().String(), &tls.Config{
		RootCAs: s.ca.RootPool(), Certificates: []tls.Certificate{cert}, ServerName: "localhost", MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	d := &mqttDevice{t: s.t, msgs: make(chan *paho.Publish, 256)}
	d.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case d.msgs <- pr.Packet:
			default:
				s.t.Errorf("%s: message buffer full", clientID)
			}
			return true, nil
		}},
		PacketTimeout: waitFor,
		PingHandler:   quietPinger{},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := d.c.Connect(ctx, &paho.Connect{ClientID: clientID, KeepAlive: 60, CleanStart: true}); err != nil {
		s.t.Fatalf("connect %s: %v", clientID, err)
	}
	s.t.Cleanup(func() { _ = d.c.Disconnect(&paho.Disconnect{}); conn.Close() })
	return d
}

func (d *mqttDevice) subscribe(filters ...string) {
	d.t.Helper()
	var subs []paho.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sa, err := d.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if err != nil {
		d.t.Fatalf("subscribe %v: %v", filters, err)
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 {
			d.t.Fatalf("subscribe %s: SUBACK 0x%02x", filters[i], code)
		}
	}
}

func (d *mqttDevice) publish(topic, payload string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := d.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		d.t.Fatalf("publish %s: %v", topic, err)
	}
}

// expect waits for the next message on topic, skipping others, and returns it.
func (d *mqttDevice) expect(topic string) *paho.Publish {
	d.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-d.msgs:
			if m.Topic == topic {
				return m
			}
		case <-deadline:
			d.t.Fatalf("no message on %s", topic)
			return nil
		}
	}
}

// expectNoneBefore fails if a message on topic arrives before one on marker.
func (d *mqttDevice) expectNoneBefore(topic, marker string) {
	d.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-d.msgs:
			if m.Topic == topic {
				d.t.Fatalf("unexpected message on %s: %s", topic, m.Payload)
			}
			if m.Topic == marker {
				return
			}
		case <-deadline:
			d.t.Fatalf("marker %s never arrived", marker)
		}
	}
}

// quietPinger never pings: paho.golang v0.23's default pinger can interleave a PINGREQ with another
// packet's writes (see broker/helpers_test.go). Test connections are far shorter than their keep-alive.
type quietPinger struct{}

func (quietPinger) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (quietPinger) PacketSent()                                         {}
func (quietPinger) PacketReceived()                                     {}
func (quietPinger) PingResp()                                           {}
func (quietPinger) SetDebug(log.Logger)                                 {}

// field decodes a JSON document and returns the member at path.
func field(t *testing.T, doc []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", doc, err)
	}
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// ---- tests ----

// TestDeviceReportsBackendDesires: the shadow loop of checklist 81–84 across both transports. The
// device reports over MQTT, the back end sets desired over HTTP, the device gets /update/delta; a
// stale version from the device gets /update/rejected 409 with its clientToken.
func TestDeviceReportsBackendDesires(t *testing.T) {
	s := newStack(t)
	dev := s.connect(s.device("lamp", shadowDevice("lamp", "lamp")...), "lamp")
	const p = "$aws/things/lamp/shadow"
	dev.subscribe(p+"/update/accepted", p+"/update/rejected", p+"/update/delta", p+"/get/accepted", p+"/get/rejected")

	dev.publish(p+"/get", `{"clientToken":"boot"}`)
	if m := dev.expect(p + "/get/rejected"); field(t, m.Payload, "code") != 404.0 || field(t, m.Payload, "clientToken") != "boot" {
		t.Fatalf("get of a new shadow: got %s, want 404 with clientToken boot", m.Payload)
	}

	dev.publish(p+"/update", `{"state":{"reported":{"color":"off"}},"clientToken":"dev-1"}`)
	if m := dev.expect(p + "/update/accepted"); field(t, m.Payload, "version") != 1.0 || field(t, m.Payload, "clientToken") != "dev-1" {
		t.Fatalf("report: got %s, want version 1", m.Payload)
	}

	_, err := s.data().UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"), Payload: []byte(`{"state":{"desired":{"color":"red"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	delta := dev.expect(p + "/update/delta")
	if field(t, delta.Payload, "state", "color") != "red" || field(t, delta.Payload, "version") != 2.0 {
		t.Fatalf("delta: got %s, want color red at version 2", delta.Payload)
	}

	dev.publish(p+"/update", `{"state":{"reported":{"color":"red"}},"version":1,"clientToken":"dev-2"}`)
	rej := dev.expect(p + "/update/rejected")
	if field(t, rej.Payload, "code") != 409.0 || field(t, rej.Payload, "message") != "Version conflict" || field(t, rej.Payload, "clientToken") != "dev-2" {
		t.Fatalf("stale version: got %s, want 409 Version conflict with clientToken dev-2", rej.Payload)
	}
	dev.publish(p+"/update", `{"state":`)
	if m := dev.expect(p + "/update/rejected"); field(t, m.Payload, "code") != 400.0 || field(t, m.Payload, "message") != "Invalid JSON" {
		t.Fatalf("invalid JSON: got %s", m.Payload)
	}

	dev.publish(p+"/update", `{"state":{"reported":{"color":"red"}},"version":2}`)
	dev.expect(p + "/update/accepted")
	dev.publish(p+"/get", ``)
	got := dev.expect(p + "/get/accepted")
	if field(t, got.Payload, "version") != 3.0 || field(t, got.Payload, "state", "delta") != nil {
		t.Fatalf("get after reporting red: got %s, want version 3 and no delta", got.Payload)
	}

	// A rejected HTTP update publishes nothing (AWS: device-shadow-error-messages); the next accepted
	// one is the marker.
	_, err = s.data().UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"), Payload: []byte(`{"state":{"desired":{"color":"blue"}},"version":1}`)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ConflictException" {
		t.Fatalf("stale HTTP update: got %v, want ConflictException", err)
	}
	_, err = s.data().UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("lamp"), Payload: []byte(`{"state":{"desired":{"color":"red"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	dev.expectNoneBefore(p+"/update/rejected", p+"/update/accepted")
}

// TestResponsesNeedReceive: responses are ordinary publishes, delivered only where the subscriber's
// policy allows iot:Receive (AWS: device-shadow-mqtt — the requester must be authorized).
func TestResponsesNeedReceive(t *testing.T) {
	s := newStack(t)
	const p = "$aws/things/fan/shadow"
	viewer := s.connect(s.device("viewer",
		allow("iot:Connect", "client/viewer"),
		allow("iot:Subscribe", "topicfilter/$aws/things/fan/shadow/*"),
		allow("iot:Receive", "topic/$aws/things/fan/shadow/update/accepted"),
	), "viewer")
	viewer.subscribe(p+"/update/delta", p+"/update/accepted")
	c := s.data()
	for _, doc := range []string{`{"state":{"desired":{"speed":3}}}`, `{"state":{"reported":{"speed":1}}}`} {
		if _, err := c.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("fan"), Payload: []byte(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	// The first update's delta comes before the second's accepted, were it delivered.
	viewer.expect(p + "/update/accepted")
	viewer.expectNoneBefore(p+"/update/delta", p+"/update/accepted")
}

// TestShadowSurvivesServiceRestart: what a device wrote is there after the shadow service restarts
// on the same store, and versions continue.
func TestShadowSurvivesServiceRestart(t *testing.T) {
	s := newStack(t)
	dev := s.connect(s.device("probe", shadowDevice("probe", "probe")...), "probe")
	const p = "$aws/things/probe/shadow/name/env"
	dev.subscribe(p+"/update/accepted", p+"/get/accepted")
	dev.publish(p+"/update", `{"state":{"reported":{"temp":21.5}}}`)
	dev.expect(p + "/update/accepted")
	dev.publish(p+"/update", `{"state":{"reported":{"hum":40}}}`)
	dev.expect(p + "/update/accepted")

	s.restartShadows()

	dev.publish(p+"/get", ``)
	got := dev.expect(p + "/get/accepted")
	if field(t, got.Payload, "version") != 2.0 || field(t, got.Payload, "state", "reported", "temp") != 21.5 {
		t.Fatalf("after restart: got %s, want version 2 with temp 21.5", got.Payload)
	}
	out, err := s.data().ListNamedShadowsForThing(context.Background(), &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("probe")})
	if err != nil || len(out.Results) != 1 || out.Results[0] != "env" {
		t.Fatalf("ListNamedShadowsForThing after restart: got %+v, %v; want [env]", out, err)
	}
	dev.publish(p+"/update", `{"state":{"reported":{"hum":41}}}`)
	if m := dev.expect(p + "/update/accepted"); field(t, m.Payload, "version") != 3.0 {
		t.Fatalf("update after restart: got %s, want version 3", m.Payload)
	}
}

// TestPublishOverHTTPToMQTT5: iot-data Publish reaches an MQTT 5 subscriber with its properties
// (checklist 54, 56), and a publish to a shadow request topic is answered like a device's.
func TestPublishOverHTTPToMQTT5(t *testing.T) {
	s := newStack(t)
	dev := s.connect(s.device("app", append(shadowDevice("app", "heater"),
		allow("iot:Subscribe", "topicfilter/app/*"), allow("iot:Receive", "topic/app/*"))...), "app")
	dev.subscribe("app/inbox", "$aws/things/heater/shadow/update/accepted")
	c := s.data()
	_, err := c.Publish(context.Background(), &iotdataplane.PublishInput{
		Topic: aws.String("app/inbox"), Qos: 1, Payload: []byte("hello"),
		UserProperties:         aws.String(`[{"deviceName":"alpha"},{"deviceCnt":"45"}]`),
		ContentType:            aws.String("text/plain"),
		ResponseTopic:          aws.String("app/replies"),
		CorrelationData:        aws.String("AAEC"),
		PayloadFormatIndicator: types.PayloadFormatIndicatorUtf8Data,
		MessageExpiry:          60,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := dev.expect("app/inbox")
	pr := m.Properties
	if string(m.Payload) != "hello" || pr == nil || pr.ContentType != "text/plain" || pr.ResponseTopic != "app/replies" ||
		string(pr.CorrelationData) != "\x00\x01\x02" || pr.PayloadFormat == nil || *pr.PayloadFormat != 1 ||
		pr.MessageExpiry == nil || *pr.MessageExpiry == 0 || *pr.MessageExpiry > 60 {
		t.Fatalf("got %q with %+v", m.Payload, pr)
	}
	if len(pr.User) != 2 || pr.User[0] != (paho.UserProperty{Key: "deviceName", Value: "alpha"}) || pr.User[1] != (paho.UserProperty{Key: "deviceCnt", Value: "45"}) {
		t.Fatalf("user properties: got %+v", pr.User)
	}

	_, err = c.Publish(context.Background(), &iotdataplane.PublishInput{Topic: aws.String("$aws/things/heater/shadow/update"), Qos: 1,
		Payload: []byte(`{"state":{"desired":{"temp":19}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if m := dev.expect("$aws/things/heater/shadow/update/accepted"); field(t, m.Payload, "state", "desired", "temp") != 19.0 {
		t.Fatalf("shadow update published over HTTP: got %s", m.Payload)
	}
}

// TestDeleteConnection: DeleteConnection closes a device's connection; an unknown client is 404.
func TestDeleteConnection(t *testing.T) {
	s := newStack(t)
	dev := s.connect(s.device("kicked", allow("iot:Connect", "client/kicked")), "kicked")
	c := s.data()
	if _, err := c.DeleteConnection(context.Background(), &iotdataplane.DeleteConnectionInput{ClientId: aws.String("kicked"), PreventWillMessage: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-dev.c.Done():
	case <-time.After(waitFor):
		t.Fatal("the connection stayed open after DeleteConnection")
	}
	_, err := c.DeleteConnection(context.Background(), &iotdataplane.DeleteConnectionInput{ClientId: aws.String("nobody")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" {
		t.Fatalf("unknown client: got %v, want ResourceNotFoundException", err)
	}
}
