package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// These tests hold the broker to AWS IoT Core's promise for QoS 1 and persistent sessions across a
// crash: a message acknowledged (PUBACK) to its publisher reaches every persistent subscriber after
// `iotlab up` is killed with SIGKILL and started again on the same state dir. Duplicates are allowed,
// losses are not: every acknowledged message ID is counted.

// durablePolicy is the book's device policy (devicePolicy) with iot:RetainPublish on the thing's topics.
var durablePolicy = strings.Replace(devicePolicy, `"Action": "iot:Publish"`, `"Action": ["iot:Publish", "iot:RetainPublish"]`, 1)

// durableSetup starts iotlab, creates the device policy, and provisions the named things.
func durableSetup(t *testing.T, state string, things ...string) (*proc, map[string]device) {
	t.Helper()
	p := startUp(t, state, "--limits", "none") // quotas off: no 1 CONNECT/s, no paced resume
	c := p.iot()
	if _, err := c.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("home-device"), PolicyDocument: aws.String(durablePolicy)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	devs := map[string]device{}
	for _, th := range things {
		devs[th] = provision(t, c, dir, th, false)
	}
	return p, devs
}

// kill9 kills the process with SIGKILL and waits for it.
func kill9(p *proc) {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func tlsFor(t *testing.T, state string, d device) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(state, "root-ca.pem"))
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("root CA: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(d.cert, d.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// quiet is a paho.golang pinger that never pings (test connections are short; see broker's tests).
type quiet struct{}

func (quiet) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (quiet) PacketSent()                                         {}
func (quiet) PacketReceived()                                     {}
func (quiet) PingResp()                                           {}
func (quiet) SetDebug(log.Logger)                                 {}

// mqtt5 connects with paho.golang; onMsg gets every message's payload.
func mqtt5(t *testing.T, port string, cfg *tls.Config, id string, persistent bool, onMsg func(string)) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cc := paho.ClientConfig{Conn: conn, PingHandler: quiet{}, PacketTimeout: 10 * time.Second}
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("MQTT 5 connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack
}

// mqtt311 connects with paho.mqtt.golang; onMsg gets every message's payload.
func mqtt311(t *testing.T, port string, cfg *tls.Config, id string, clean bool, onMsg func(string)) (mqtt3.Client, bool) {
	t.Helper()
	o := mqtt3.NewClientOptions().AddBroker("tls://127.0.0.1:" + port).SetClientID(id).SetTLSConfig(cfg).
		SetProtocolVersion(4).SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).SetOrderMatters(false)
	if onMsg != nil {
		o.SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { onMsg(string(m.Payload())) })
	}
	c := mqtt3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT 3.1.1 connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, tok.(*mqtt3.ConnectToken).SessionPresent()
}

// idSet is a set of message IDs filled from client goroutines.
type idSet struct {
	mu  sync.Mutex // guards ids
	ids map[string]bool
}

func newIDSet() *idSet { return &idSet{ids: map[string]bool{}} }

func (s *idSet) add(id string) {
	s.mu.Lock()
	s.ids[id] = true
	s.mu.Unlock()
}

func (s *idSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// waitAll waits until got holds every ID of want and fails with what is missing.
func waitAll(t *testing.T, who string, got *idSet, want []string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got.mu.Lock()
		var missing []string
		for _, id := range want {
			if !got.ids[id] {
				missing = append(missing, id)
			}
		}
		got.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d acknowledged messages lost after SIGKILL, e.g. %v", who, len(missing), len(want), missing[:min(5, len(missing))])
		}
		time.Sleep(50 * time.Millisecond) // polling a set the client goroutines fill
	}
}

