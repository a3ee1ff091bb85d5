package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/eclipse/paho.golang/paho"
)

// Devices call iot-data over HTTPS with their certificate — AWS's port 8443, and 443 with ALPN — and
// their IoT policy decides each call. AWS: protocols, http.html, device-shadow-rest-api,
// iot-policy-actions, iot-action-resources

// sensorHTTPSPolicy is what the living-room sensor may do over HTTPS, beyond the book's device policy
// (whose ${iot:Connection.Thing.ThingName} statements never resolve over HTTPS: no client ID).
const sensorHTTPSPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/livingroom-sensor/*"},
    {"Effect": "Allow", "Action": "iot:RetainPublish", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/livingroom-sensor/status"},
    {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow"],
     "Resource": ["arn:aws:iot:eu-west-1:123456789012:thing/livingroom-sensor", "arn:aws:iot:eu-west-1:123456789012:thing/livingroom-sensor/*"]},
    {"Effect": "Allow", "Action": "iot:GetRetainedMessage", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/livingroom-sensor/*"},
    {"Effect": "Allow", "Action": ["iot:ListRetainedMessages", "iot:ListNamedShadowsForThing"], "Resource": "*"}
  ]
}`

// httpsHome is a running iotlab with the book's policy, the sensor's HTTPS policy, a sensor and a
// door, and the door subscribed to home/# over MQTT (8883), collecting what it receives.
type httpsHome struct {
	p             *proc
	state         string
	iot           *iot.Client
	sensor, door  device
	mu            sync.Mutex // guards received
	received      []string   // payloads the door received
	httpsAddr     string     // host:port of --https-addr
	alpnAddr      string     // host:port of --alpn-addr, when given
	receivedAdded chan struct{}
}

func newHTTPSHome(t *testing.T, extra ...string) *httpsHome {
	t.Helper()
	h := &httpsHome{state: t.TempDir(), receivedAdded: make(chan struct{}, 1)}
	h.p = startUp(t, h.state, append([]string{"--limits", "none"}, extra...)...)
	for _, line := range h.p.banner {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "HTTPS" && f[1] == "(mTLS)":
			h.httpsAddr = strings.TrimPrefix(f[2], "https://")
		case len(f) >= 3 && f[0] == "ALPN" && f[1] == "(443)":
			h.alpnAddr = f[2]
		}
	}
	if h.httpsAddr == "" {
		t.Fatalf("no HTTPS address in the banner:\n%s", strings.Join(h.p.banner, "\n"))
	}
	h.iot = h.p.iot()
	ctx := context.Background()
	for name, doc := range map[string]string{"home-device": devicePolicy, "sensor-https": sensorHTTPSPolicy} {
		if _, err := h.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	h.sensor = provision(t, h.iot, dir, "livingroom-sensor", false)
	h.door = provision(t, h.iot, dir, "hall-door", true)
	h.attach(t, "sensor-https", "livingroom-sensor")
	sub, _ := mqtt5(t, h.p.mqttPort, tlsFor(t, h.state, h.door), "hall-door", false, func(payload string) {
		h.mu.Lock()
		h.received = append(h.received, payload)
		h.mu.Unlock()
		select {
		case h.receivedAdded <- struct{}{}:
		default:
		}
	})
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "home/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// attach attaches a policy to the certificate of a thing.
func (h *httpsHome) attach(t *testing.T, policyName, thing string) string {
	t.Helper()
	ps, err := h.iot.ListThingPrincipals(context.Background(), &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	if err != nil || len(ps.Principals) != 1 {
		t.Fatalf("principals of %s: %v %v", thing, ps, err)
	}
	if _, err := h.iot.AttachPolicy(context.Background(), &iot.AttachPolicyInput{PolicyName: aws.String(policyName), Target: aws.String(ps.Principals[0])}); err != nil {
		t.Fatal(err)
	}
	return ps.Principals[0]
}

// waitReceived waits until the door has received payload over MQTT.
func (h *httpsHome) waitReceived(t *testing.T, payload string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if h.saw(payload) {
			return
		}
		select {
		case <-h.receivedAdded:
		case <-deadline:
			t.Fatalf("the MQTT subscriber never received %q; it got %q", payload, h.got())
		}
	}
}

func (h *httpsHome) saw(payload string) bool {
	for _, p := range h.got() {
		if p == payload {
			return true
		}
	}
	return false
}

func (h *httpsHome) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.received...)
}

// client is an HTTPS client presenting cert (nil: none), trusting the state dir's root CA, offering
// the ALPN protocols given (none: no ALPN extension).
func (h *httpsHome) client(t *testing.T, cert *tls.Certificate, alpn ...string) *http.Client {
	t.Helper()
	cfg := tlsFor(t, h.state, h.sensor)
	cfg.Certificates = nil
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	cfg.NextProtos = alpn
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func certOf(t *testing.T, d device) *tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(d.cert, d.key)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}

// do sends one request to https://addr and returns the status and body.
func do(t *testing.T, c *http.Client, addr, method, path, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// wantForbidden checks AWS's answer to a refused device: 403 {"message":"Forbidden","traceId":…}.
func wantForbidden(t *testing.T, status int, body string) {
	t.Helper()
	var m map[string]string
	if status != http.StatusForbidden || json.Unmarshal([]byte(body), &m) != nil || m["message"] != "Forbidden" || m["traceId"] == "" {
		t.Fatalf("got %d %s, want 403 {\"message\":\"Forbidden\",\"traceId\":…}", status, body)
	}
}

// TestDeviceHTTPS: a device certificate made through the control plane calls iot-data over real TLS on
// --https-addr; its IoT policy decides each operation, receivers are still checked, and identities the
// broker refuses are refused here too.
func TestDeviceHTTPS(t *testing.T) {
	h := newHTTPSHome(t)
	sensor, door := h.client(t, certOf(t, h.sensor)), h.client(t, certOf(t, h.door))

	cases := []struct {
		name               string
		c                  *http.Client
		method, path, body string
		status             int      // 403 means AWS's Forbidden answer
		contains           []string // in the body of an answer that is not 403
		delivered          string   // a payload the MQTT subscriber then receives
	}{
		{name: "publish allowed", c: sensor, method: "POST", path: "/topics/home/livingroom-sensor/temperature?qos=1", body: "21.5",
			status: 200, contains: []string{`"message":"OK"`, `"traceId":"`}, delivered: "21.5"},
		{name: "publish with an escaped topic", c: sensor, method: "POST", path: "/topics/home%2Flivingroom-sensor%2Fhumidity?qos=0", body: "40",
			status: 200, delivered: "40"},
		{name: "publish to another device's topic", c: sensor, method: "POST", path: "/topics/home/hall-door/cmd?qos=1", body: "forbidden-open", status: 403},
		{name: "thing variables do not resolve over HTTPS", c: door, method: "POST", path: "/topics/home/hall-door/state?qos=1", body: "forbidden-state", status: 403},
		{name: "retained publish allowed", c: sensor, method: "POST", path: "/topics/home/livingroom-sensor/status?qos=1&retain=true", body: "online",
			status: 200, delivered: "online"},
		{name: "retained publish without iot:RetainPublish", c: sensor, method: "POST", path: "/topics/home/livingroom-sensor/temperature?qos=1&retain=true", body: "forbidden-retain", status: 403},
		{name: "get retained message", c: sensor, method: "GET", path: "/retainedMessage/home/livingroom-sensor/status",
			status: 200, contains: []string{`"topic":"home/livingroom-sensor/status"`, `"payload":"b25saW5l"`}},
		{name: "get retained message refused", c: door, method: "GET", path: "/retainedMessage/home/livingroom-sensor/status", status: 403},
		{name: "list retained messages", c: sensor, method: "GET", path: "/retainedMessage", status: 200, contains: []string{`"home/livingroom-sensor/status"`}},
		{name: "list retained messages refused", c: door, method: "GET", path: "/retainedMessage", status: 403},
		{name: "update own shadow", c: sensor, method: "POST", path: "/things/livingroom-sensor/shadow", body: `{"state":{"reported":{"temperature":21.5}}}`,
			status: 200, contains: []string{`"reported":{"temperature":21.5}`}},
		{name: "get own shadow", c: sensor, method: "GET", path: "/things/livingroom-sensor/shadow", status: 200, contains: []string{`"temperature":21.5`, `"version":1`}},
		{name: "update own named shadow", c: sensor, method: "POST", path: "/things/livingroom-sensor/shadow?name=config", body: `{"state":{"desired":{"interval":60}}}`,
			status: 200, contains: []string{`"interval":60`}},
		{name: "list named shadows", c: sensor, method: "GET", path: "/api/things/shadow/ListNamedShadowsForThing/livingroom-sensor", status: 200, contains: []string{`"results":["config"]`}},
		{name: "list named shadows refused", c: door, method: "GET", path: "/api/things/shadow/ListNamedShadowsForThing/hall-door", status: 403},
		{name: "delete own named shadow", c: sensor, method: "DELETE", path: "/things/livingroom-sensor/shadow?name=config", status: 200, contains: []string{`"version":1`}},
		{name: "get another thing's shadow", c: sensor, method: "GET", path: "/things/hall-door/shadow", status: 403},
		{name: "update another thing's shadow", c: sensor, method: "POST", path: "/things/hall-door/shadow", body: `{"state":{"desired":{"locked":false}}}`, status: 403},
		{name: "delete another thing's shadow", c: sensor, method: "DELETE", path: "/things/hall-door/shadow", status: 403},
		{name: "control plane is not served", c: sensor, method: "GET", path: "/things", status: 404, contains: []string{`"message":"Not Found"`, `"traceId":"`}},
		{name: "STS is not served", c: sensor, method: "POST", path: "/", body: "Action=GetCallerIdentity&Version=2011-06-15", status: 404, contains: []string{`"message":"Not Found"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := do(t, tc.c, h.httpsAddr, tc.method, tc.path, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.status == http.StatusForbidden {
				wantForbidden(t, status, body)
				return
			}
			if status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body %s: want %s in it", body, want)
				}
			}
			if tc.delivered != "" {
				h.waitReceived(t, tc.delivered)
			}
		})
	}

	// Nothing refused was delivered: a later allowed publish arrives, the refused ones never did.
	if status, body, err := do(t, sensor, h.httpsAddr, "POST", "/topics/home/livingroom-sensor/marker?qos=1", "marker"); err != nil || status != 200 {
		t.Fatalf("marker publish: %d %s %v", status, body, err)
	}
	h.waitReceived(t, "marker")
	for _, p := range h.got() {
		if strings.HasPrefix(p, "forbidden") {
			t.Errorf("a refused HTTPS publish was delivered: %q", p)
		}
	}

	t.Run("curl", func(t *testing.T) {
		// What AWS's HTTPS page shows a learner. AWS: http.html
		if _, err := exec.LookPath("curl"); err != nil {
			t.Fatal("curl not installed")
		}
		_, port, _ := net.SplitHostPort(h.httpsAddr)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "curl", "-sS", "--tlsv1.2",
			"--cacert", filepath.Join(h.state, "root-ca.pem"), "--cert", h.sensor.cert, "--key", h.sensor.key,
			"--resolve", "localhost:"+port+":127.0.0.1",
			"--request", "POST", "--data", `{"temperature": 22}`,
			"https://localhost:"+port+"/topics/home/livingroom-sensor/curl?qos=1").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), `{"message":"OK","traceId":"`) {
			t.Fatalf("curl: %v %s", err, out)
		}
		h.waitReceived(t, `{"temperature": 22}`)
	})

	t.Run("identities", func(t *testing.T) {
		// A third device may publish to the sensor's topics while its certificate is ACTIVE.
		spare := provision(t, h.iot, t.TempDir(), "kitchen-sensor", false)
		spareArn := h.attach(t, "sensor-https", "kitchen-sensor")
		spareClient := h.client(t, certOf(t, spare))
		if status, body, err := do(t, spareClient, h.httpsAddr, "POST", "/topics/home/livingroom-sensor/spare?qos=1", "spare"); err != nil || status != 200 {
			t.Fatalf("ACTIVE spare: %d %s %v", status, body, err)
		}
		id := spareArn[strings.LastIndex(spareArn, "/")+1:]
		if _, err := h.iot.UpdateCertificate(context.Background(), &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: "INACTIVE"}); err != nil {
			t.Fatal(err)
		}
		intruder := selfSigned(t)
		for _, tc := range []struct {
			name string
			c    *http.Client
		}{
			{"unregistered certificate", h.client(t, &intruder)},
			{"INACTIVE certificate", spareClient},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body, err := do(t, tc.c, h.httpsAddr, "POST", "/topics/home/livingroom-sensor/temperature?qos=1", "forbidden-identity")
				if err != nil {
					t.Fatal(err)
				}
				wantForbidden(t, status, body)
			})
		}
		t.Run("no client certificate", func(t *testing.T) {
			_, _, err := do(t, h.client(t, nil), h.httpsAddr, "POST", "/topics/home/livingroom-sensor/temperature?qos=1", "forbidden-nocert")
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("got %v, want the TLS handshake refused for want of a certificate", err)
			}
		})
	})
}

// TestALPNDispatch: --alpn-addr plays AWS's port 443. ALPN x-amzn-mqtt-ca is MQTT, authorized as on
// 8883 (mosquitto_pub --tls-alpn, as AWS's docs suggest for MQTT on 443); x-amzn-http-ca or no ALPN is
// the device HTTPS endpoint; mqtt (custom authentication, not emulated) is closed. AWS: protocols
func TestALPNDispatch(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed: run `make deps` (make test does)")
	}
	h := newHTTPSHome(t, "--alpn-addr", "127.0.0.1:0")
	if h.alpnAddr == "" {
		t.Fatalf("no ALPN address in the banner:\n%s", strings.Join(h.p.banner, "\n"))
	}
	_, port, _ := net.SplitHostPort(h.alpnAddr)
	pub := func(version, topic, payload string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", "localhost", "-p", port, "--tls-alpn", "x-amzn-mqtt-ca",
			"--cafile", filepath.Join(h.state, "root-ca.pem"), "--cert", h.sensor.cert, "--key", h.sensor.key,
			"-i", "livingroom-sensor", "-V", version, "-t", topic, "-q", "1", "-m", payload).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	t.Run("MQTT x-amzn-mqtt-ca allowed", func(t *testing.T) {
		if out, err := pub("mqttv311", "home/livingroom-sensor/temperature", "alpn-21"); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
		h.waitReceived(t, "alpn-21")
	})
	t.Run("MQTT x-amzn-mqtt-ca refused by the policy", func(t *testing.T) {
		out, _ := pub("mqttv5", "home/hall-door/cmd", "forbidden-alpn")
		if !strings.Contains(out, "Not authorized") {
			t.Fatalf("refused publish (MQTT 5): output %q, want PUBACK 0x87 (Not authorized)", out)
		}
	})
	for _, tc := range []struct {
		name string
		alpn []string
	}{
		{"HTTPS without ALPN", nil},
		{"HTTPS x-amzn-http-ca", []string{"x-amzn-http-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := "alpn-https-" + strings.Join(tc.alpn, "")
			status, body, err := do(t, h.client(t, certOf(t, h.sensor), tc.alpn...), h.alpnAddr, "POST", "/topics/home/livingroom-sensor/alpn?qos=1", payload)
			if err != nil || status != 200 || !strings.Contains(body, `"message":"OK"`) {
				t.Fatalf("got %d %s %v, want 200 OK", status, body, err)
			}
			h.waitReceived(t, payload)
			status, body, err = do(t, h.client(t, certOf(t, h.sensor), tc.alpn...), h.alpnAddr, "POST", "/topics/home/hall-door/cmd?qos=1", "forbidden-alpn-https")
			if err != nil {
				t.Fatal(err)
			}
			wantForbidden(t, status, body)
		})
	}
	t.Run("ALPN mqtt (custom authentication) is closed", func(t *testing.T) {
		cfg := tlsFor(t, h.state, h.sensor)
		cfg.Certificates, cfg.NextProtos = nil, []string{"mqtt"} // custom authorizers send no certificate
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", h.alpnAddr, cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "mqtt" {
			t.Fatalf("negotiated %q, want mqtt", p)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 16))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("read %d bytes, err %v: want the connection closed", n, err)
		}
	})
	for _, p := range h.got() {
		if strings.HasPrefix(p, "forbidden") {
			t.Errorf("a refused publish was delivered: %q", p)
		}
	}
}
