package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/certs"
)

// Deactivating or revoking a certificate disconnects its live connections (AUTH_ERROR, MQTT 5
// DISCONNECT 0x87, will published) and later CONNECTs are refused. Checklist 71.
func TestCertificateChangedDisconnects(t *testing.T) {
	for _, status := range []string{"INACTIVE", "REVOKED"} {
		t.Run(status, func(t *testing.T) {
			e := newEnv(t)
			e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"))
			w := e.watcher("cc-w", "will/#", "$aws/events/presence/disconnected/#")
			d := e.device("cc", "c")
			other := e.device("cc-other", "c")
			c5, err := e.dial5(d, "cc5", v5Opts{will: &paho.WillMessage{Topic: "will/cc5", Payload: []byte("revoked"), QoS: 1}})
			if err != nil {
				t.Fatal(err)
			}
			c3 := e.connect3(d, "cc3")
			bystander := e.connect5(other, "cc-other")

			e.Srv.CertificateChanged(d.ID) // still ACTIVE: nothing happens
			e.Dir.setStatus(d.ID, status)
			e.Srv.CertificateChanged(d.ID)

			select {
			case dis := <-c5.discon:
				if dis.ReasonCode != packets.ErrNotAuthorized.Code {
					t.Errorf("DISCONNECT 0x%02x, want 0x87", dis.ReasonCode)
				}
			case <-time.After(waitFor):
				t.Fatal("MQTT 5 client not disconnected")
			}
			c3.closed()
			got := w.expectAll("will/cc5", "$aws/events/presence/disconnected/cc5", "$aws/events/presence/disconnected/cc3")
			for _, id := range []string{"cc5", "cc3"} {
				doc := decodeJSON(t, got["$aws/events/presence/disconnected/"+id].Payload)
				if doc["disconnectReason"] != "AUTH_ERROR" {
					t.Errorf("%s: %v", id, doc)
				}
			}
			if !e.Srv.Connected("cc-other") {
				t.Error("a connection with another certificate was closed")
			}
			_ = bystander
			e.Clock.Advance(time.Second)
			refusedAsAWS(t, e, d, "cc5", packets.ErrNotAuthorized.Code)
		})
	}
}

