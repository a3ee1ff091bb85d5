package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/policy"
)

// waitFor bounds every wait in these tests; nothing should take more than a fraction of it.
const waitFor = 5 * time.Second

// Test account and region.
const (
	testAccount = "123456789012"
	testRegion  = "eu-west-1"
)

// shared test PKI: the iotlab CA (server certificate, root) and a third-party device CA that signs
// fast ECDSA device certificates ("registered with a CA").
var (
	pkiOnce   sync.Once
	pkiCA     *certs.CA
	pkiDevCA  *x509.Certificate
	pkiDevKey crypto.Signer
	pkiDir    string
	pkiErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

func testPKI(t testing.TB) (*certs.CA, *x509.Certificate, crypto.Signer) {
	t.Helper()
	pkiOnce.Do(func() {
		if pkiDir, pkiErr = os.MkdirTemp("", "iotlab-broker-pki-"); pkiErr != nil {
			return
		}
		if pkiCA, pkiErr = certs.LoadOrCreate(pkiDir, certs.Options{}); pkiErr != nil {
			return
		}
		pkiDevCA, pkiDevKey, pkiErr = certs.NewCA("Test Device CA", certs.Options{})
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiCA, pkiDevCA, pkiDevKey
}

// testClock is real time plus an offset tests can advance (connect and publish rates).
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// fixtureDir is a Directory backed by real certificates and real policies: the registry's rules in
// miniature, no mock of the broker.
type fixtureDir struct {
	mu       sync.Mutex                  // guards everything below
	certs    map[string]Cert             // id → cert
	cas      map[string]Cert             // id → registered CA
	attached map[string][]string         // cert id → policy names
	policies map[string]*policy.Compiled // name → default version's document
	versions map[string]string           // name → default version id
	things   map[string]*policy.Thing    // name → thing (IsAttached filled per request)
	thingOf  map[string]map[string]bool  // thing name → attached cert ids
	groups   map[string][]string         // thing name → its groups and their ancestors
	logging  awslog.Config
	calls    atomic.Int64 // Principal calls
}

func newFixtureDir() *fixtureDir {
	return &fixtureDir{
		certs:    map[string]Cert{},
		cas:      map[string]Cert{},
		attached: map[string][]string{},
		policies: map[string]*policy.Compiled{},
		versions: map[string]string{},
		things:   map[string]*policy.Thing{},
		thingOf:  map[string]map[string]bool{},
		groups:   map[string][]string{},
	}
}

func (d *fixtureDir) Certificate(id string) (Cert, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.certs[id]
	return c, ok
}

func (d *fixtureDir) CACertificate(id string) (Cert, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cas[id]
	return c, ok
}

func (d *fixtureDir) setCAStatus(id, status string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cas[id] = Cert{ID: id, Status: status}
}

func (d *fixtureDir) Principal(certID, clientID string) ([]policy.Policy, *policy.Thing, error) {
	d.calls.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	var ps []policy.Policy
	for _, name := range d.attached[certID] {
		if doc := d.policies[name]; doc != nil {
			ps = append(ps, policy.Policy{Name: name, Version: d.versions[name], Doc: doc})
		}
	}
	var th *policy.Thing
	if t := d.things[clientID]; t != nil {
		cp := *t
		cp.IsAttached = d.thingOf[clientID][certID]
		th = &cp
	}
	return ps, th, nil
}

func (d *fixtureDir) ThingGroups(thing string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.groups[thing]
}

func (d *fixtureDir) Logging() awslog.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logging
}

// setPolicy creates or replaces (as a new default version) a policy.
func (d *fixtureDir) setPolicy(t testing.TB, name, doc string) {
	t.Helper()
	c, err := policy.Parse(doc)
	if err != nil {
		t.Fatalf("policy %s: %v", name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v := 1
	if cur, ok := d.versions[name]; ok {
		fmt.Sscan(cur, &v)
		v++
	}
	d.policies[name] = c
	d.versions[name] = fmt.Sprint(v)
}

// register records an ACTIVE certificate and attaches policies to it.
func (d *fixtureDir) register(certID, caID string, policies ...string) {
	d.mu.Lock()
	d.certs[certID] = Cert{ID: certID, Status: StatusActive, CAID: caID}
	d.mu.Unlock()
	for _, p := range policies {
		d.attach(p, certID)
	}
}

func (d *fixtureDir) attach(policyName, certID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attached[certID] = append(d.attached[certID], policyName)
}

func (d *fixtureDir) detachAll(certID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.attached, certID)
}

func (d *fixtureDir) setStatus(certID, status string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.certs[certID]
	c.Status = status
	d.certs[certID] = c
}

func (d *fixtureDir) addThing(name string, attrs map[string]string, certIDs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.things[name] = &policy.Thing{Name: name, Attributes: attrs}
	m := map[string]bool{}
	for _, id := range certIDs {
		m[id] = true
	}
	d.thingOf[name] = m
}

func (d *fixtureDir) setLogging(cfg awslog.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logging = cfg
}

// device is a client certificate and its key.
type device struct {
	ID      string
	Cert    *x509.Certificate
	TLS     tls.Certificate
	CertPEM string
	KeyPEM  string
}

// newDeviceCert issues an ECDSA certificate from the test device CA (not registered).
func newDeviceCert(t testing.TB, cn string, opt certs.Options) device {
	t.Helper()
	_, caCert, caKey := testPKI(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.IssueLeaf(caCert, caKey, cn, key.Public(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return deviceFrom(t, cert, key)
}

func deviceFrom(t testing.TB, cert *x509.Certificate, key crypto.Signer) device {
	t.Helper()
	keyPEM, err := certs.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := certs.EncodeCertificatePEM(cert.Raw)
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return device{ID: certs.CertificateID(cert.Raw), Cert: cert, TLS: pair, CertPEM: certPEM, KeyPEM: keyPEM}
}

// env is a running broker on 127.0.0.1:0 with a fixture directory.
type env struct {
	t      testing.TB
	CA     *certs.CA
	Dir    *fixtureDir
	Srv    *Server
	Clock  *testClock
	Opts   Options
	LogDir string
	events *recorder
	// stopRecording unsubscribes events (the benchmark measures the broker without observers).
	stopRecording func()
}

// newEnv starts a broker; tweak adjusts the options first.
func newEnv(t testing.TB, tweak ...func(*Options)) *env {
	t.Helper()
	ca, devCA, _ := testPKI(t)
	e := &env{t: t, CA: ca, Dir: newFixtureDir(), Clock: &testClock{}, LogDir: t.TempDir()}
	// The test device CA is a registered, ACTIVE CA.
	e.Dir.setCAStatus(certs.CertificateID(devCA.Raw), StatusActive)
	// Logging at INFO, as after `aws iot set-v2-logging-options --default-log-level INFO`.
	e.Dir.setLogging(awslog.Config{Configured: true, DefaultLevel: awslog.Info})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Opts = Options{
		Listener:  ln,
		TLSConfig: ca.ServerTLSConfig(),
		Directory: e.Dir,
		Account:   testAccount,
		Region:    testRegion,
		LogDir:    e.LogDir,
		Now:       e.Clock.Now,
		Quirks:    Quirks{KeepAliveFloor: time.Second},
	}
	for _, f := range tweak {
		f(&e.Opts)
	}
	srv, err := New(e.Opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Srv = srv
	e.events = newRecorder()
	e.stopRecording = srv.Subscribe(e.events.add)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// device issues and registers an ACTIVE certificate with the given policies attached.
func (e *env) device(cn string, policies ...string) device {
	e.t.Helper()
	d := newDeviceCert(e.t, cn, certs.Options{})
	_, devCA, _ := testPKI(e.t)
	e.Dir.register(d.ID, certs.CertificateID(devCA.Raw), policies...)
	return d
}

// policy adds a policy whose statements are given as JSON fragments.
func (e *env) policy(name string, statements ...string) {
	e.t.Helper()
	e.Dir.setPolicy(e.t, name, `{"Version":"2012-10-17","Statement":[`+strings.Join(statements, ",")+`]}`)
}

// arn builds a resource ARN of the test account.
func arn(resource string) string {
	return "arn:aws:iot:" + testRegion + ":" + testAccount + ":" + resource
}

// allow is a statement allowing actions on resources.
func allow(actions string, resources ...string) string {
	return statement("Allow", actions, resources...)
}

func deny(actions string, resources ...string) string {
	return statement("Deny", actions, resources...)
}

func statement(effect, actions string, resources ...string) string {
	var rs []string
	for _, r := range resources {
		if r != "*" {
			r = arn(r)
		}
		b, _ := json.Marshal(r)
		rs = append(rs, string(b))
	}
	var as []string
	for _, a := range strings.Split(actions, ",") {
		as = append(as, `"`+a+`"`)
	}
	return `{"Effect":"` + effect + `","Action":[` + strings.Join(as, ",") + `],"Resource":[` + strings.Join(rs, ",") + `]}`
}

func (e *env) addr() string { return e.Srv.Addr().String() }

func (e *env) clientTLS(d device) *tls.Config {
	return &tls.Config{
		RootCAs:      e.CA.RootPool(),
		Certificates: []tls.Certificate{d.TLS},
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	}
}

func (e *env) dialTLS(d device) *tls.Conn {
	e.t.Helper()
	c, err := e.tryDialTLS(d)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// tryDialTLS is dialTLS for goroutines other than the test's: it returns the error.
func (e *env) tryDialTLS(d device) (*tls.Conn, error) {
	dialer := &net.Dialer{Timeout: waitFor}
	c, err := tls.DialWithDialer(dialer, "tcp", e.addr(), e.clientTLS(d))
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { c.Close() })
	return c, nil
}

// ---- observed events ----

// recorder keeps every Event and lets tests wait for one.
type recorder struct {
	mu     sync.Mutex // guards events
	events []Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// wait returns the first recorded event matching pred, waiting up to waitFor.
func (r *recorder) wait(t testing.TB, what string, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if pred(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return Event{}
		}
	}
}

// waitCount waits until n recorded events match pred.
func (r *recorder) waitCount(t testing.TB, what string, n int, pred func(Event) bool) {
	t.Helper()
	deadline := time.After(waitFor)
	for len(r.all(pred)) < n {
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// all returns the recorded events matching pred.
func (r *recorder) all(pred func(Event) bool) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

func kindIs(k EventKind, clientID string) func(Event) bool {
	return func(e Event) bool { return e.Kind == k && e.ClientID == clientID }
}

// ---- MQTT 5 client (paho.golang) ----

type v5Client struct {
	t      testing.TB
	e      *env
	id     string
	c      *paho.Client
	conn   *tls.Conn
	msgs   chan *paho.Publish
	discon chan *paho.Disconnect
	ack    *paho.Connack
}

type v5Opts struct {
	keepAlive    uint16
	noCleanStart bool
	sei          uint32 // Session Expiry Interval; > 0 makes the session persistent
	will         *paho.WillMessage
}

// dial5 connects with MQTT 5; it returns the CONNACK's error, if any, without failing.
func (e *env) dial5(d device, clientID string, o v5Opts) (*v5Client, error) {
	e.t.Helper()
	conn, err := e.tryDialTLS(d)
	if err != nil {
		return &v5Client{}, err
	}
	vc := &v5Client{t: e.t, e: e, id: clientID, conn: conn, msgs: make(chan *paho.Publish, 1000), discon: make(chan *paho.Disconnect, 1)}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.dumpEvents()
		}
	})
	vc.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case vc.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case vc.discon <- d:
			default:
			}
		},
		PacketTimeout: waitFor,
		PingHandler:   quietPinger{},
	})
	ka := o.keepAlive
	if ka == 0 {
		ka = 60
	}
	cp := &paho.Connect{ClientID: clientID, KeepAlive: ka, CleanStart: !o.noCleanStart, WillMessage: o.will}
	if o.sei > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &o.sei}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ack, err := vc.c.Connect(ctx, cp)
	vc.ack = ack
	if err == nil {
		e.t.Cleanup(func() { _ = vc.c.Disconnect(&paho.Disconnect{}) })
	}
	return vc, err
}

func (e *env) connect5(d device, clientID string) *v5Client {
	e.t.Helper()
	vc, err := e.dial5(d, clientID, v5Opts{})
	if err != nil {
		e.t.Fatalf("MQTT 5 connect %s: %v", clientID, err)
	}
	return vc
}

func (vc *v5Client) subscribe(filters ...string) *paho.Suback {
	vc.t.Helper()
	var subs []paho.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sa, err := vc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if sa == nil {
		vc.t.Fatalf("subscribe %v: %v", filters, err)
	}
	return sa
}

func (vc *v5Client) publish(topic string, qos byte, retain bool, payload string) (*paho.PublishResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	r, err := vc.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
	return r, err
}

// expect waits for a message on topic.
func (vc *v5Client) expect(topic string) *paho.Publish {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic == topic {
				return m
			}
		case <-deadline:
			vc.t.Fatalf("no message on %s", topic)
			return nil
		}
	}
}

