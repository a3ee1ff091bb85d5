package lab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// identity is who a test client connects as under testACL.
type identity struct {
	clientID, username string
	writeMarker        string // a topic this identity may write and carol may read ("" = none)
	readMarker         string // a topic dave may write and this identity may read
}

var (
	anon  = identity{clientID: "anon1", writeMarker: "cmd/marker", readMarker: "sensors/marker"}
	alice = identity{clientID: "alice1", username: "alice", writeMarker: "alice/marker", readMarker: "alice/marker"}
	bob   = identity{clientID: "bobc", username: "bob", writeMarker: "clients/bobc/marker", readMarker: "users/bob/marker"}
	carol = identity{clientID: "carol1", username: "carol", readMarker: "marker"}
	dave  = identity{clientID: "dave1", username: "dave", writeMarker: "marker"}
	plusU = identity{clientID: "c9", username: "a+b"} // a wildcard in the username disables patterns
)

func (id identity) connect() *paho.Connect {
	return &paho.Connect{ClientID: id.clientID, CleanStart: true, Username: id.username, UsernameFlag: id.username != ""}
}

// TestACLOnBroker checks each element of the ACL syntax end to end. The expectations were recorded by running
// the same cases against Mosquitto 2.0.11 on loopback; to repeat that, set LAB_COMPARE_MOSQUITTO=1 with the
// mosquitto binary on PATH.
func TestACLOnBroker(t *testing.T) {
	aclFile := writeFile(t, "acl", testACL)
	t.Run("lab", func(t *testing.T) {
		s := startServer(t, Options{ACLFile: aclFile})
		runACLCases(t, s.Addr().String(), s)
	})
	if os.Getenv("LAB_COMPARE_MOSQUITTO") == "" {
		return
	}
	t.Run("mosquitto", func(t *testing.T) {
		runACLCases(t, startMosquitto(t, aclFile), nil)
	})
}