// TestAcknowledgedQoS1SurvivesSIGKILL: two persistent subscribers (paho.golang MQTT 5, paho.mqtt.golang
// MQTT 3.1.1) subscribe and go away; two publishers (one of each library) publish QoS 1 messages as
// fast as PUBACKs come; iotlab is killed with SIGKILL in the middle of it. After a restart on the same
// state dir each subscriber resumes its session and must receive every message whose PUBACK its
// publisher got before the kill — counted by ID. A retained message acknowledged before the kill is
// still there.
func TestAcknowledgedQoS1SurvivesSIGKILL(t *testing.T) {
	state := t.TempDir()
	p, devs := durableSetup(t, state, "dur-sub5", "dur-sub3", "dur-pub5", "dur-pub3")
	topic5, topic3 := "home/dur-pub5/t", "home/dur-pub3/t"

	s5, _ := mqtt5(t, p.mqttPort, tlsFor(t, state, devs["dur-sub5"]), "dur-sub5", true, nil)
	if _, err := s5.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic5, QoS: 1}, {Topic: topic3, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	_ = s5.Disconnect(&paho.Disconnect{})
	s3, _ := mqtt311(t, p.mqttPort, tlsFor(t, state, devs["dur-sub3"]), "dur-sub3", false, nil)
	if tok := s3.SubscribeMultiple(map[string]byte{topic5: 1, topic3: 1}, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	s3.Disconnect(100)

	p5, _ := mqtt5(t, p.mqttPort, tlsFor(t, state, devs["dur-pub5"]), "dur-pub5", false, nil)
	if _, err := p5.Publish(context.Background(), &paho.Publish{Topic: "home/dur-pub5/status", QoS: 1, Retain: true, Payload: []byte("retained before the crash")}); err != nil {
		t.Fatal(err)
	}
	p3, _ := mqtt311(t, p.mqttPort, tlsFor(t, state, devs["dur-pub3"]), "dur-pub3", true, nil)

	acked := newIDSet()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // MQTT 5: one message at a time, each waiting for its PUBACK
		defer wg.Done()
		for n := 0; n < 3000; n++ {
			id := fmt.Sprintf("v5-%04d", n)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := p5.Publish(ctx, &paho.Publish{Topic: topic5, QoS: 1, Payload: []byte(id)})
			cancel()
			if err != nil {
				return
			}
			acked.add(id)
		}
	}()
	go func() { // MQTT 3.1.1: up to 20 in flight
		defer wg.Done()
		type pending struct {
			id  string
			tok mqtt3.Token
		}
		var window []pending
		for n := 0; n < 3000; n++ {
			id := fmt.Sprintf("v3-%04d", n)
			window = append(window, pending{id, p3.Publish(topic3, 1, false, id)})
			if len(window) < 20 {
				continue
			}
			w := window[0]
			window = window[1:]
			if !w.tok.WaitTimeout(5*time.Second) || w.tok.Error() != nil {
				return
			}
			acked.add(w.id)
		}
	}()
	for len(acked.list()) < 300 {
		time.Sleep(5 * time.Millisecond) // polling the publishers' progress
	}
	kill9(p) // in the middle of the stream: no chance to flush anything
	wg.Wait()
	want := acked.list()
	t.Logf("%d messages acknowledged before SIGKILL", len(want))

	p2 := startUp(t, state, "--limits", "none")
	got5 := newIDSet()
	c5, ack := mqtt5(t, p2.mqttPort, tlsFor(t, state, devs["dur-sub5"]), "dur-sub5", true, got5.add)
	if !ack.SessionPresent {
		t.Error("MQTT 5: session not present after SIGKILL and restart")
	}
	got3 := newIDSet()
	_, present := mqtt311(t, p2.mqttPort, tlsFor(t, state, devs["dur-sub3"]), "dur-sub3", false, got3.add)
	if !present {
		t.Error("MQTT 3.1.1: session not present after SIGKILL and restart")
	}
	waitAll(t, "MQTT 5 subscriber", got5, want, 30*time.Second)
	waitAll(t, "MQTT 3.1.1 subscriber", got3, want, 30*time.Second)

	retained := make(chan *paho.Publish, 1)
	c5.AddOnPublishReceived(func(pr paho.PublishReceived) (bool, error) {
		if pr.Packet.Topic == "home/dur-pub5/status" {
			select {
			case retained <- pr.Packet:
			default:
			}
		}
		return true, nil
	})
	if _, err := c5.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "home/dur-pub5/status", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-retained:
		if !m.Retain || string(m.Payload) != "retained before the crash" {
			t.Errorf("retained after SIGKILL: RETAIN %v %q", m.Retain, m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Error("the retained message did not survive SIGKILL")
	}
}

// TestMosquittoPersistentSessionSurvivesSIGKILL: Debian's mosquitto_sub makes a persistent session
// (-c -q 1) and leaves; mosquitto_pub -d -l publishes QoS 1 messages, one per line, and prints each
// PUBACK it gets; iotlab is killed with SIGKILL in the middle of the stream and restarted; mosquitto_sub
// -c must then get every message whose PUBACK mosquitto_pub printed, by ID. MQTT 3.1.1 and MQTT 5.
func TestMosquittoPersistentSessionSurvivesSIGKILL(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: run `make deps` (make test does)", tool)
		}
	}
	pubackRE := regexp.MustCompile(`received PUBACK \(Mid: (\d+)`)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			state := t.TempDir()
			p, devs := durableSetup(t, state, "mosq-sub", "mosq-pub")
			topic := "home/mosq-pub/m"
			args := func(p *proc, d device, extra ...string) []string {
				return append([]string{"-h", "localhost", "-p", p.mqttPort, "--cafile", filepath.Join(state, "root-ca.pem"),
					"--cert", d.cert, "--key", d.key, "-i", d.name, "-V", v}, extra...)
			}
			// -E: exit once the SUBACK is in, leaving the persistent session behind.
			if out, err := exec.Command("mosquitto_sub", args(p, devs["mosq-sub"], "-c", "-q", "1", "-t", topic, "-E")...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_sub -c -E: %v %s", err, out)
			}

			// Message IDs are given in line order, from 1: line k carries "<v>-<k>".
			const lines = 5000
			var input strings.Builder
			for k := 1; k <= lines; k++ {
				fmt.Fprintf(&input, "%s-%04d\n", v, k)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pub := exec.CommandContext(ctx, "mosquitto_pub", args(p, devs["mosq-pub"], "-d", "-q", "1", "-t", topic, "-l")...)
			pub.Stdin = strings.NewReader(input.String())
			out, err := pub.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Start(); err != nil {
				t.Fatal(err)
			}
			var want []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if m := pubackRE.FindStringSubmatch(sc.Text()); m != nil {
					k, _ := strconv.Atoi(m[1])
					want = append(want, fmt.Sprintf("%s-%04d", v, k))
					if len(want) == 300 {
						kill9(p) // in the middle of the stream
						// mosquitto_pub would try to reconnect for ever; what it printed is what it got.
						_ = pub.Process.Kill()
					}
				}
			}
			_ = pub.Wait()
			if len(want) < 300 {
				t.Fatalf("mosquitto_pub got %d PUBACKs before it stopped", len(want))
			}
			t.Logf("%d messages acknowledged to mosquitto_pub before SIGKILL", len(want))

			p2 := startUp(t, state, "--limits", "none")
			// Read until every acknowledged ID is in (-W bounds the wait when some never come).
			sub := exec.Command("mosquitto_sub", args(p2, devs["mosq-sub"], "-c", "-q", "1", "-t", topic, "-W", "20")...)
			subOut, err := sub.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			missing := want
			for sc := bufio.NewScanner(subOut); len(missing) > 0 && sc.Scan(); {
				have[strings.TrimSpace(sc.Text())] = true
				for len(missing) > 0 && have[missing[0]] {
					missing = missing[1:]
				}
			}
			_ = sub.Process.Kill()
			_ = sub.Wait()
			missing = nil
			for _, id := range want {
				if !have[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				t.Fatalf("%d of %d acknowledged messages lost after SIGKILL, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
			}
		})
	}
}