// expectNone checks that nothing arrives on topic before a marker message published afterwards on
// marker arrives: an event to wait for instead of a sleep.
func (vc *v5Client) expectNoneBefore(topic, marker string) {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic == topic {
				vc.t.Fatalf("unexpected message on %s: %q", topic, m.Payload)
			}
			if m.Topic == marker {
				return
			}
		case <-deadline:
			vc.t.Fatalf("marker %s never arrived", marker)
		}
	}
}

// expectAll waits for a message on each topic, in any order, and returns the first of each.
func (vc *v5Client) expectAll(topics ...string) map[string]*paho.Publish {
	vc.t.Helper()
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	got := map[string]*paho.Publish{}
	deadline := time.After(waitFor)
	for len(got) < len(want) {
		select {
		case m := <-vc.msgs:
			if want[m.Topic] && got[m.Topic] == nil {
				got[m.Topic] = m
			}
		case <-deadline:
			vc.t.Fatalf("got messages on %d of %v", len(got), topics)
		}
	}
	return got
}

// until returns the topics received before a message on marker.
func (vc *v5Client) until(marker string) []string {
	vc.t.Helper()
	before, _ := vc.collect(marker)
	var topics []string
	for _, m := range before {
		topics = append(topics, m.Topic)
	}
	return topics
}

