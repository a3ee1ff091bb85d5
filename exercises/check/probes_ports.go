package check

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
)

// portProbes cover the ports and protocols table: checklist 3, AWS's port 443 and its ALPN values.
// Locally the port is the one given with --alpn-addr (443 needs privileges). AWS: protocols
func portProbes() []probe {
	return []probe{
		{n: 3, expected: "ALPN x-amzn-mqtt-ca: MQTT as on 8883 (CONNACK 0, PUBACK 0); ALPN mqtt: no MQTT session for a certificate; ALPN x-amzn-http-ca: HTTPS publish 200; no ALPN: an HTTP answer", run: probeALPN},
	}
}

// ALPN protocol names of AWS's port 443. AWS: protocols
const (
	alpnMQTTCert = "x-amzn-mqtt-ca"
	alpnHTTPCert = "x-amzn-http-ca"
	alpnMQTTAuth = "mqtt" // custom authentication
)

func probeALPN(ctx context.Context, e *env) (string, exercises.Status) {
	if e.t.ALPNAddr == "" {
		return "the target has no listener playing AWS's port 443 (start iotlab with --alpn-addr)", exercises.NotApplicable
	}
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	var obs []string
	ok := true

	// MQTT over x-amzn-mqtt-ca: the device's certificate and policy, as on 8883.
	c, ack, err := e.dialALPN(ctx, d, e.name(3, "mqtt-ca"), alpnMQTTCert)
	switch {
	case err != nil:
		ok = false
		obs = append(obs, alpnMQTTCert+": "+err.Error())
	default:
		pa, perr := c.Publish(ctx, client.Message{Topic: e.topic(3, "alpn"), Payload: []byte("443"), QoS: 1})
		c.Disconnect()
		got := pubOutcome(pa, perr)
		ok = ok && ack.Code == 0 && got == "PUBACK 0x00"
		obs = append(obs, fmt.Sprintf("%s: CONNACK 0x%02x, %s", alpnMQTTCert, ack.Code, got))
	}

	// MQTT over "mqtt" selects a custom authorizer: a client certificate alone gets no session.
	c, ack, err = e.dialALPN(ctx, d, e.name(3, "mqtt"), alpnMQTTAuth)
	switch {
	case err != nil:
		obs = append(obs, alpnMQTTAuth+": no session ("+shortErr(err)+")")
	case ack.Code != 0:
		obs = append(obs, fmt.Sprintf("%s: CONNACK 0x%02x", alpnMQTTAuth, ack.Code))
		c.Disconnect()
	default:
		ok = false
		obs = append(obs, alpnMQTTAuth+": CONNACK 0, a session without a custom authorizer")
		c.Disconnect()
	}

	// HTTPS publish with the certificate over x-amzn-http-ca, and an HTTP answer with no ALPN at all.
	status, err := e.httpsPublish(ctx, d, alpnHTTPCert, e.topic(3, "http"))
	ok = ok && err == nil && status == http.StatusOK
	obs = append(obs, fmt.Sprintf("%s: %s", alpnHTTPCert, httpOutcome(status, err)))
	status, err = e.httpsPublish(ctx, d, "", e.topic(3, "http"))
	ok = ok && err == nil && status != 0
	obs = append(obs, "no ALPN: "+httpOutcome(status, err))
	return verdict(ok, strings.Join(obs, "; "))
}

// dialALPN connects d over the target's port 443 offering one ALPN protocol.
func (e *env) dialALPN(ctx context.Context, d *fleet.Device, id, proto string) (*client.Conn, client.ConnAck, error) {
	tc := e.t.TLS(d.Cert)
	tc.NextProtos = []string{proto}
	ctx, cancel := context.WithTimeout(ctx, e.t.Wait)
	defer cancel()
	return client.Dial(ctx, client.Options{Version: client.V5, ClientID: id, Clean: true, Addr: e.t.ALPNAddr, TLS: tc})
}

// httpsPublish POSTs to /topics/<topic>?qos=1 on port 443 with d's certificate, offering proto as
// ALPN ("" for none), and returns the HTTP status. AWS: http.html
func (e *env) httpsPublish(ctx context.Context, d *fleet.Device, proto, topic string) (int, error) {
	tc := e.t.TLS(d.Cert)
	if proto != "" {
		tc.NextProtos = []string{proto}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: e.t.Wait}
	// The URL names the endpoint (SNI and certificate check); the connection goes to ALPNAddr.
	tr.DialContext = dialTo(e.t.ALPNAddr)
	u := "https://" + e.t.Endpoint + "/topics/" + url.PathEscape(topic) + "?qos=1"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(`{"port":443}`))
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func httpOutcome(status int, err error) string {
	if err != nil {
		return "error: " + shortErr(err)
	}
	return fmt.Sprintf("HTTP %d", status)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// dialTo returns a DialContext that connects to addr whatever the URL's host.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	d.Timeout = 10 * time.Second
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}
