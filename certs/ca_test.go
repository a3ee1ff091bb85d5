package certs_test

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/iotlab/iotlab/certs"
)

var caFiles = []string{"root-ca.pem", "root-ca.key", "device-ca.pem", "device-ca.key", "server.pem", "server.key"}

func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range caFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

func TestLoadOrCreateTwiceKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	first, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		t.Fatalf("first LoadOrCreate: %v", err)
	}
	before := readFiles(t, dir)
	second, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		t.Fatalf("second LoadOrCreate: %v", err)
	}
	if !bytes.Equal(first.RootPEM(), second.RootPEM()) {
		t.Errorf("root changed between starts")
	}
	if !bytes.Equal(first.RootPEM(), before["root-ca.pem"]) {
		t.Errorf("RootPEM() differs from root-ca.pem on disk")
	}
	if got, want := second.RootPath(), filepath.Join(dir, "root-ca.pem"); got != want {
		t.Errorf("RootPath() = %q, want %q", got, want)
	}
	for name, want := range before {
		if got := readFiles(t, dir)[name]; !bytes.Equal(got, want) {
			t.Errorf("%s rewritten by the second start", name)
		}
	}
	if !bytes.Equal(first.ServerCertificate().Certificate[0], second.ServerCertificate().Certificate[0]) {
		t.Errorf("server certificate reissued although nothing changed")
	}
	for _, name := range caFiles {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			want = 0o600
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
}

func TestLoadOrCreateServerReissue(t *testing.T) {
	tests := []struct {
		name        string
		hosts       []string
		later       time.Duration // clock of the second start, after the first
		wantReissue bool
		wantHosts   []string // DNS names and IPs of the second start's certificate
	}{
		{"same hosts", []string{"iot.local"}, 0, false, []string{"127.0.0.1", "::1", "iot.local", "localhost"}},
		{"same hosts in another spelling", []string{"IOT.local.", " iot.local"}, 0, false, []string{"127.0.0.1", "::1", "iot.local", "localhost"}},
		{"host added", []string{"iot.local", "192.168.1.10"}, 0, true, []string{"127.0.0.1", "192.168.1.10", "::1", "iot.local", "localhost"}},
		{"host removed", nil, 0, true, []string{"127.0.0.1", "::1", "localhost"}},
		{"default hosts listed again", []string{"iot.local", "localhost", "0:0:0:0:0:0:0:1"}, 0, false, []string{"127.0.0.1", "::1", "iot.local", "localhost"}},
		{"expires within 30 days", []string{"iot.local"}, 2*365*24*time.Hour + 70*24*time.Hour, true, []string{"127.0.0.1", "::1", "iot.local", "localhost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := certs.LoadOrCreate(dir, certs.Options{Now: fixedNow, Hosts: []string{"iot.local"}})
			if err != nil {
				t.Fatal(err)
			}
			now := func() time.Time { return fixedNow().Add(tt.later) }
			second, err := certs.LoadOrCreate(dir, certs.Options{Now: now, Hosts: tt.hosts})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.RootPEM(), second.RootPEM()) {
				t.Errorf("root changed; only the server certificate may be reissued")
			}
			if !first.DeviceCA().Equal(second.DeviceCA()) {
				t.Errorf("device CA changed; only the server certificate may be reissued")
			}
			leaf := second.ServerCertificate().Leaf
			reissued := !bytes.Equal(first.ServerCertificate().Leaf.Raw, leaf.Raw)
			if reissued != tt.wantReissue {
				t.Errorf("reissued = %v, want %v", reissued, tt.wantReissue)
			}
			var got []string
			got = append(got, leaf.DNSNames...)
			for _, ip := range leaf.IPAddresses {
				got = append(got, ip.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantHosts) {
				t.Errorf("SANs = %v, want %v", got, tt.wantHosts)
			}
			onDisk, err := certs.ParseCertificatePEM(string(readFiles(t, dir)["server.pem"]))
			if err != nil {
				t.Fatal(err)
			}
			if !onDisk.Equal(leaf) {
				t.Errorf("server.pem on disk is not the certificate in use")
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: second.RootPool(), DNSName: "localhost", CurrentTime: now()}); err != nil {
				t.Errorf("server certificate does not verify against the root: %v", err)
			}
		})
	}
}

