package certs_test

import (
	"crypto/elliptic"
	"errors"
	"testing"

	"github.com/iotlab/iotlab/certs"
)

// FuzzParseCSRPEM: no input makes ParseCSRPEM or SignCSR panic, and every
// failure is one of the package's typed errors.
func FuzzParseCSRPEM(f *testing.F) {
	f.Add(makeCSR(f, ecKey(f, elliptic.P256()), nil))
	f.Add(makeCSR(f, testKey(f, "rsa1024.key"), nil))
	f.Add(testdata(f, "dsa.csr"))
	f.Add(testdata(f, "rsa2048-sha1.csr"))
	f.Add(testdata(f, "example-device.pem"))
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n")
	f.Add("")
	ca, err := certs.LoadOrCreate(f.TempDir(), certs.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		csr, err := certs.ParseCSRPEM(text)
		if (csr == nil) == (err == nil) {
			t.Fatalf("ParseCSRPEM returned csr %v and err %v", csr != nil, err)
		}
		if err != nil && !errors.Is(err, certs.ErrBadCSR) {
			t.Fatalf("ParseCSRPEM err = %v, want ErrBadCSR", err)
		}
		cert, certPEM, err := ca.SignCSR(text)
		if err != nil {
			for _, want := range []error{certs.ErrBadCSR, certs.ErrWeakKey, certs.ErrUnsupportedKey, certs.ErrUnsupportedSignature} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("SignCSR err = %v, not a typed error", err)
		}
		if cert == nil || certPEM == "" || csr == nil {
			t.Fatalf("SignCSR succeeded without a certificate, or on text ParseCSRPEM refused")
		}
	})
}
