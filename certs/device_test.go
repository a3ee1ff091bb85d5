package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotlab/iotlab/certs"
)

// awsIssuer is the issuer DN of real AWS IoT-made certificates.
const awsIssuer = "OU=Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US"

var awsNotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// verifyChain checks that cert chains to the root through the device CA.
func verifyChain(t *testing.T, ca *certs.CA, cert *x509.Certificate) {
	t.Helper()
	intermediates := x509.NewCertPool()
	intermediates.AddCert(ca.DeviceCA())
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         ca.RootPool(),
		Intermediates: intermediates,
		CurrentTime:   cert.NotBefore.Add(time.Minute),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Errorf("certificate does not chain to the root: %v", err)
	}
}

func TestCreateKeysAndCertificate(t *testing.T) {
	ca := newCA(t, fixedOptions(1))
	kc, err := ca.CreateKeysAndCertificate()
	if err != nil {
		t.Fatal(err)
	}
	// The shape of the certificate, pinned in a golden file for review.
	golden(t, "create-keys-and-certificate.golden", describe(kc.Cert))

	if got, want := kc.Cert.Issuer.String(), awsIssuer; got != want {
		t.Errorf("issuer = %q, want %q", got, want)
	}
	if got, want := kc.Cert.Subject.String(), "CN=AWS IoT Certificate"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if got := kc.Cert.NotAfter; !got.Equal(awsNotAfter) {
		t.Errorf("NotAfter = %v, want %v", got, awsNotAfter)
	}
	if got, want := kc.Cert.NotBefore, fixedNow(); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}
	pub, ok := kc.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Errorf("public key = %T, want 2048-bit RSA", kc.Cert.PublicKey)
	}
	for _, tc := range []struct{ name, text, wantType string }{
		{"CertPEM", kc.CertPEM, "CERTIFICATE"},
		{"PrivateKeyPEM", kc.PrivateKeyPEM, "RSA PRIVATE KEY"},
		{"PublicKeyPEM", kc.PublicKeyPEM, "PUBLIC KEY"},
	} {
		block, rest := pem.Decode([]byte(tc.text))
		if block == nil || block.Type != tc.wantType || strings.TrimSpace(string(rest)) != "" {
			t.Errorf("%s is not one %q PEM block:\n%s", tc.name, tc.wantType, tc.text)
		}
	}
	key, err := certs.ParsePrivateKeyPEM(kc.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*rsa.PublicKey).Equal(kc.Cert.PublicKey) {
		t.Errorf("private key does not match the certificate")
	}
	if _, err := kc.TLSCertificate(); err != nil {
		t.Errorf("TLSCertificate: %v", err)
	}
	verifyChain(t, ca, kc.Cert)
}

func TestSignCSR(t *testing.T) {
	ca := newCA(t, fixedOptions(2))
	rsa2048 := testKey(t, "rsa2048.key")
	good := makeCSR(t, ecKey(t, elliptic.P256()), nil)

	tampered := func() string {
		block, _ := pem.Decode([]byte(good))
		der := block.Bytes
		der[len(der)-5] ^= 0xff // inside the signature
		return string(pem.EncodeToMemory(block))
	}()
	// Valid but over 4096 characters: a CSR with many SANs.
	long := makeCSR(t, ecKey(t, elliptic.P256()), &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "thing-1"},
		DNSNames: strings.Fields(strings.Repeat("a-rather-long-device-name.example.com ", 100)),
	})
	if len(long) <= certs.MaxCSRLength {
		t.Fatalf("long CSR is only %d characters", len(long))
	}

	tests := []struct {
		name    string
		csr     string
		wantErr error // nil: accepted
	}{
		{"RSA 2048", makeCSR(t, rsa2048, nil), nil},
		{"RSA 4096", makeCSR(t, testKey(t, "rsa4096.key"), nil), nil},
		{"ECDSA P-256", good, nil},
		{"ECDSA P-384", makeCSR(t, ecKey(t, elliptic.P384()), nil), nil},
		{"ECDSA P-521", makeCSR(t, ecKey(t, elliptic.P521()), nil), nil},
		{"RSA 2048 SHA-384", makeCSR(t, rsa2048, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "thing-1"}, SignatureAlgorithm: x509.SHA384WithRSA}), nil},
		{"legacy NEW CERTIFICATE REQUEST header", strings.ReplaceAll(good, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"), nil},
		{"explanatory text around the block", "Subject: thing-1\n" + good + "\n", nil},
		{"RSA 1024", makeCSR(t, testKey(t, "rsa1024.key"), nil), certs.ErrWeakKey},
		{"ECDSA P-224", makeCSR(t, ecKey(t, elliptic.P224()), nil), certs.ErrUnsupportedKey},
		{"Ed25519", makeCSR(t, ed25519Key(t), nil), certs.ErrUnsupportedKey},
		{"DSA", testdata(t, "dsa.csr"), certs.ErrUnsupportedKey},
		{"SHA-1 signature", testdata(t, "rsa2048-sha1.csr"), certs.ErrUnsupportedSignature},
		{"RSA-PSS signature", makeCSR(t, rsa2048, &x509.CertificateRequest{SignatureAlgorithm: x509.SHA256WithRSAPSS}), certs.ErrUnsupportedSignature},
		{"tampered signature", tampered, certs.ErrBadCSR},
		{"garbage", "hello, world", certs.ErrBadCSR},
		{"empty", "", certs.ErrBadCSR},
		{"base64 without PEM armour", strings.Join(strings.Split(good, "\n")[1:3], "\n"), certs.ErrBadCSR},
		{"two PEM blocks", good + good, certs.ErrBadCSR},
		{"certificate instead of CSR", testdata(t, "example-device.pem"), certs.ErrBadCSR},
		{"DER garbage inside PEM", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")})), certs.ErrBadCSR},
		{"over 4096 characters", long, certs.ErrBadCSR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, certPEM, err := ca.SignCSR(tt.csr)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if cert != nil || certPEM != "" {
					t.Errorf("got a certificate along with the error")
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("SignCSR: %v", err)
			}
			csr, err := certs.ParseCSRPEM(tt.csr)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cert.Subject.String(), csr.Subject.String(); got != want {
				t.Errorf("subject = %q, want the CSR's %q", got, want)
			}
			if got, want := cert.Issuer.String(), awsIssuer; got != want {
				t.Errorf("issuer = %q, want %q", got, want)
			}
			if !cert.NotAfter.Equal(awsNotAfter) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, awsNotAfter)
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
				t.Errorf("certificate key is not the CSR's")
			}
			if len(cert.DNSNames) != 0 || len(cert.ExtKeyUsage) != 0 {
				t.Errorf("requested extensions leaked into the certificate")
			}
			parsed, err := certs.ParseCertificatePEM(certPEM)
			if err != nil || !parsed.Equal(cert) {
				t.Errorf("certPEM does not hold the returned certificate (err %v)", err)
			}
			verifyChain(t, ca, cert)
		})
	}
}