// collect returns the messages received before the first one on marker, and that one.
func (vc *v5Client) collect(marker string) (before []*paho.Publish, m *paho.Publish) {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic == marker {
				return before, m
			}
			before = append(before, m)
		case <-deadline:
			vc.t.Fatalf("no message on %s", marker)
			return nil, nil
		}
	}
}

// closed waits until the server ends the connection.
func (vc *v5Client) closed() {
	vc.t.Helper()
	select {
	case <-vc.c.Done():
	case <-time.After(waitFor):
		vc.t.Fatal("the connection stayed open")
	}
}

// quietPinger never pings. paho.golang v0.23's DefaultPinger sends a PINGREQ at once from its own
// goroutine, and paho writes one packet with several Write calls, so that PINGREQ can land inside the
// first SUBSCRIBE or PUBLISH and the broker rightly reads a malformed packet. Test connections live far
// less than their 60 s keep-alive, so they need no pings.
type quietPinger struct{}

func (quietPinger) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (quietPinger) PacketSent()                                         {}
func (quietPinger) PacketReceived()                                     {}
func (quietPinger) PingResp()                                           {}
func (quietPinger) SetDebug(log.Logger)                                 {}

// ---- MQTT 3.1.1 client (paho.mqtt.golang) ----

type v3Client struct {
	t              testing.TB
	e              *env
	id             string
	c              mqtt3.Client
	msgs           chan mqtt3.Message
	lost           chan error
	sessionPresent bool
}

