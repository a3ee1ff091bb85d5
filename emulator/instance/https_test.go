package instance

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDeviceHTTPSListeners: the device HTTPS endpoint and the ALPN listener are off in a zero Config
// (embedders never take a fixed port), on when asked (port 0 allowed), reported by HealthInfo and the
// banner, and serve the device handler: a certificate nobody registered gets AWS's 403.
func TestDeviceHTTPSListeners(t *testing.T) {
	cases := []struct {
		name         string
		https, alpn  string
		wantHTTPS    bool
		wantALPN     bool
		bannerLabels []string
	}{
		{name: "zero config: both off"},
		{name: "off spelled out", https: "off", alpn: "off"},
		{name: "https only", https: "127.0.0.1:0", wantHTTPS: true, bannerLabels: []string{"HTTPS (mTLS)  https://127.0.0.1:"}},
		{name: "both", https: "127.0.0.1:0", alpn: "127.0.0.1:0", wantHTTPS: true, wantALPN: true,
			bannerLabels: []string{"HTTPS (mTLS)  https://127.0.0.1:", "ALPN (443)    127.0.0.1:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t.TempDir())
			c.HTTPSAddr, c.ALPNAddr = tc.https, tc.alpn
			inst, err := Start(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			h := inst.HealthInfo()
			if got := inst.HTTPSAddr() != "" && h.HTTPS == "https://"+inst.HTTPSAddr(); got != tc.wantHTTPS {
				t.Errorf("https: HTTPSAddr %q, health %q; want on = %v", inst.HTTPSAddr(), h.HTTPS, tc.wantHTTPS)
			}
			if got := inst.ALPNAddr() != "" && h.ALPN == inst.ALPNAddr(); got != tc.wantALPN {
				t.Errorf("alpn: ALPNAddr %q, health %q; want on = %v", inst.ALPNAddr(), h.ALPN, tc.wantALPN)
			}
			banner := inst.Banner()
			for _, l := range tc.bannerLabels {
				if !strings.Contains(banner, l) {
					t.Errorf("banner lacks %q:\n%s", l, banner)
				}
			}
			if !tc.wantHTTPS && strings.Contains(banner, "HTTPS (mTLS)") {
				t.Errorf("banner shows an HTTPS endpoint that is off:\n%s", banner)
			}
			for _, addr := range []string{inst.HTTPSAddr(), inst.ALPNAddr()} {
				if addr == "" {
					continue
				}
				status, body := unregisteredPublish(t, inst, addr)
				if status != http.StatusForbidden || !strings.Contains(body, `"message":"Forbidden"`) {
					t.Errorf("%s: unregistered certificate got %d %s, want 403 Forbidden", addr, status, body)
				}
			}
		})
	}
}

// unregisteredPublish publishes over HTTPS with a certificate the local CA issued but nobody registered.
func unregisteredPublish(t *testing.T, inst *Instance, addr string) (int, string) {
	t.Helper()
	kc, err := inst.CA.CreateKeysAndCertificate() // as CreateKeysAndCertificate makes them, never registered
	if err != nil {
		t.Fatal(err)
	}
	pair, err := kc.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: inst.CA.RootPool(), ServerName: "localhost", Certificates: []tls.Certificate{pair}}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Post("https://"+addr+"/topics/a?qos=1", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
