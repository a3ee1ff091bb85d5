package broker

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/certs"
)

// tryConnect sends a CONNECT on a raw connection and returns every packet the server sent before it
// closed the connection, or, when it accepted, the CONNACK alone (open is then true).
func (e *env) tryConnect(d device, version byte, clientID string) (got []packets.Packet, open bool) {
	e.t.Helper()
	rc := e.raw(d, version)
	rc.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ClientIdentifier: clientID, Keepalive: 60, Clean: true},
	})
	pk, err := rc.read()
	if err != nil {
		return nil, false
	}
	if pk.FixedHeader.Type == packets.Connack && pk.ReasonCode == 0 {
		return []packets.Packet{pk}, true
	}
	return append([]packets.Packet{pk}, rc.expectClosed()...), false
}

// refusedAsAWS checks AWS's answer to a refused CONNECT (research §1.3, checklist 4 and 6): MQTT 3.1.1
// gets the socket closed without CONNACK, MQTT 5 gets CONNACK with reason code want5 and then the close.
func refusedAsAWS(t *testing.T, e *env, d device, clientID string, want5 byte) {
	t.Helper()
	got, open := e.tryConnect(d, 4, clientID)
	if open || len(got) != 0 {
		t.Errorf("MQTT 3.1.1: got packets %v (open %v), want the socket closed without CONNACK", types(got), open)
	}
	got, open = e.tryConnect(d, 5, clientID)
	if open || len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != want5 {
		t.Errorf("MQTT 5: got %v (open %v), want CONNACK 0x%02x then close", describe(got), open, want5)
	}
}

func describe(pks []packets.Packet) []string {
	var out []string
	for _, p := range pks {
		out = append(out, packets.PacketNames[p.FixedHeader.Type]+" reason 0x"+hexByte(p.ReasonCode))
	}
	return out
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// Checklist 2: a client that presents no certificate cannot get an MQTT session.
func TestClientCertificateRequired(t *testing.T) {
	e := newEnv(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", e.addr(), &tls.Config{
				RootCAs: e.CA.RootPool(), ServerName: "localhost", MinVersion: version, MaxVersion: version,
			})
			if err != nil {
				return // refused during the handshake (TLS 1.2)
			}
			defer c.Close()
			rc := &rawClient{t: t, conn: c, r: bufio.NewReader(c), version: 4}
			_ = c.SetWriteDeadline(time.Now().Add(waitFor))
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
				Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: "nocert", Keepalive: 60, Clean: true}}
			var buf bytes.Buffer
			_ = pk.ConnectEncode(&buf)
			_, _ = c.Write(buf.Bytes()) // TLS 1.3: the server's alert arrives on the next read
			if _, err := rc.read(); err == nil {
				t.Fatal("got a packet without presenting a client certificate")
			}
		})
	}
}

// Checklist 4 and 5: the certificate must be registered, ACTIVE and within its validity period.
func TestCertificateStatus(t *testing.T) {
	e := newEnv(t)
	e.policy("connect-any", allow("iot:Connect", "client/*"))
	expired := newDeviceCert(t, "expired", certs.Options{Now: func() time.Time { return time.Now().Add(-2 * 365 * 24 * time.Hour) }})
	e.Dir.register(expired.ID, "", "connect-any")
	unknown := newDeviceCert(t, "unknown", certs.Options{})
	tests := []struct {
		name   string
		dev    device
		status string // "" keeps ACTIVE
		ok     bool
	}{
		{"registered and ACTIVE", e.device("active", "connect-any"), "", true},
		{"not registered", unknown, "", false},
		{"INACTIVE", e.device("inactive", "connect-any"), "INACTIVE", false},
		{"REVOKED", e.device("revoked", "connect-any"), "REVOKED", false},
		{"PENDING_ACTIVATION", e.device("pending", "connect-any"), "PENDING_ACTIVATION", false},
		{"PENDING_TRANSFER", e.device("transfer", "connect-any"), "PENDING_TRANSFER", false},
		{"expired", expired, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status != "" {
				e.Dir.setStatus(tt.dev.ID, tt.status)
			}
			if tt.ok {
				for _, v := range []byte{4, 5} {
					if _, open := e.tryConnect(tt.dev, v, "cert-"+tt.dev.Cert.Subject.CommonName+string('0'+v)); !open {
						t.Fatalf("MQTT %d: refused, want CONNACK 0", v)
					}
				}
				return
			}
			refusedAsAWS(t, e, tt.dev, "cert-"+tt.name, packets.ErrNotAuthorized.Code)
			ev := e.events.wait(t, "connect-failed", func(ev Event) bool {
				return ev.Kind == EventConnectFailed && ev.CertID == tt.dev.ID
			})
			if ev.Reason != reasonAuthentication {
				t.Errorf("reason %q, want %q", ev.Reason, reasonAuthentication)
			}
		})
	}
}