type v3Opts struct {
	clean     *bool
	keepAlive time.Duration
	will      *struct {
		topic, payload string
		qos            byte
		retain         bool
	}
}

func (e *env) dial3(d device, clientID string, o v3Opts) (*v3Client, error) {
	e.t.Helper()
	vc := &v3Client{t: e.t, e: e, id: clientID, msgs: make(chan mqtt3.Message, 1000), lost: make(chan error, 1)}
	opts := mqtt3.NewClientOptions().
		AddBroker("tls://" + e.addr()).
		SetClientID(clientID).
		SetTLSConfig(e.clientTLS(d)).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitFor).
		SetWriteTimeout(waitFor).
		SetOrderMatters(false).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) {
			select {
			case vc.msgs <- m:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			select {
			case vc.lost <- err:
			default:
			}
		})
	if o.clean != nil {
		opts.SetCleanSession(*o.clean)
	}
	if o.keepAlive > 0 {
		opts.SetKeepAlive(o.keepAlive)
	}
	if o.will != nil {
		opts.SetWill(o.will.topic, o.will.payload, o.will.qos, o.will.retain)
	}
	vc.c = mqtt3.NewClient(opts)
	tok := vc.c.Connect()
	if !tok.WaitTimeout(waitFor) {
		return vc, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return vc, err
	}
	vc.sessionPresent = tok.(*mqtt3.ConnectToken).SessionPresent()
	e.t.Cleanup(func() { vc.c.Disconnect(0) })
	return vc, nil
}