func TestLoadOrCreateServerNamedAfterFirstHost(t *testing.T) {
	ca := newCA(t, certs.Options{Hosts: []string{"mqtt.example.test", "10.0.0.1"}})
	if got, want := ca.ServerCertificate().Leaf.Subject.CommonName, "mqtt.example.test"; got != want {
		t.Errorf("server CN = %q, want %q", got, want)
	}
}

func TestLoadOrCreateBadHost(t *testing.T) {
	for _, host := range []string{"iot.local:8883", "https://iot.local", "bad host", "-x.local", "a..b"} {
		t.Run(host, func(t *testing.T) {
			_, err := certs.LoadOrCreate(t.TempDir(), certs.Options{Hosts: []string{host}})
			if !errors.Is(err, certs.ErrBadHost) {
				t.Errorf("err = %v, want ErrBadHost", err)
			}
		})
	}
}

func TestLoadOrCreateRefusesCorruptFiles(t *testing.T) {
	garbage := []byte("not a PEM file\n")
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string) // applied after a first start
		wantFile string                         // named in the error
	}{
		{"root certificate garbage", func(t *testing.T, dir string) { write(t, dir, "root-ca.pem", garbage) }, "root-ca.pem"},
		{"root certificate truncated", func(t *testing.T, dir string) {
			b := read(t, dir, "root-ca.pem")
			write(t, dir, "root-ca.pem", b[:len(b)/2])
		}, "root-ca.pem"},
		{"root key garbage", func(t *testing.T, dir string) { write(t, dir, "root-ca.key", garbage) }, "root-ca.key"},
		{"root key of another CA", func(t *testing.T, dir string) { write(t, dir, "root-ca.key", read(t, dir, "device-ca.key")) }, "root-ca.key"},
		{"root key missing", func(t *testing.T, dir string) { remove(t, dir, "root-ca.key") }, "root-ca.pem"},
		{"root missing but device CA present", func(t *testing.T, dir string) {
			remove(t, dir, "root-ca.pem")
			remove(t, dir, "root-ca.key")
		}, "device-ca.pem"},
		{"root is not a CA", func(t *testing.T, dir string) {
			write(t, dir, "root-ca.pem", read(t, dir, "server.pem"))
			write(t, dir, "root-ca.key", read(t, dir, "server.key"))
		}, "root-ca.pem"},
		{"device CA certificate missing", func(t *testing.T, dir string) { remove(t, dir, "device-ca.pem") }, "device-ca.key"},
		{"device CA from another root", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, err := certs.LoadOrCreate(other, certs.Options{}); err != nil {
				t.Fatal(err)
			}
			write(t, dir, "device-ca.pem", read(t, other, "device-ca.pem"))
			write(t, dir, "device-ca.key", read(t, other, "device-ca.key"))
		}, "device-ca.pem"},
		{"server certificate garbage", func(t *testing.T, dir string) { write(t, dir, "server.pem", garbage) }, "server.pem"},
		{"server key of another certificate", func(t *testing.T, dir string) { write(t, dir, "server.key", read(t, dir, "root-ca.key")) }, "server.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := certs.LoadOrCreate(dir, certs.Options{}); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			before := map[string][]byte{}
			for _, name := range caFiles {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					before[name] = b
				}
			}
			_, err := certs.LoadOrCreate(dir, certs.Options{})
			if !errors.Is(err, certs.ErrCorruptFile) {
				t.Fatalf("err = %v, want ErrCorruptFile", err)
			}
			if want := filepath.Join(dir, tt.wantFile); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			for _, name := range caFiles {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if want, existed := before[name]; existed != (err == nil) || !bytes.Equal(got, want) {
					t.Errorf("%s was changed; a corrupt CA directory must be left alone", name)
				}
			}
		})
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TestLoadOrCreateUsesExistingRoot: a learner may bring a root of their own;
// the device CA and server certificate are then made under it.
func TestLoadOrCreateUsesExistingRoot(t *testing.T) {
	dir := t.TempDir()
	root, key, err := certs.NewCA("my own root", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certs.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "root-ca.pem", []byte(certs.EncodeCertificatePEM(root.Raw)))
	write(t, dir, "root-ca.key", []byte(keyPEM))
	ca, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.DeviceCA().CheckSignatureFrom(root); err != nil {
		t.Errorf("device CA not issued by the existing root: %v", err)
	}
}