func runACLCases(t *testing.T, addr string, s *Server) {
	dial := func(t *testing.T, id identity) *v5 {
		t.Helper()
		c, ack, err := tryDialV5(addr, id.connect())
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("connect as %+v: %v %v", id, err, ack)
		}
		t.Cleanup(func() { c.disconnect(); _ = c.conn.Close() })
		return c
	}
	w := carol
	w.clientID = "watcher"
	watcher := dial(t, w)
	watcher.sub(t, 1, "#")

	t.Run("publish", func(t *testing.T) {
		cases := []struct {
			who     identity
			topic   string
			allowed bool
		}{
			{anon, "sensors/x", false}, // topic read
			{anon, "cmd/x", true},      // topic write
			{anon, "rw/x", true},       // topic readwrite
			{anon, "rw/secret", false}, // topic deny, after a broader grant
			{anon, "plain/x", true},    // topic without an access word
			{anon, "spaced topic/x", true},
			{anon, "alice/x", false},        // another user's block
			{alice, "alice/x", true},        // user block
			{alice, "rw/x", false},          // anonymous lines are not for users
			{carol, "alice/x", false},       // read-only user
			{anon, "clients/anon1/x", true}, // pattern %c
			{anon, "clients/other/x", false},
			{anon, "clients/anon1/locked", false}, // pattern deny
			{bob, "clients/bobc/x", true},         // user without a block: patterns only
			{bob, "users/bob/x", false},           // pattern %u is read only
			{plusU, "clients/c9/x", false},        // wildcard in username
			{anon, "$SYS/lab/x", false},           // never, whatever the ACL says
			{dave, "$SYS/lab/x", false},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s %s", tc.who.clientID, tc.topic), func(t *testing.T) {
				c := dial(t, tc.who)
				want := byte(0)
				if !tc.allowed {
					want = 0x87
				}
				if rc := c.pub(t, tc.topic, 1, false, "p"); rc != want && !(tc.allowed && rc == 0x10) {
					t.Errorf("PUBACK reason 0x%02x, want 0x%02x", rc, want)
				}
				if rc := c.pub(t, tc.topic, 2, false, "p2"); rc != want && !(tc.allowed && rc == 0x10) {
					t.Errorf("QoS 2 reason 0x%02x, want 0x%02x", rc, want)
				}
				if tc.who.writeMarker == "" {
					return // the reason code shows the broker refused it
				}
				c.pub(t, tc.who.writeMarker, 1, false, "")
				got := watcher.in.until(t, tc.who.writeMarker)
				if delivered := slices.ContainsFunc(got, func(m msg) bool { return m.Topic == tc.topic }); delivered != (tc.allowed && tc.topic[0] != '$') {
					t.Errorf("delivered=%v, want %v (got %v)", delivered, tc.allowed, got)
				}
			})
		}
	})

	t.Run("publish mqtt311 is acknowledged and dropped", func(t *testing.T) {
		o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("anon311").
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(waitTimeout)
		c := mqtt3.NewClient(o)
		if err := waitToken(c.Connect()); err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(0)
		for qos := byte(0); qos <= 2; qos++ {
			if err := waitToken(c.Publish("sensors/x", qos, false, "denied")); err != nil {
				t.Errorf("QoS %d denied publish: %v, want an ordinary acknowledgement", qos, err)
			}
		}
		if err := waitToken(c.Publish("rw/x", 1, false, "allowed")); err != nil {
			t.Fatal(err)
		}
		if err := waitToken(c.Publish(anon.writeMarker, 1, false, "")); err != nil {
			t.Fatal(err)
		}
		var topics []string
		for _, m := range watcher.in.until(t, anon.writeMarker) {
			topics = append(topics, m.Topic)
		}
		if !slices.Equal(topics, []string{"rw/x"}) {
			t.Errorf("delivered %v, want [rw/x]", topics)
		}
		if !c.IsConnectionOpen() {
			t.Error("connection closed after a denied publish")
		}
	})

	t.Run("subscribe is granted, delivery is checked", func(t *testing.T) {
		writer := dial(t, dave)
		cases := []struct {
			who     identity
			topic   string
			allowed bool
		}{
			{anon, "sensors/x", true},
			{anon, "cmd/x", false}, // write only
			{anon, "rw/secret", false},
			{anon, "alice/x", false},
			{anon, "spaced topic/x", true},
			{anon, "clients/anon1/x", true},
			{anon, "clients/other/x", false},
			{anon, "clients/anon1/locked", false},
			{anon, "users/x/y", false}, // %u patterns need a username
			{alice, "alice/x", true},
			{alice, "sensors/x", false},
			{alice, "clients/alice1/x", true}, // patterns apply to users
			{bob, "users/bob/x", true},
			{bob, "users/carol/x", false},
			{bob, "sensors/x", false},
			{carol, "clients/c1/locked", true}, // the user's own lines come before the patterns
		}
		for _, tc := range cases {
			for _, filter := range []string{tc.topic, "#"} {
				t.Run(fmt.Sprintf("%s %s via %s", tc.who.clientID, tc.topic, filter), func(t *testing.T) {
					c := dial(t, tc.who)
					ack := c.sub(t, 1, filter, tc.who.readMarker)
					for i, rc := range ack.Reasons {
						if rc >= 0x80 {
							t.Errorf("SUBACK reason %d = 0x%02x, want granted (Mosquitto grants every SUBSCRIBE)", i, rc)
						}
					}
					writer.pub(t, tc.topic, 1, false, "r")
					writer.pub(t, tc.who.readMarker, 1, false, "")
					got := c.in.until(t, tc.who.readMarker)
					if delivered := len(got) > 0; delivered != tc.allowed {
						t.Errorf("delivered=%v (%v), want %v", delivered, got, tc.allowed)
					}
				})
			}
		}
		t.Run("mqtt311 SUBACK", func(t *testing.T) {
			o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("anon311s").
				SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(waitTimeout)
			c := mqtt3.NewClient(o)
			if err := waitToken(c.Connect()); err != nil {
				t.Fatal(err)
			}
			defer c.Disconnect(0)
			tok := c.Subscribe("alice/x", 1, nil)
			if err := waitToken(tok); err != nil {
				t.Fatal(err)
			}
			if rc := tok.(*mqtt3.SubscribeToken).Result()["alice/x"]; rc != 1 {
				t.Errorf("SUBACK return code 0x%02x, want 0x01", rc)
			}
		})
	})

	t.Run("retained messages are checked on delivery", func(t *testing.T) {
		writer := dial(t, dave)
		writer.pub(t, "alice/retained", 1, true, "for alice")
		writer.pub(t, "sensors/retained", 1, true, "for all")
		writer.pub(t, "sensors/retmarker", 1, true, "m")
		c := dial(t, anon)
		c.sub(t, 1, "alice/retained", "sensors/retained", "sensors/retmarker")
		var got []string
		for _, m := range c.in.until(t, "sensors/retmarker") {
			got = append(got, m.Topic)
		}
		if !slices.Equal(got, []string{"sensors/retained"}) {
			t.Errorf("retained delivered %v, want [sensors/retained]", got)
		}
		for _, topic := range []string{"alice/retained", "sensors/retained", "sensors/retmarker"} {
			writer.pub(t, topic, 1, true, "")
		}
	})

	t.Run("$SYS is read through $ lines only", func(t *testing.T) {
		writer := dial(t, dave)
		for _, tc := range []struct {
			who  identity
			want bool
		}{{anon, true}, {carol, false}} {
			writer.pub(t, tc.who.readMarker+"/ret", 1, true, "m")
			c := dial(t, tc.who)
			if ack := c.sub(t, 0, "$SYS/broker/version", tc.who.readMarker+"/ret"); ack.Reasons[0] != 0 || ack.Reasons[1] != 0 {
				t.Fatalf("SUBACK %v, want granted", ack.Reasons)
			}
			got := c.in.until(t, tc.who.readMarker+"/ret")
			if (len(got) > 0) != tc.want {
				t.Errorf("%s: got %v, want $SYS/broker/version=%v", tc.who.clientID, got, tc.want)
			}
			writer.pub(t, tc.who.readMarker+"/ret", 1, true, "") // clear it
		}
	})

	if s == nil {
		return // the will checks need to know when the broker has handled a closed connection
	}
	t.Run("wills are checked when sent", func(t *testing.T) {
		w := carol
		w.clientID = "willwatcher"
		watcher := dial(t, w)
		watcher.sub(t, 1, "+/will", "willmarker")
		d := dial(t, dave)
		for _, tc := range []struct {
			topic   string
			allowed bool
		}{{"sensors/will", false}, {"cmd/will", true}, {"$SYS/will", false}} {
			cp := anon.connect()
			cp.ClientID = "willer"
			cp.WillMessage = &paho.WillMessage{Topic: tc.topic, Payload: []byte("bye"), QoS: 1}
			c, ack, err := tryDialV5(addr, cp)
			if err != nil || ack.ReasonCode != 0 {
				t.Fatalf("connect with a will on %s: %v %v (Mosquitto accepts the connection)", tc.topic, err, ack)
			}
			_ = c.conn.Close()
			clientGone(t, s, "willer")
			d.pub(t, "willmarker", 1, false, "")
			got := watcher.in.until(t, "willmarker")
			if delivered := slices.ContainsFunc(got, func(m msg) bool { return m.Topic == tc.topic }); delivered != tc.allowed {
				t.Errorf("will on %s delivered=%v, want %v", tc.topic, delivered, tc.allowed)
			}
		}
	})
}

// startMosquitto runs Mosquitto on a free loopback port with aclFile and returns its address.
func startMosquitto(t *testing.T, aclFile string) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		t.Skip("mosquitto not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nallow_anonymous true\nacl_file %s\npersistence false\n", port, aclFile)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
