package certs_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/iotlab/iotlab/certs"
)

func TestNewCAAndIssueLeaf(t *testing.T) {
	caCert, caKey, err := certs.NewCA("Acme Device CA", fixedOptions(1))
	if err != nil {
		t.Fatal(err)
	}
	if !caCert.IsCA || caCert.Subject.CommonName != "Acme Device CA" {
		t.Errorf("NewCA made IsCA=%v CN=%q, want a CA named Acme Device CA", caCert.IsCA, caCert.Subject.CommonName)
	}
	if got, want := caCert.NotAfter, awsNotAfter; !got.Equal(want) {
		t.Errorf("CA NotAfter = %v, want %v (it must outlive AWS-style certificates)", got, want)
	}
	key := testKey(t, "rsa2048.key")
	leaf, err := certs.IssueLeaf(caCert, caKey, "thing-1", key.Public(), fixedOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "issue-leaf.golden", describe(leaf))
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: fixedNow()}); err != nil {
		t.Errorf("leaf does not verify against its CA: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: fixedNow().Add(366 * 24 * time.Hour)}); err == nil {
		t.Errorf("leaf still valid after a year")
	}
	// Weak keys are allowed here: tests need certificates AWS would refuse.
	weak, err := certs.IssueLeaf(caCert, caKey, "weak", testKey(t, "rsa1024.key").Public(), certs.Options{})
	if err != nil {
		t.Fatalf("IssueLeaf with RSA 1024: %v", err)
	}
	if err := certs.CheckKey(weak.PublicKey); !errors.Is(err, certs.ErrWeakKey) {
		t.Errorf("CheckKey(weak leaf) = %v, want ErrWeakKey", err)
	}
	if _, err := certs.IssueLeaf(nil, caKey, "x", key.Public(), certs.Options{}); err == nil {
		t.Errorf("IssueLeaf without a CA certificate succeeded")
	}
	if _, err := certs.IssueLeaf(caCert, key, "x", key.Public(), certs.Options{}); err == nil {
		t.Errorf("IssueLeaf with a key that is not the CA's succeeded")
	}
}

func TestNewSelfSigned(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	cert, err := certs.NewSelfSigned("my-device", key, fixedOptions(1))
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "my-device" || cert.Issuer.CommonName != "my-device" {
		t.Errorf("subject %q issuer %q, want both my-device", cert.Subject, cert.Issuer)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not signed by its own key: %v", err)
	}
	if got, want := cert.NotBefore, fixedNow(); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}
	if _, err := certs.NewSelfSigned("x", nil, certs.Options{}); !errors.Is(err, certs.ErrBadKey) {
		t.Errorf("NewSelfSigned(nil key) err = %v, want ErrBadKey", err)
	}
}

func TestVerifyVerificationCert(t *testing.T) {
	const code = "6b7b2b0a5b4f4a4c9e3c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708"
	caCert, caKey, err := certs.NewCA("Acme Device CA", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherCA, otherKey, err := certs.NewCA("Someone Else CA", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leafKey := ecKey(t, elliptic.P256())
	verification, err := certs.IssueLeaf(caCert, caKey, code, leafKey.Public(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wrongCN, err := certs.IssueLeaf(caCert, caKey, "not-the-code", leafKey.Public(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := certs.IssueLeaf(otherCA, otherKey, code, leafKey.Public(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	notCA, err := certs.NewSelfSigned("not a CA", leafKey, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromNotCA, err := certs.IssueLeaf(notCA, leafKey, code, leafKey.Public(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		ca, verified *x509.Certificate
		code         string
		wantErr      error
	}{
		{"good", caCert, verification, code, nil},
		{"wrong common name", caCert, wrongCN, code, certs.ErrRegistrationCode},
		{"code in another case", caCert, verification, "6B7B2B0A5B4F4A4C9E3C1D2E3F405162738495A6B7C8D9E0F1A2B3C4D5E6F708", certs.ErrRegistrationCode},
		{"empty code", caCert, verification, "", certs.ErrRegistrationCode},
		{"signed by another CA", caCert, byOther, code, certs.ErrBadCertificate},
		{"CA certificate is not a CA", notCA, fromNotCA, code, certs.ErrBadCertificate},
		{"missing verification certificate", caCert, nil, code, certs.ErrBadCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := certs.VerifyVerificationCert(tt.ca, tt.verified, tt.code)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("VerifyVerificationCert = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
