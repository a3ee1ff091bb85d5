package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotlab/iotlab/certs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixedNow is the clock of tests that compare bytes or golden text.
func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// seeded returns a deterministic reader for Options.Rand.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mathrand.NewChaCha8(s)
}

// fixedOptions: fixed clock, seeded serial numbers.
func fixedOptions(seed byte) certs.Options {
	return certs.Options{Now: fixedNow, Rand: seeded(seed)}
}

func newCA(t *testing.T, opt certs.Options) *certs.CA {
	t.Helper()
	ca, err := certs.LoadOrCreate(t.TempDir(), opt)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return ca
}

// testKey reads a fixed key from testdata, so tests never generate RSA keys.
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.ParsePrivateKeyPEM(string(b))
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM(%s): %v", name, err)
	}
	return key
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ecKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// makeCSR returns a PEM CSR signed by key. A nil reader makes ECDSA signatures
// deterministic (RFC 6979), as in the package itself; RSA-PSS needs a reader.
func makeCSR(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) string {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "thing-1"}}
	}
	var r io.Reader
	switch tmpl.SignatureAlgorithm {
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		r = rand.Reader
	}
	der, err := x509.CreateCertificateRequest(r, tmpl, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// describe prints the parts of a certificate that do not depend on its key,
// for golden files: what a learner sees with `openssl x509 -text`.
func describe(c *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "serial: %x (%d bytes)\n", c.SerialNumber, len(c.SerialNumber.Bytes()))
	fmt.Fprintf(&b, "signature: %v\n", c.SignatureAlgorithm)
	fmt.Fprintf(&b, "issuer: %v\n", c.Issuer)
	fmt.Fprintf(&b, "subject: %v\n", c.Subject)
	fmt.Fprintf(&b, "not before: %v\n", c.NotBefore.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "not after: %v\n", c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "public key: %v\n", c.PublicKeyAlgorithm)
	fmt.Fprintf(&b, "is CA: %v\n", c.IsCA)
	if c.IsCA {
		pathLen := "unlimited"
		if c.MaxPathLen > 0 || c.MaxPathLenZero {
			pathLen = fmt.Sprint(c.MaxPathLen)
		}
		fmt.Fprintf(&b, "path length: %s\n", pathLen)
	}
	fmt.Fprintf(&b, "key usage: %s\n", keyUsage(c.KeyUsage))
	fmt.Fprintf(&b, "ext key usage: %v\n", c.ExtKeyUsage)
	fmt.Fprintf(&b, "DNS names: %v\n", c.DNSNames)
	fmt.Fprintf(&b, "IP addresses: %v\n", c.IPAddresses)
	for _, e := range c.Extensions {
		fmt.Fprintf(&b, "extension: %v critical=%v\n", e.Id, e.Critical)
	}
	return b.String()
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func keyUsage(u x509.KeyUsage) string {
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	var out []string
	for i, name := range names {
		if u&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return strings.Join(out, ", ")
}
