package broker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mosquittoEnv runs Debian's mosquitto_pub and mosquitto_sub against the broker, as a learner does
// with the files `iotlab` gives them: the root CA (root-ca.pem), a certificate and its key, and a thing
// name as client ID.
type mosquittoEnv struct {
	*env
	dir      string
	certFile string
	keyFile  string
}

func newMosquittoEnv(t *testing.T) *mosquittoEnv {
	t.Helper()
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install mosquitto-clients)", tool)
		}
	}
	e := newEnv(t)
	// The policy a learner writes: the thing's own topics, client ID = thing name.
	e.policy("thing-topics",
		allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}"),
		allow("iot:Publish", "topic/mosq/*"),
		allow("iot:Subscribe", "topicfilter/mosq/${iot:Connection.Thing.ThingName}/*"),
		allow("iot:Receive", "topic/mosq/${iot:Connection.Thing.ThingName}/*"))
	d := e.device("mosquitto", "thing-topics")
	for _, thing := range []string{"mosq-sub", "mosq-pub"} {
		e.Dir.addThing(thing, nil, d.ID)
	}
	dir := t.TempDir()
	m := &mosquittoEnv{env: e, dir: dir, certFile: filepath.Join(dir, "device.pem.crt"), keyFile: filepath.Join(dir, "private.pem.key")}
	if err := os.WriteFile(m.certFile, []byte(d.CertPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.keyFile, []byte(d.KeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// args are the connection arguments of every command.
func (m *mosquittoEnv) args(version, clientID string) []string {
	_, port, _ := strings.Cut(m.addr(), ":")
	return []string{"-h", "localhost", "-p", port, "--cafile", m.CA.RootPath(),
		"--cert", m.certFile, "--key", m.keyFile, "-i", clientID, "-V", version}
}

type result struct {
	code   int
	output string
}

func (m *mosquittoEnv) run(ctx context.Context, name string, args ...string) result {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("%s: %v", name, err)
	}
	return result{code, strings.TrimSpace(out.String())}
}

func TestMosquittoClients(t *testing.T) {
	m := newMosquittoEnv(t)
	for _, version := range []string{"mqttv311", "mqttv5"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := "mosq/mosq-sub/" + version

			t.Run("allowed subscribe and publish", func(t *testing.T) {
				m.Clock.Advance(time.Second)
				subDone := make(chan result, 1)
				go func() {
					subDone <- m.run(ctx, "mosquitto_sub", append(m.args(version, "mosq-sub"), "-t", topic, "-q", "1", "-C", "1", "-W", "15")...)
				}()
				m.events.wait(t, "mosquitto_sub subscribed", func(ev Event) bool {
					return ev.Kind == EventSubscribe && ev.ClientID == "mosq-sub" && ev.Topic == topic
				})
				m.Clock.Advance(time.Second)
				pub := m.run(ctx, "mosquitto_pub", append(m.args(version, "mosq-pub"), "-t", topic, "-q", "1", "-m", "hello from "+version)...)
				if pub.code != 0 {
					t.Errorf("mosquitto_pub exit %d: %s", pub.code, pub.output)
				}
				sub := <-subDone
				if sub.code != 0 || sub.output != "hello from "+version {
					t.Errorf("mosquitto_sub exit %d, output %q", sub.code, sub.output)
				}
			})
			t.Run("refused publish", func(t *testing.T) {
				m.Clock.Advance(time.Second)
				pub := m.run(ctx, "mosquitto_pub", append(m.args(version, "mosq-pub"), "-t", "elsewhere/"+version, "-q", "1", "-m", "x")...)
				// MQTT 3.1.1: AWS closes the connection; MQTT 5: PUBACK 0x87.
				if version == "mqttv311" && (pub.code == 0 || !strings.Contains(pub.output, "connection was lost")) ||
					version == "mqttv5" && !strings.Contains(pub.output, "Publish 1 failed: Not authorized") {
					t.Errorf("mosquitto_pub exit %d, output %q", pub.code, pub.output)
				}
				ev := m.events.wait(t, "deny", func(ev Event) bool {
					return ev.Kind == EventDeny && ev.ClientID == "mosq-pub" && ev.Topic == "elsewhere/"+version
				})
				if ev.Action != actPublish {
					t.Errorf("denied action %q", ev.Action)
				}
			})
			t.Run("refused subscribe", func(t *testing.T) {
				m.Clock.Advance(time.Second)
				sub := m.run(ctx, "mosquitto_sub", append(m.args(version, "mosq-sub"), "-t", "mosq/mosq-pub/#", "-q", "1", "-C", "1", "-W", "10")...)
				// SUBACK 0x80 (3.1.1) or 0x87 (5): mosquitto_sub reports it and exits.
				if sub.output != "All subscription requests were denied." {
					t.Errorf("mosquitto_sub exit %d, output %q; want the subscription denied", sub.code, sub.output)
				}
			})
			t.Run("refused connect", func(t *testing.T) {
				m.Clock.Advance(time.Second)
				pub := m.run(ctx, "mosquitto_pub", append(m.args(version, "not-my-thing"), "-t", topic, "-q", "1", "-m", "x")...)
				// MQTT 3.1.1: closed without CONNACK; MQTT 5: CONNACK 0x87.
				if pub.code == 0 || version == "mqttv311" && !strings.Contains(pub.output, "connection was lost") ||
					version == "mqttv5" && !strings.Contains(pub.output, "Connection error: Not authorized") {
					t.Errorf("mosquitto_pub exit %d, output %q", pub.code, pub.output)
				}
			})
		})
	}
}