// handshake is what the server saw of one TLS connection.
type handshake struct {
	peer []*x509.Certificate
	err  error
}

func TestServerTLSHandshake(t *testing.T) {
	ca := newCA(t, certs.Options{Hosts: []string{"iot.local"}})
	awsMade, err := ca.CreateKeysAndCertificate()
	if err != nil {
		t.Fatal(err)
	}
	awsPair, err := awsMade.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ownKey := ecKey(t, elliptic.P256())
	own, err := certs.NewSelfSigned("my-device", ownKey, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ownPair := tls.Certificate{Certificate: [][]byte{own.Raw}, PrivateKey: ownKey}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.ServerTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan handshake)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			tc := conn.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			err = tc.Handshake()
			seen <- handshake{tc.ConnectionState().PeerCertificates, err}
			tc.Close()
		}
	}()

	tests := []struct {
		name       string
		client     *tls.Config
		wantPeer   *x509.Certificate // nil: the server must refuse the handshake
		wantClient bool              // the client's own handshake succeeds
	}{
		{"AWS-made certificate", &tls.Config{RootCAs: ca.RootPool(), Certificates: []tls.Certificate{awsPair}}, awsMade.Cert, true},
		{"host from Options.Hosts", &tls.Config{RootCAs: ca.RootPool(), ServerName: "iot.local", Certificates: []tls.Certificate{awsPair}}, awsMade.Cert, true},
		// AWS-style: TLS accepts a certificate no CA vouches for; the broker decides.
		{"self-signed certificate", &tls.Config{RootCAs: ca.RootPool(), Certificates: []tls.Certificate{ownPair}}, own, true},
		{"TLS 1.3", &tls.Config{RootCAs: ca.RootPool(), MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{ownPair}}, own, true},
		{"TLS 1.2", &tls.Config{RootCAs: ca.RootPool(), MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ownPair}}, own, true},
		// With TLS 1.3 the client learns of the refusal only when it reads.
		{"no client certificate", &tls.Config{RootCAs: ca.RootPool()}, nil, true},
		{"TLS 1.1", &tls.Config{RootCAs: ca.RootPool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, Certificates: []tls.Certificate{ownPair}}, nil, false},
		{"client not trusting the root", &tls.Config{RootCAs: x509.NewCertPool(), Certificates: []tls.Certificate{ownPair}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			cfg := tt.client.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = "127.0.0.1"
			}
			clientErr := tls.Client(conn, cfg).Handshake()
			if gotClient := clientErr == nil; gotClient != tt.wantClient {
				t.Errorf("client handshake error = %v, want success %v", clientErr, tt.wantClient)
			}
			if clientErr != nil {
				conn.Close() // lets the server's handshake end
			}
			got := <-seen
			if tt.wantPeer == nil {
				if got.err == nil {
					t.Errorf("server accepted the handshake, want it refused")
				}
				return
			}
			if got.err != nil {
				t.Fatalf("server handshake: %v", got.err)
			}
			if len(got.peer) == 0 {
				t.Fatalf("server saw no peer certificate")
			}
			if gotID, wantID := certs.CertificateID(got.peer[0].Raw), certs.CertificateID(tt.wantPeer.Raw); gotID != wantID {
				t.Errorf("peer certificate id = %s, want %s", gotID, wantID)
			}
		})
	}
}