// DeleteConnection: API_INITIATED_DISCONNECT, will unless preventWill, cleanSession drops the session.
func TestDisconnectAPI(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"), allow("iot:Publish", "topic/will/*"), allow("iot:Subscribe", "topicfilter/s/*"))
	w := e.watcher("da-w", "will/#", "$aws/events/presence/disconnected/#", "marker")
	d := e.device("da", "c")
	if e.Srv.Disconnect("nobody", false, false) {
		t.Error("Disconnect of an unknown client reported true")
	}
	tests := []struct {
		name                     string
		preventWill, cleanSess   bool
		wantWill, wantSessionEnd bool
	}{
		{"will published", false, false, true, false},
		{"preventWillMessage", true, false, false, false},
		{"cleanSession", false, true, true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("da-%d", i)
			c, err := e.dial5(d, id, v5Opts{sei: 600, will: &paho.WillMessage{Topic: "will/" + id, Payload: []byte("x"), QoS: 1}})
			if err != nil {
				t.Fatal(err)
			}
			c.subscribe("s/a")
			if !e.Srv.Disconnect(id, tt.cleanSess, tt.preventWill) {
				t.Fatal("Disconnect reported no connection")
			}
			select {
			case dis := <-c.discon:
				if dis.ReasonCode != packets.ErrAdministrativeAction.Code {
					t.Errorf("DISCONNECT 0x%02x, want 0x98", dis.ReasonCode)
				}
			case <-time.After(waitFor):
				t.Fatal("no DISCONNECT")
			}
			// The broker publishes the will before the lifecycle event, from the same goroutine.
			before, ev := w.collect("$aws/events/presence/disconnected/" + id)
			if doc := decodeJSON(t, ev.Payload); doc["disconnectReason"] != "API_INITIATED_DISCONNECT" {
				t.Errorf("lifecycle %v", doc)
			}
			hasWill := false
			for _, m := range before {
				if m.Topic == "will/"+id {
					hasWill = true
				}
			}
			if hasWill != tt.wantWill {
				t.Errorf("will published %v, want %v", hasWill, tt.wantWill)
			}
			// A persistent session outlives the connection unless cleanSession.
			if got := e.Srv.Disconnect(id, false, false); got == tt.wantSessionEnd {
				t.Errorf("session still there: %v, want %v", got, !tt.wantSessionEnd)
			}
		})
	}
}

// Server-side publishes (iot-data Publish, rules) reach subscribers with their MQTT 5 properties, and
// delivery still checks iot:Receive.
func TestServerPublish(t *testing.T) {
	e := newEnv(t)
	e.policy("sub", allow("iot:Connect", "client/*"), allow("iot:Subscribe", "topicfilter/srv/*"), allow("iot:Receive", "topic/srv/open"))
	s := e.connect5(e.device("sp", "sub"), "sp")
	s.subscribe("srv/#")
	if err := e.Srv.Publish("srv/closed", []byte("no"), 1, false); err != nil {
		t.Fatal(err)
	}
	err := e.Srv.Publish("srv/open", []byte(`{"a":1}`), 1, false,
		WithUserProperty("k", "v"), WithContentType("application/json"), WithPayloadFormatIndicator(true))
	if err != nil {
		t.Fatal(err)
	}
	before, m := s.collect("srv/open")
	if m.Properties == nil || m.Properties.ContentType != "application/json" || m.Properties.User.Get("k") != "v" {
		t.Errorf("properties %+v", m.Properties)
	}
	for _, b := range before {
		t.Errorf("unexpected %s (iot:Receive denies it)", b.Topic)
	}
	for _, bad := range []struct {
		topic string
		qos   byte
	}{{"srv/+", 0}, {"srv/x", 2}, {"", 0}} {
		if err := e.Srv.Publish(bad.topic, nil, bad.qos, false); err == nil {
			t.Errorf("Publish(%q, QoS %d) accepted", bad.topic, bad.qos)
		}
	}
}

// A device whose registered CA is not ACTIVE cannot connect, and deactivating the CA disconnects its
// devices (CADirectory).
func TestCACertificateChanged(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"))
	d := e.device("ca-dev", "c")
	_, devCA, _ := testPKI(t)
	caID := certs.CertificateID(devCA.Raw)
	c := e.connect5(d, "ca-dev")
	e.Srv.CACertificateChanged(caID) // still ACTIVE
	if !e.Srv.Connected("ca-dev") {
		t.Fatal("disconnected while the CA is ACTIVE")
	}
	e.Dir.setCAStatus(caID, "INACTIVE")
	e.Srv.CACertificateChanged(caID)
	c.closed()
	ev := e.events.wait(t, "disconnect", kindIs(EventDisconnect, "ca-dev"))
	if ev.Reason != reasonAuthError {
		t.Errorf("reason %q, want AUTH_ERROR", ev.Reason)
	}
	e.Clock.Advance(time.Second)
	refusedAsAWS(t, e, d, "ca-dev", packets.ErrNotAuthorized.Code)
	// A certificate registered without a CA is unaffected.
	self := newDeviceCert(t, "no-ca", certs.Options{})
	e.Dir.register(self.ID, "", "c")
	if _, open := e.tryConnect(self, 5, "no-ca"); !open {
		t.Error("a certificate registered without a CA was refused")
	}
}

// Quirks.CertDisconnectDelay postpones the disconnect, as AWS's "within a few minutes" does.
func TestCertDisconnectDelay(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Quirks.CertDisconnectDelay = 300 * time.Millisecond })
	e.policy("c", allow("iot:Connect", "client/*"))
	d := e.device("delay", "c")
	c := e.connect5(d, "delay")
	e.Dir.setStatus(d.ID, "INACTIVE")
	e.Srv.CertificateChanged(d.ID)
	if !e.Srv.Connected("delay") {
		t.Error("disconnected before the delay")
	}
	c.closed()
	if ev := e.events.wait(t, "disconnect", kindIs(EventDisconnect, "delay")); ev.Reason != reasonAuthError {
		t.Errorf("reason %q", ev.Reason)
	}
}
