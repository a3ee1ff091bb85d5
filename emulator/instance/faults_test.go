package instance

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/smithy-go"
	awshttp "github.com/aws/smithy-go/transport/http"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/emulator/store"
)

// A full disk or an I/O error in the middle of use, end to end: the instance's real HTTP listener
// driven by aws-sdk-go-v2, its real mTLS broker driven by paho (MQTT 5 and 3.1.1), both state stores
// failing every write through the hooks (hooks.go). While they fail:
//   - control-plane mutations and shadow updates answer 500 InternalFailureException whose message
//     names the cause (emulator/awserr's catalogue, from the service models; AWS: API_CreateThing and
//     the other operations' Errors — InternalFailureException "An unexpected error has occurred",
//     HTTP Status Code 500; API_iotdata_UpdateThingShadow, API_iotdata_Publish likewise);
//   - no QoS 1 PUBLISH bound for a persistent session is acknowledged as accepted: MQTT 5 gets PUBACK
//     0x80, MQTT 3.1.1 loses its connection (it has no negative PUBACK), iot-data Publish a 500;
//   - a retained change is refused and the old retained message stays.
//
// Then the disk comes back, everything works, and the state read through the API — before and after a
// restart — is the state before the failed calls plus the successful ones: nothing half-written.

// faultyBrokerStore is store.Faulty for the broker's store.
type faultyBrokerStore struct {
	broker.Store
	mu  sync.Mutex // guards err
	err error
}

func (f *faultyBrokerStore) FailWrites(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *faultyBrokerStore) Apply(ops ...broker.StoreOp) error {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Store.Apply(ops...)
}

// faultEnv is a running instance whose stores can be made to fail.
type faultEnv struct {
	t      *testing.T
	inst   *Instance
	state  *store.Faulty
	broker *faultyBrokerStore
	iot    *iot.Client
	data   *iotdataplane.Client
}

func startFaulty(t *testing.T, dir string) *faultEnv {
	t.Helper()
	e := &faultEnv{t: t, state: &store.Faulty{}, broker: &faultyBrokerStore{}}
	cfg := testConfig(dir)
	cfg.Limits = "none" // no 1 CONNECT/s per client id, no paced resume: the test reconnects quickly
	cfg.hooks = &storeHooks{
		WrapState:  func(s store.Store) store.Store { e.state.Store = s; return e.state },
		WrapBroker: func(s broker.Store) broker.Store { e.broker.Store = s; return e.broker },
	}
	inst, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	e.inst = inst
	e.iot, e.data = apiClients(inst.APIURL())
	return e
}

// fail makes every write of both stores fail with err; nil ends the fault.
func (e *faultEnv) fail(err error) {
	e.state.FailWrites(err)
	e.broker.FailWrites(err)
}

func apiClients(url string) (*iot.Client, *iotdataplane.Client) {
	cfg := aws.Config{
		Region:           DefaultRegion,
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1, // a 500 would be retried: the test wants to see it
	}
	return iot.NewFromConfig(cfg, func(o *iot.Options) { o.BaseEndpoint = aws.String(url) }),
		iotdataplane.NewFromConfig(cfg, func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String(url) })
}

// faultDevice is a certificate made by the control plane, with its TLS configuration.
type faultDevice struct {
	arn, id string
	tls     *tls.Config
}

func (e *faultEnv) device(thing string, policies ...string) faultDevice {
	e.t.Helper()
	ctx := context.Background()
	out, err := e.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		e.t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(aws.ToString(out.CertificatePem)), []byte(aws.ToString(out.KeyPair.PrivateKey)))
	if err != nil {
		e.t.Fatal(err)
	}
	d := faultDevice{arn: aws.ToString(out.CertificateArn), id: aws.ToString(out.CertificateId),
		tls: &tls.Config{RootCAs: e.inst.CA.RootPool(), Certificates: []tls.Certificate{pair}, ServerName: DefaultEndpointHost, MinVersion: tls.VersionTLS12}}
	for _, p := range policies {
		if _, err := e.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: aws.String(d.arn)}); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(d.arn)}); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// quietPinger never pings: test connections live far less than their keep-alive (see broker's tests).
type quietPinger struct{}

