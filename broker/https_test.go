package broker

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/policy"
)

// TestAuthorizeHTTPS: a device's HTTPS request is decided with the identity rules of CONNECT and the
// certificate's policies, without a client ID (so without the variables that need one).
// AWS: http.html, iot-action-resources, thing-policy-variables
func TestAuthorizeHTTPS(t *testing.T) {
	e := newEnv(t)
	e.policy("dev",
		allow("iot:Publish", "topic/home/${iot:Certificate.Subject.CommonName}/*"),
		allow("iot:Publish", "topic/by-client/${iot:ClientId}"),
		allow("iot:Publish", "topic/by-thing/${iot:Connection.Thing.ThingName}"),
		deny("iot:Publish", "topic/home/lamp/secret"),
		allow("iot:GetThingShadow", "thing/lamp"),
		allow("iot:UpdateThingShadow", "thing/lamp/*"),
		allow("iot:GetRetainedMessage,iot:ListRetainedMessages", "topic/home/*"),
		allow("iot:ListNamedShadowsForThing", "*"),
	)
	lamp := e.device("lamp", "dev")
	e.Dir.addThing("lamp", nil, lamp.ID)
	stranger := newDeviceCert(t, "stranger", certs.Options{}) // never registered
	inactive := e.device("inactive", "dev")
	e.Dir.setStatus(inactive.ID, "INACTIVE")
	otherCA, otherCAKey, err := certs.NewCA("Inactive CA", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orphanKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := certs.IssueLeaf(otherCA, otherCAKey, "orphan", orphanKey.Public(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orphan := deviceFrom(t, leaf, orphanKey)
	e.Dir.register(orphan.ID, certs.CertificateID(otherCA.Raw), "dev")
	e.Dir.setCAStatus(certs.CertificateID(otherCA.Raw), "INACTIVE")

	cases := []struct {
		name     string
		d        device
		action   string
		resource string
		want     policy.Effect
		unauth   bool // the identity is refused
	}{
		{"publish allowed by a certificate variable", lamp, "iot:Publish", "topic/home/lamp/state", policy.Allowed, false},
		{"publish to another device's topic", lamp, "iot:Publish", "topic/home/door/state", policy.ImplicitDeny, false},
		{"explicit deny wins", lamp, "iot:Publish", "topic/home/lamp/secret", policy.ExplicitDeny, false},
		{"no client ID over HTTPS", lamp, "iot:Publish", "topic/by-client/lamp", policy.ImplicitDeny, false},
		{"no thing variables over HTTPS", lamp, "iot:Publish", "topic/by-thing/lamp", policy.ImplicitDeny, false},
		{"classic shadow", lamp, "iot:GetThingShadow", "thing/lamp", policy.Allowed, false},
		{"named shadow is another resource", lamp, "iot:GetThingShadow", "thing/lamp/config", policy.ImplicitDeny, false},
		{"named shadow allowed by thing/lamp/*", lamp, "iot:UpdateThingShadow", "thing/lamp/config", policy.Allowed, false},
		{"another thing's shadow", lamp, "iot:GetThingShadow", "thing/door", policy.ImplicitDeny, false},
		{"retained message", lamp, "iot:GetRetainedMessage", "topic/home/lamp/state", policy.Allowed, false},
		{"list retained needs Resource *", lamp, "iot:ListRetainedMessages", AnyResource, policy.ImplicitDeny, false},
		{"list named shadows with Resource *", lamp, "iot:ListNamedShadowsForThing", AnyResource, policy.Allowed, false},
		{"unregistered certificate", stranger, "iot:Publish", "topic/home/stranger/state", policy.ImplicitDeny, true},
		{"INACTIVE certificate", inactive, "iot:Publish", "topic/home/inactive/state", policy.ImplicitDeny, true},
		{"CA not ACTIVE", orphan, "iot:Publish", "topic/home/orphan/state", policy.ImplicitDeny, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.d.Cert}, ServerName: "localhost"}
			d, err := e.Srv.AuthorizeHTTPS(state, "127.0.0.1:40000", tc.action, tc.resource)
			if got := errors.Is(err, ErrNotAuthenticated); got != tc.unauth {
				t.Fatalf("identity refused: got %v (err %v), want %v", got, err, tc.unauth)
			}
			if d.Effect != tc.want {
				t.Fatalf("effect: got %s (%s), want %s", d.Effect, d.Explain(), tc.want)
			}
		})
	}

	// Refusals are logged in AWS's format, protocol HTTP, and observed.
	deny := e.events.wait(t, "an HTTPS deny", func(ev Event) bool {
		return ev.Kind == EventDeny && ev.Topic == "home/door/state" && ev.Action == "iot:Publish"
	})
	if deny.CertID != lamp.ID || deny.Reason != reasonAuthorization {
		t.Errorf("deny event: got %+v", deny)
	}
	entry := findLog(e.readLog(), map[string]any{"eventType": awslog.EventPublishIn, "topicName": "home/door/state"})
	if entry == nil {
		t.Fatalf("no Publish-In entry for the refused HTTPS publish; log %v", e.readLog())
	}
	for k, want := range map[string]any{"protocol": "HTTP", "status": "Failure", "reason": reasonAuthorization,
		"principalId": lamp.ID, "sourceIp": "127.0.0.1"} {
		if entry[k] != want {
			t.Errorf("log %s: got %v, want %v", k, entry[k], want)
		}
	}
	if findLog(e.readLog(), map[string]any{"eventType": "GetThingShadow", "reason": reasonAuthentication}) != nil {
		t.Errorf("an authentication failure was logged for an authorization test")
	}
	if findLog(e.readLog(), map[string]any{"eventType": awslog.EventPublishIn, "reason": reasonAuthentication, "principalId": stranger.ID}) == nil {
		t.Errorf("the unregistered certificate's refusal was not logged")
	}
}