// Checklist 5–9: iot:Connect on client/<clientId>, default deny, explicit deny, thing variables.
func TestConnectPolicy(t *testing.T) {
	e := newEnv(t)
	e.policy("own-id", allow("iot:Connect", "client/dev-1"))
	e.policy("any-but-client1", allow("iot:Connect", "client/*"), deny("iot:Connect", "client/client1"))
	e.Dir.setPolicy(t, "thing-attached", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
		"Resource":"`+arn("client/*")+`","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}`)
	e.policy("thing-name", allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}"))

	own := e.device("own", "own-id")
	nopolicy := e.device("nopolicy")
	anyBut := e.device("anybut", "any-but-client1")
	attached := e.device("attached", "thing-attached")
	other := e.device("other", "thing-attached")
	byName := e.device("byname", "thing-name")
	e.Dir.addThing("lamp-1", nil, attached.ID, byName.ID)
	e.Dir.addThing("lamp-2", nil)

	tests := []struct {
		name     string
		dev      device
		clientID string
		ok       bool
	}{
		{"allowed client ID", own, "dev-1", true},
		{"client ID not in the policy", own, "dev-2", false},
		{"no policy attached (default deny)", nopolicy, "dev-1", false},
		{"explicit Deny beats Allow client/*", anyBut, "client1", false},
		{"Allow client/* for another ID", anyBut, "client2", true},
		{"IsAttached: thing attached to the certificate", attached, "lamp-1", true},
		{"IsAttached: thing not attached", other, "lamp-1", false},
		{"IsAttached: thing exists, attached to nothing", attached, "lamp-2", false},
		{"IsAttached: no such thing", attached, "lamp-9", false},
		{"ThingName variable resolves", byName, "lamp-1", true},
		{"ThingName variable unresolved", byName, "lamp-2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ok {
				e.Clock.Advance(time.Second)
				for _, v := range []byte{4, 5} {
					e.Clock.Advance(time.Second)
					if got, open := e.tryConnect(tt.dev, v, tt.clientID); !open {
						t.Fatalf("MQTT %d: %v, want CONNACK 0", v, describe(got))
					}
				}
				return
			}
			e.Clock.Advance(time.Second)
			got, open := e.tryConnect(tt.dev, 4, tt.clientID)
			if open || len(got) != 0 {
				t.Errorf("MQTT 3.1.1: got %v, want the socket closed without CONNACK", describe(got))
			}
			e.Clock.Advance(time.Second)
			got, open = e.tryConnect(tt.dev, 5, tt.clientID)
			if open || len(got) != 1 || got[0].ReasonCode != packets.ErrNotAuthorized.Code {
				t.Errorf("MQTT 5: got %v, want CONNACK 0x87", describe(got))
			}
			ev := e.events.wait(t, "connect-failed", func(ev Event) bool {
				return ev.Kind == EventConnectFailed && ev.ClientID == tt.clientID && ev.CertID == tt.dev.ID
			})
			if ev.Reason != reasonAuthorization || ev.Action != actConnect {
				t.Errorf("event: reason %q action %q, want %q %q", ev.Reason, ev.Action, reasonAuthorization, actConnect)
			}
		})
	}
}

// Checklist 6: an iot:Connect refusal publishes connect_failed with AUTHORIZATION_FAILED and logs a
// Connect Failure with AUTHORIZATION_FAILURE; an unknown certificate (no known principal) publishes
// nothing. AWS: life-cycle-events#connect-authfailure-event
func TestConnectFailedEvent(t *testing.T) {
	e := newEnv(t)
	e.policy("other-id", allow("iot:Connect", "client/someone-else"))
	w := e.watcher("cf-w", "$aws/events/presence/connect_failed/#", "marker")
	d := e.device("cf", "other-id")
	stranger := newDeviceCert(t, "stranger", certs.Options{})
	e.tryConnect(stranger, 5, "cf-unknown")
	e.tryConnect(d, 5, "cf-denied")
	e.events.wait(t, "refusal", func(ev Event) bool { return ev.Kind == EventConnectFailed && ev.ClientID == "cf-denied" })
	if err := e.Srv.Publish("marker", []byte("m"), 1, false); err != nil {
		t.Fatal(err)
	}
	before, _ := w.collect("marker")
	if len(before) != 1 || before[0].Topic != "$aws/events/presence/connect_failed/cf-denied" {
		t.Fatalf("got %v, want one connect_failed for cf-denied", topicsOf(before))
	}
	doc := decodeJSON(t, before[0].Payload)
	for k, want := range map[string]any{"clientId": "cf-denied", "eventType": "connect_failed",
		"connectFailureReason": "AUTHORIZATION_FAILED", "principalIdentifier": d.ID, "ipAddress": "127.0.0.1"} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}
	if l := findLog(e.readLog(), map[string]any{"eventType": "Connect", "clientId": "cf-denied"}); l == nil ||
		l["status"] != "Failure" || l["reason"] != "AUTHORIZATION_FAILURE" || l["logLevel"] != "ERROR" {
		t.Errorf("Connect log %v", l)
	}
}

// TLS session resumption (a TLS 1.3 ticket) is a client's way to reconnect with a cheaper handshake:
// the server skips its signature and the certificate exchange. The identity is still the client
// certificate, carried in the ticket, and CONNECT still checks that it is registered and ACTIVE.
func TestTLSResumptionKeepsTheCertificateIdentity(t *testing.T) {
	e := newEnv(t)
	e.policy("p", allow("iot:Connect", "client/*"))
	d := e.device("resumer", "p")
	cfg := e.clientTLS(d)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	connect := func(clientID string) (resumed bool, got []packets.Packet, open bool) {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", e.addr(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		rc := &rawClient{t: t, conn: c, r: bufio.NewReader(c), version: 5}
		rc.send(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Connect},
			Connect:     packets.ConnectParams{ClientIdentifier: clientID, Keepalive: 60, Clean: true},
		})
		pk, err := rc.read() // reading also takes in the ticket, sent after the handshake
		if err != nil {
			t.Fatalf("no CONNACK: %v", err)
		}
		if pk.FixedHeader.Type == packets.Connack && pk.ReasonCode == 0 {
			return c.ConnectionState().DidResume, []packets.Packet{pk}, true
		}
		return c.ConnectionState().DidResume, append([]packets.Packet{pk}, rc.expectClosed()...), false
	}
	if resumed, _, open := connect("resumer-1"); resumed || !open {
		t.Fatalf("first connection: resumed %v, accepted %v; want a full handshake, accepted", resumed, open)
	}
	if resumed, _, open := connect("resumer-2"); !resumed || !open {
		t.Fatalf("second connection: resumed %v, accepted %v; want resumed, accepted", resumed, open)
	}
	e.Dir.setStatus(d.ID, "INACTIVE")
	resumed, got, open := connect("resumer-3")
	if !resumed || open || len(got) == 0 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("resumed with an INACTIVE certificate: resumed %v, accepted %v, got %v; want CONNACK 0x87", resumed, open, types(got))
	}
}