func (quietPinger) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (quietPinger) PacketSent()                                         {}
func (quietPinger) PacketReceived()                                     {}
func (quietPinger) PingResp()                                           {}
func (quietPinger) SetDebug(log.Logger)                                 {}

// mqtt5 connects with paho.golang; persistent sets Clean Start 0 and a Session Expiry Interval.
func mqtt5(t *testing.T, addr string, d faultDevice, id string, persistent bool, onMsg func(string)) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, d.tls)
	if err != nil {
		t.Fatal(err)
	}
	cc := paho.ClientConfig{Conn: conn, PingHandler: quietPinger{}, PacketTimeout: 5 * time.Second}
	if onMsg != nil {
		cc.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onMsg(string(pr.Packet.Payload))
			return true, nil
		}}
	}
	c := paho.NewClient(cc)
	cp := &paho.Connect{ClientID: id, KeepAlive: 60, CleanStart: !persistent}
	if persistent {
		sei := uint32(3600)
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &sei}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("MQTT 5 connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack
}

func mqtt311(t *testing.T, addr string, d faultDevice, id string) mqtt3.Client {
	t.Helper()
	o := mqtt3.NewClientOptions().AddBroker("tls://" + addr).SetClientID(id).SetTLSConfig(d.tls).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second)
	c := mqtt3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT 3.1.1 connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish5(c *paho.Client, topic, payload string, retain bool) (*paho.PublishResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: retain, Payload: []byte(payload)})
}

// wantAPIError checks an aws-sdk-go-v2 error's code, HTTP status and that its message names cause.
func wantAPIError(t *testing.T, err error, code string, status int, cause string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Errorf("HTTP status %d, want %d", re.HTTPStatusCode(), status)
	}
	if !strings.Contains(ae.ErrorMessage(), cause) {
		t.Errorf("message %q does not name the cause %q", ae.ErrorMessage(), cause)
	}
}

// apiState is what the API shows of everything the test touches, as sorted lines.
func apiState(t *testing.T, c *iot.Client, d *iotdataplane.Client) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var things []types.ThingAttribute
	for pg := iot.NewListThingsPaginator(c, &iot.ListThingsInput{}); pg.HasMorePages(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		things = append(things, page.Things...)
	}
	for _, th := range things {
		name := aws.ToString(th.ThingName)
		out = append(out, fmt.Sprintf("thing %s version %d attributes %v", name, th.Version, th.Attributes))
		ps, err := c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: th.ThingName})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.Principals {
			out = append(out, fmt.Sprintf("thing %s principal %s", name, p))
		}
	}
	certs, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ce := range certs.Certificates {
		out = append(out, fmt.Sprintf("certificate %s %s", aws.ToString(ce.CertificateId), ce.Status))
	}
	pols, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		gp, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: p.PolicyName})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("policy %s version %s", aws.ToString(p.PolicyName), aws.ToString(gp.DefaultVersionId)))
		ts, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: p.PolicyName})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range ts.Targets {
			out = append(out, fmt.Sprintf("policy %s target %s", aws.ToString(p.PolicyName), tg))
		}
	}
	for _, th := range things {
		sh, err := d.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: th.ThingName})
		if ae := smithy.APIError(nil); errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException" {
			continue // no shadow
		}
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			State   json.RawMessage `json:"state"`
			Version int             `json:"version"`
		}
		if err := json.Unmarshal(sh.Payload, &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("shadow %s version %d state %s", aws.ToString(th.ThingName), doc.Version, doc.State))
	}
	ret, err := d.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ret.RetainedTopics {
		g, err := d.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: r.Topic})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("retained %s %q", aws.ToString(r.Topic), g.Payload))
	}
	slices.Sort(out)
	return out
}

// diffLines reports what want has that got lacks and the reverse.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s:\n  missing %q\n  unexpected %q", what, missing, extra)
	}
}

// idSet collects message payloads from client goroutines.
type idSet struct {
	mu  sync.Mutex // guards ids
	ids []string
}

func (s *idSet) add(id string) { s.mu.Lock(); s.ids = append(s.ids, id); s.mu.Unlock() }

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.ids, id)
}