// TestALPNListener: the listener that plays AWS's port 443 dispatches on ALPN — x-amzn-mqtt-ca is MQTT
// as on 8883, x-amzn-http-ca, http/1.1 or none is HTTPS (handed to HTTPSListener), mqtt (custom
// authentication) is closed — and Close still waits for every goroutine. AWS: protocols
func TestALPNListener(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ALPNAddr = "127.0.0.1:0"; o.HandshakeTimeout = 2 * time.Second })
	e.policy("dev", allow("iot:Connect", "client/alpn-*"))
	d := e.device("alpn-dev", "dev")
	hl := e.Srv.HTTPSListener()
	if hl == nil || e.Srv.ALPNAddr() == nil || hl.Addr().String() != e.Srv.ALPNAddr().String() {
		t.Fatalf("HTTPSListener %v, ALPNAddr %v", hl, e.Srv.ALPNAddr())
	}
	type connKey struct{}
	hs := &http.Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := r.Context().Value(connKey{}).(HTTPSConn).ConnectionState()
			io.WriteString(w, "https "+st.NegotiatedProtocol+" "+st.PeerCertificates[0].Subject.CommonName)
		}),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(hl) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := e.Srv.ALPNAddr().String()
	dial := func(protos []string, withCert bool) (*tls.Conn, error) {
		cfg := e.clientTLS(d)
		cfg.NextProtos = protos
		if !withCert {
			cfg.Certificates = nil
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, cfg)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	get := func(c *tls.Conn) (string, error) {
		_ = c.SetDeadline(time.Now().Add(waitFor))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	httpsCases := []struct {
		name   string
		protos []string
		want   string
	}{
		{"x-amzn-http-ca", []string{ALPNHTTP}, "https x-amzn-http-ca alpn-dev"},
		{"no ALPN", nil, "https  alpn-dev"},
		{"curl's h2 and http/1.1", []string{"h2", "http/1.1"}, "https http/1.1 alpn-dev"},
	}
	for _, tc := range httpsCases {
		t.Run("https/"+tc.name, func(t *testing.T) {
			c, err := dial(tc.protos, true)
			if err != nil {
				t.Fatal(err)
			}
			got, err := get(c)
			if err != nil || got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}

	t.Run("mqtt/x-amzn-mqtt-ca", func(t *testing.T) {
		c, err := dial([]string{ALPNMQTT}, true)
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != ALPNMQTT {
			t.Fatalf("negotiated %q", p)
		}
		rc := &rawClient{t: t, conn: c, r: bufio.NewReader(c), version: 4}
		rc.connect("alpn-dev", 30) // CONNACK 0: identity and iot:Connect as on 8883
		e.events.wait(t, "the ALPN MQTT connection", kindIs(EventConnect, "alpn-dev"))
		// And refused as on 8883: MQTT 3.1.1 gets no CONNACK when iot:Connect denies.
		c2, err := dial([]string{ALPNMQTT}, true)
		if err != nil {
			t.Fatal(err)
		}
		rc2 := &rawClient{t: t, conn: c2, r: bufio.NewReader(c2), version: 4}
		rc2.send(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Connect},
			Connect:     packets.ConnectParams{ClientIdentifier: "other-client", Keepalive: 30, Clean: true},
		})
		if got := rc2.expectClosed(); len(got) != 0 {
			t.Fatalf("refused CONNECT over ALPN: got packets %v, want none", types(got))
		}
	})

	t.Run("mqtt custom authentication is closed", func(t *testing.T) {
		c, err := dial([]string{"mqtt"}, false) // custom authorizers send no certificate
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("read after ALPN mqtt: got %v, want the connection closed", err)
		}
	})

	t.Run("HTTPS without a client certificate", func(t *testing.T) {
		c, err := dial([]string{ALPNHTTP}, false)
		if err == nil {
			// TLS 1.3: the client's handshake ends before the server checks; the alert comes next.
			_, err = get(c)
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("got %v, want a certificate-required failure", err)
		}
	})

	t.Run("unknown ALPN only", func(t *testing.T) {
		if _, err := dial([]string{"spdy/3"}, true); err == nil {
			t.Fatal("handshake with an unknown ALPN protocol succeeded")
		}
	})
}