func TestServerTLSConfigIsFresh(t *testing.T) {
	ca := newCA(t, certs.Options{})
	a := ca.ServerTLSConfig()
	a.NextProtos = []string{"x-amzn-mqtt-ca"}
	if b := ca.ServerTLSConfig(); len(b.NextProtos) != 0 {
		t.Errorf("ServerTLSConfig shares state between calls: NextProtos = %v", b.NextProtos)
	}
	if got, want := a.MinVersion, uint16(tls.VersionTLS12); got != want {
		t.Errorf("MinVersion = %x, want %x", got, want)
	}
	if got, want := a.ClientAuth, tls.RequireAnyClientCert; got != want {
		t.Errorf("ClientAuth = %v, want %v", got, want)
	}
}

// TestDeterministicUnderSetGlobalRandom: with a fixed clock, a seeded Rand and
// cryptotest.SetGlobalRandom (for keys), two fresh CAs are byte-identical.
func TestDeterministicUnderSetGlobalRandom(t *testing.T) {
	csr := makeCSR(t, testKey(t, "rsa2048.key"), nil)
	build := func() (map[string][]byte, certs.KeyAndCert, string) {
		cryptotest.SetGlobalRandom(t, 7)
		dir := t.TempDir()
		ca, err := certs.LoadOrCreate(dir, fixedOptions(1))
		if err != nil {
			t.Fatal(err)
		}
		kc, err := ca.CreateKeysAndCertificate()
		if err != nil {
			t.Fatal(err)
		}
		_, fromCSR, err := ca.SignCSR(csr)
		if err != nil {
			t.Fatal(err)
		}
		return readFiles(t, dir), kc, fromCSR
	}
	files1, kc1, csr1 := build()
	files2, kc2, csr2 := build()
	for _, name := range caFiles {
		if !bytes.Equal(files1[name], files2[name]) {
			t.Errorf("%s differs between identical runs", name)
		}
	}
	if kc1.CertPEM != kc2.CertPEM || kc1.PrivateKeyPEM != kc2.PrivateKeyPEM {
		t.Errorf("CreateKeysAndCertificate differs between identical runs")
	}
	if csr1 != csr2 {
		t.Errorf("SignCSR differs between identical runs")
	}
}

// TestDeterministicFromAGivenKey: without SetGlobalRandom, certificates made
// from an existing key depend only on the clock and Rand.
func TestDeterministicFromAGivenKey(t *testing.T) {
	tests := []struct {
		name string
		key  func(t *testing.T) crypto.Signer
	}{
		{"ECDSA key", func(t *testing.T) crypto.Signer { return ecKey(t, elliptic.P256()) }},
		{"RSA key", func(t *testing.T) crypto.Signer { return testKey(t, "rsa2048.key") }},
	}
	caCert, caKey, err := certs.NewCA("Test CA", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key(t)
			a, err := certs.NewSelfSigned("device", key, fixedOptions(3))
			if err != nil {
				t.Fatal(err)
			}
			b, err := certs.NewSelfSigned("device", key, fixedOptions(3))
			if err != nil {
				t.Fatal(err)
			}
			if !a.Equal(b) {
				t.Errorf("NewSelfSigned differs between identical calls")
			}
			c, err := certs.IssueLeaf(caCert, caKey, "device", key.Public(), fixedOptions(3))
			if err != nil {
				t.Fatal(err)
			}
			d, err := certs.IssueLeaf(caCert, caKey, "device", key.Public(), fixedOptions(3))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Equal(d) {
				t.Errorf("IssueLeaf differs between identical calls")
			}
			e, err := certs.NewSelfSigned("device", key, fixedOptions(4))
			if err != nil {
				t.Fatal(err)
			}
			if a.SerialNumber.Cmp(e.SerialNumber) == 0 {
				t.Errorf("another seed gave the same serial number")
			}
		})
	}
}

// TestCAShape pins, for review, what learners see with `openssl x509 -text`
// on the three certificates of a fresh CA directory.
func TestCAShape(t *testing.T) {
	opt := fixedOptions(9)
	opt.Hosts = []string{"iot.local", "192.168.1.10"}
	ca := newCA(t, opt)
	golden(t, "root-ca.golden", describe(ca.Root()))
	golden(t, "device-ca.golden", describe(ca.DeviceCA()))
	golden(t, "server.golden", describe(ca.ServerCertificate().Leaf))
}