func (s *idSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func TestStoreFaultsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	e := startFaulty(t, dir)
	ctx := context.Background()
	addr := e.inst.Broker.Addr().String()
	const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
	for _, p := range []string{"dev", "spare"} {
		if _, err := e.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(p), PolicyDocument: aws.String(allowAll)}); err != nil {
			t.Fatal(err)
		}
	}
	sub := e.device("sub", "dev")
	pub := e.device("pub", "dev")
	if _, err := e.data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("sub"), Payload: []byte(`{"state":{"reported":{"n":1}}}`)}); err != nil {
		t.Fatal(err)
	}
	// A persistent subscriber (MQTT 5, Session Expiry Interval 1 h) subscribes and goes away.
	s5, _ := mqtt5(t, addr, sub, "sub", true, nil)
	if _, err := s5.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "home/t", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	_ = s5.Disconnect(&paho.Disconnect{})
	p5, _ := mqtt5(t, addr, pub, "pub5", false, nil)
	if r, err := publish5(p5, "home/status", "before", true); err != nil || r.ReasonCode != 0 {
		t.Fatalf("retained publish: %+v %v", r, err)
	}
	before := apiState(t, e.iot, e.data)

	faults := []struct {
		name  string
		err   error
		cause string // what the API's message must say
	}{
		{"disk full", syscall.ENOSPC, "no space left on device"},
		{"I/O error", syscall.EIO, "input/output error"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			p3 := mqtt311(t, addr, pub, "pub3-"+strings.ReplaceAll(f.name, " ", "-"))
			e.fail(f.err)
			defer e.fail(nil)
			calls := []struct {
				name string
				call func() error
			}{
				{"CreateThing", func() error { // AWS: API_CreateThing
					_, err := e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("during-fault")})
					return err
				}},
				{"CreateKeysAndCertificate", func() error { // AWS: API_CreateKeysAndCertificate
					_, err := e.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
					return err
				}},
				{"CreatePolicy", func() error { // AWS: API_CreatePolicy
					_, err := e.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("during-fault"), PolicyDocument: aws.String(allowAll)})
					return err
				}},
				{"AttachPolicy", func() error { // AWS: API_AttachPolicy
					_, err := e.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("spare"), Target: aws.String(pub.arn)})
					return err
				}},
				{"UpdateCertificate", func() error { // AWS: API_UpdateCertificate
					_, err := e.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(pub.id), NewStatus: "INACTIVE"})
					return err
				}},
				{"UpdateThingShadow", func() error { // AWS: API_iotdata_UpdateThingShadow
					_, err := e.data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("sub"), Payload: []byte(`{"state":{"reported":{"n":99}}}`)})
					return err
				}},
				{"iot-data Publish QoS 1", func() error { // AWS: API_iotdata_Publish
					_, err := e.data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("home/t"), Qos: 1, Payload: []byte("fail-http")})
					return err
				}},
				{"iot-data Publish retained", func() error {
					_, err := e.data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("home/status"), Qos: 1, Retain: true, Payload: []byte("fail-retained-http")})
					return err
				}},
			}
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					wantAPIError(t, c.call(), "InternalFailureException", 500, f.cause)
				})
			}
			t.Run("MQTT 5 QoS 1 to a persistent session", func(t *testing.T) {
				r, err := publish5(p5, "home/t", "fail-v5", false)
				if r == nil || r.ReasonCode != 0x80 {
					t.Errorf("PUBACK %+v (%v) while the broker's store fails, want reason 0x80", r, err)
				}
			})
			t.Run("MQTT 5 retained", func(t *testing.T) {
				r, err := publish5(p5, "home/status", "fail-retained-v5", true)
				if r == nil || r.ReasonCode != 0x80 {
					t.Errorf("PUBACK %+v (%v) for a retained publish while the broker's store fails, want reason 0x80", r, err)
				}
			})
			t.Run("MQTT 3.1.1 QoS 1 to a persistent session", func(t *testing.T) {
				tok := p3.Publish("home/t", 1, false, "fail-v3")
				if !tok.WaitTimeout(5 * time.Second) {
					t.Fatal("no answer within 5 s")
				}
				if tok.Error() == nil {
					t.Error("PUBACK for a message the broker could not store; want the connection closed")
				}
				if p3.IsConnectionOpen() {
					t.Error("connection still open")
				}
			})
			diffLines(t, "state while the stores fail, against before", apiState(t, e.iot, e.data), before)
		})
	}

	// The disk is back: the same calls succeed.
	if _, err := e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("after-fault")}); err != nil {
		t.Fatalf("CreateThing once the disk is back: %v", err)
	}
	if _, err := e.data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("sub"), Payload: []byte(`{"state":{"reported":{"n":2}}}`)}); err != nil {
		t.Fatalf("UpdateThingShadow once the disk is back: %v", err)
	}
	if r, err := publish5(p5, "home/t", "ok-v5", false); err != nil || r.ReasonCode != 0 {
		t.Fatalf("MQTT 5 publish once the disk is back: %+v %v", r, err)
	}
	if _, err := e.data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("home/t"), Qos: 1, Payload: []byte("ok-http")}); err != nil {
		t.Fatalf("iot-data Publish once the disk is back: %v", err)
	}
	want := slices.Clone(before)
	want = append(want, "thing after-fault version 1 attributes map[]")
	for i, l := range want {
		if strings.HasPrefix(l, "shadow sub ") {
			want[i] = `shadow sub version 2 state {"reported":{"n":2}}`
		}
	}
	slices.Sort(want)
	diffLines(t, "state once the disk is back", apiState(t, e.iot, e.data), want)

	// Restart on the same state dir, without the faulty layers: the disk says the same.
	if err := e.inst.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cfg := testConfig(dir)
	cfg.Limits = "none"
	inst2, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst2.Close() })
	c2, d2 := apiClients(inst2.APIURL())
	diffLines(t, "state after a restart", apiState(t, c2, d2), want)

	// The persistent subscriber gets the acknowledged messages, and none of the refused ones.
	got := &idSet{}
	_, ack := mqtt5(t, inst2.Broker.Addr().String(), sub, "sub", true, got.add)
	if !ack.SessionPresent {
		t.Error("persistent session lost")
	}
	for deadline := time.Now().Add(5 * time.Second); !(got.has("ok-v5") && got.has("ok-http")); {
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged messages lost; got %q", got.list())
		}
		time.Sleep(10 * time.Millisecond) // polling the set the client goroutine fills
	}
	for _, id := range got.list() {
		if strings.HasPrefix(id, "fail-") {
			t.Errorf("refused message %q delivered after the restart", id)
		}
	}
}