func ed25519Key(t *testing.T) crypto.Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSignCSRKeepsTheSubject(t *testing.T) {
	ca := newCA(t, certs.Options{})
	key := ecKey(t, elliptic.P256())
	tests := []struct {
		name    string
		subject pkix.Name
		want    string
	}{
		// As on a real AWS certificate made from an Infineon OPTIGA CSR.
		{"several attributes", pkix.Name{CommonName: "AWS IoT Certificate", Organization: []string{"Infineon Technologies AG"}, Country: []string{"DE"}, Province: []string{"Germany"}},
			"CN=AWS IoT Certificate,O=Infineon Technologies AG,ST=Germany,C=DE"},
		{"thing name", pkix.Name{CommonName: "thing-1"}, "CN=thing-1"},
		{"empty subject", pkix.Name{}, "CN=AWS IoT Certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, _, err := ca.SignCSR(makeCSR(t, key, &x509.CertificateRequest{Subject: tt.subject}))
			if err != nil {
				t.Fatal(err)
			}
			if got := cert.Subject.String(); got != tt.want {
				t.Errorf("subject = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSignCSRSameCSRDistinctCertificates: "Reusing the same CSR results in a
// distinct certificate" (AWS: API_CreateCertificateFromCsr), also under
// concurrent calls sharing one Rand.
func TestSignCSRSameCSRDistinctCertificates(t *testing.T) {
	ca := newCA(t, fixedOptions(5)) // a math/rand source, not safe for concurrent use by itself
	csr := makeCSR(t, ecKey(t, elliptic.P256()), nil)
	const n = 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		serials = map[string]bool{}
		ids     = map[string]bool{}
	)
	for range n {
		wg.Go(func() {
			cert, _, err := ca.SignCSR(csr)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			serials[fmt.Sprintf("%x", cert.SerialNumber)] = true
			ids[certs.CertificateID(cert.Raw)] = true
		})
	}
	wg.Wait()
	if len(serials) != n || len(ids) != n {
		t.Errorf("got %d distinct serials and %d distinct ids from %d calls, want %d", len(serials), len(ids), n, n)
	}
}

// TestCreatedCertificatesAreAWSMade: DeviceCA tells our certificates apart.
func TestCreatedCertificatesAreAWSMade(t *testing.T) {
	ca := newCA(t, certs.Options{})
	fromCSR, _, err := ca.SignCSR(makeCSR(t, ecKey(t, elliptic.P256()), nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := fromCSR.CheckSignatureFrom(ca.DeviceCA()); err != nil {
		t.Errorf("SignCSR certificate not signed by DeviceCA: %v", err)
	}
	key := ecKey(t, elliptic.P256())
	own, err := certs.NewSelfSigned("mine", key, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if own.CheckSignatureFrom(ca.DeviceCA()) == nil {
		t.Errorf("a self-signed certificate passes as AWS-made")
	}
	if _, ok := own.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key = %T", own.PublicKey)
	}
}