func (e *env) connect3(d device, clientID string) *v3Client {
	e.t.Helper()
	vc, err := e.dial3(d, clientID, v3Opts{})
	if err != nil {
		e.t.Fatalf("MQTT 3.1.1 connect %s: %v", clientID, err)
	}
	return vc
}

// subscribe returns the SUBACK return code of each filter.
func (vc *v3Client) subscribe(filters ...string) []byte {
	vc.t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := vc.c.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(waitFor) {
		vc.t.Fatal("subscribe timed out")
	}
	res := tok.(*mqtt3.SubscribeToken).Result()
	out := make([]byte, len(filters))
	for i, f := range filters {
		out[i] = res[f]
	}
	return out
}

func (vc *v3Client) publish(topic string, qos byte, retain bool, payload string) error {
	tok := vc.c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(waitFor) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

func (vc *v3Client) expect(topic string) mqtt3.Message {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic() == topic {
				return m
			}
		case <-deadline:
			vc.t.Fatalf("no message on %s", topic)
			return nil
		}
	}
}

func (vc *v3Client) expectNoneBefore(topic, marker string) {
	vc.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-vc.msgs:
			if m.Topic() == topic {
				vc.t.Fatalf("unexpected message on %s: %q", topic, m.Payload())
			}
			if m.Topic() == marker {
				return
			}
		case <-deadline:
			vc.t.Fatalf("marker %s never arrived", marker)
		}
	}
}

func (vc *v3Client) closed() {
	vc.t.Helper()
	select {
	case <-vc.lost:
	case <-time.After(waitFor):
		vc.t.Fatal("the connection stayed open")
	}
}

// ---- raw client (mochi's packet codec), for what client libraries will not send ----

type rawClient struct {
	t       testing.TB
	conn    net.Conn
	r       *bufio.Reader
	version byte
}

func (e *env) raw(d device, version byte) *rawClient {
	e.t.Helper()
	c := e.dialTLS(d)
	return &rawClient{t: e.t, conn: c, r: bufio.NewReader(c), version: version}
}

func (rc *rawClient) send(pk packets.Packet) {
	rc.t.Helper()
	pk.ProtocolVersion = rc.version
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		pk.Connect.ProtocolName = []byte("MQTT")
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		pk.FixedHeader.Qos = 1
		err = pk.SubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Auth:
		err = pk.AuthEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	default:
		rc.t.Fatalf("raw client cannot send type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		rc.t.Fatal(err)
	}
	_ = rc.conn.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := rc.conn.Write(buf.Bytes()); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

func (rc *rawClient) connect(clientID string, keepAlive uint16) packets.Packet {
	rc.t.Helper()
	rc.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ClientIdentifier: clientID, Keepalive: keepAlive, Clean: true},
	})
	pk, err := rc.read()
	if err != nil || pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		rc.t.Fatalf("raw connect: %v %+v", err, pk.FixedHeader)
	}
	return pk
}

// read reads one packet; io.EOF (or another error) when the server closed the connection.
func (rc *rawClient) read() (packets.Packet, error) {
	_ = rc.conn.SetReadDeadline(time.Now().Add(waitFor))
	var pk packets.Packet
	pk.ProtocolVersion = rc.version
	b, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(rc.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	}
	return pk, err
}

// expectClosed reads until the server closes the connection and returns what it sent before.
func (rc *rawClient) expectClosed() []packets.Packet {
	rc.t.Helper()
	var got []packets.Packet
	for {
		pk, err := rc.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatalf("the server kept the connection open; it sent %v", types(got))
			}
			return got
		}
		got = append(got, pk)
	}
}

func types(pks []packets.Packet) []byte {
	var ts []byte
	for _, p := range pks {
		ts = append(ts, p.FixedHeader.Type)
	}
	return ts
}

// readLog returns the AWS log entries written so far, decoded.
func (e *env) readLog() []map[string]any {
	e.t.Helper()
	b, err := os.ReadFile(e.LogDir + "/" + awslog.FileName)
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			e.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// findLog returns the first entry with the given fields.
func findLog(entries []map[string]any, fields map[string]any) map[string]any {
next:
	for _, m := range entries {
		for k, v := range fields {
			if m[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func contextWithTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) dumpEvents() {
	for _, ev := range e.events.all(func(Event) bool { return true }) {
		e.t.Logf("event %s %s %s %s %s", ev.Kind, ev.ClientID, ev.Topic, ev.Action, ev.Reason)
	}
}

func topicsOf(ms []*paho.Publish) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Topic)
	}
	return out
}