// TestRealDiskFull fills a real 1 MiB tmpfs (root only: mount needs it) under a running instance
// until the control plane's writes fail, then frees space: the answers must be 500
// InternalFailureException naming ENOSPC, and the state after a restart what was acknowledged.
func TestRealDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	dir := filepath.Join(mnt, "state")
	cfg := testConfig(dir)
	cfg.LabAddr = "off"
	inst, err := Start(cfg, nil)
	if err != nil {
		t.Skipf("an instance does not fit in 1 MiB: %v", err)
	}
	t.Cleanup(func() { inst.Close() })
	c, d := apiClients(inst.APIURL())
	ctx := context.Background()
	// Fill the file system, then free a little at the end.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	var acked []string
	var failure error
	for n := 0; n < 10000 && failure == nil; n++ {
		name := fmt.Sprintf("thing-%05d-%s", n, strings.Repeat("x", 100))
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)})
		if err != nil {
			failure = err
			break
		}
		acked = append(acked, name)
	}
	if failure == nil {
		t.Fatal("10,000 things fit in a full 1 MiB file system")
	}
	wantAPIError(t, failure, "InternalFailureException", 500, "no space left on device")
	t.Logf("%d things acknowledged before the disk was full", len(acked))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("after-space-freed")}); err != nil {
		t.Fatalf("CreateThing once space is free: %v", err)
	}
	acked = append(acked, "after-space-freed")
	before := apiState(t, c, d)
	if err := inst.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	inst2, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst2.Close() })
	c2, d2 := apiClients(inst2.APIURL())
	after := apiState(t, c2, d2)
	diffLines(t, "state after a restart", after, before)
	var things []string
	for _, l := range after {
		if name, ok := strings.CutPrefix(l, "thing "); ok {
			things = append(things, strings.Fields(name)[0])
		}
	}
	slices.Sort(acked)
	if !slices.Equal(things, acked) {
		t.Errorf("%d things after the restart, want the %d acknowledged", len(things), len(acked))
	}
}
