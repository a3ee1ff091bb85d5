package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/iotlab/iotlab/certs"
)

// The certificate id AWS IoT shows is the SHA-256 of the certificate's DER
// bytes, the same as `openssl x509 -outform DER | sha256sum`.
func ExampleCertificateID() {
	pemText, err := os.ReadFile("testdata/example-device.pem")
	if err != nil {
		log.Fatal(err)
	}
	cert, err := certs.ParseCertificatePEM(string(pemText))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(certs.CertificateID(cert.Raw))
	// Output: b64ba65761d1bb7894b85d78c7509be5d0add1f05413a6d17b59dd3a72456371
}

// CreateCertificateFromCsr: the device keeps its private key and sends only a
// certificate signing request.
func ExampleCA_SignCSR() {
	dir, err := os.MkdirTemp("", "iotlab-ca")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ca, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		log.Fatal(err)
	}

	csrFor := func(curve elliptic.Curve) string {
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "thing-1"}}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			log.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}

	cert, certPEM, err := ca.SignCSR(csrFor(elliptic.P256()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", cert.Subject)
	fmt.Println("issuer:", cert.Issuer)
	fmt.Println("expires:", cert.NotAfter.Format(time.RFC3339))
	fmt.Println("id:", len(certs.CertificateID(cert.Raw)), "hex digits")
	fmt.Println(strings.SplitN(certPEM, "\n", 2)[0])

	_, _, err = ca.SignCSR(csrFor(elliptic.P224()))
	fmt.Println("P-224 refused:", errors.Is(err, certs.ErrUnsupportedKey))
	// Output:
	// subject: CN=thing-1
	// issuer: OU=Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US
	// expires: 2049-12-31T23:59:59Z
	// id: 64 hex digits
	// -----BEGIN CERTIFICATE-----
	// P-224 refused: true
}

func ExampleEncodeCertificatePEM() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := certs.NewSelfSigned("my-device", key, certs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	text := certs.EncodeCertificatePEM(cert.Raw)
	back, err := certs.ParseCertificatePEM(text)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.SplitN(text, "\n", 2)[0])
	fmt.Println("same certificate:", back.Equal(cert))
	fmt.Println("same id:", certs.CertificateID(back.Raw) == certs.CertificateID(cert.Raw))
	// Output:
	// -----BEGIN CERTIFICATE-----
	// same certificate: true
	// same id: true
}

// The CA directory after the first start. Clients trust root-ca.pem in place
// of AmazonRootCA1.pem.
func ExampleLoadOrCreate() {
	dir, err := os.MkdirTemp("", "iotlab-ca")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ca, err := certs.LoadOrCreate(dir, certs.Options{Hosts: []string{"iot.local"}})
	if err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(info.Mode().Perm(), e.Name())
	}
	fmt.Println(ca.ServerCertificate().Leaf.DNSNames)
	// Output:
	// -rw------- device-ca.key
	// -rw-r--r-- device-ca.pem
	// -rw------- root-ca.key
	// -rw-r--r-- root-ca.pem
	// -rw------- server.key
	// -rw-r--r-- server.pem
	// [iot.local localhost]
}

func ExampleCheckKey() {
	key, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	err = certs.CheckKey(key.Public())
	fmt.Println(errors.Is(err, certs.ErrUnsupportedKey))
	fmt.Println(err)
	// Output:
	// true
	// certs: unsupported key: public key is ECDSA on curve P-224; AWS IoT accepts RSA keys of 2048 bits or more and ECDSA keys on P-256, P-384 or P-521
}
