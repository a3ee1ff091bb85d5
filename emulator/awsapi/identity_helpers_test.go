package awsapi

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
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotlab/iotlab/certs"
)

// Keys are slow to make (RSA especially); each kind is made once per test binary.
var (
	idKeysOnce sync.Once
	idKeys     map[string]crypto.Signer
)

// idKey returns a test key: "rsa2048", "rsa1024", "p256", "p384", "p224" or "ed25519".
func idKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	idKeysOnce.Do(func() {
		idKeys = map[string]crypto.Signer{}
		for _, bits := range []int{1024, 2048} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			idKeys[map[int]string{1024: "rsa1024", 2048: "rsa2048"}[bits]] = k
		}
		for name, c := range map[string]elliptic.Curve{"p224": elliptic.P224(), "p256": elliptic.P256(), "p384": elliptic.P384()} {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			idKeys[name] = k
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		idKeys["ed25519"] = ed
	})
	k := idKeys[kind]
	if k == nil {
		t.Fatalf("no test key %q", kind)
	}
	return k
}

// csrPEM makes a PEM CSR for key with subject CN=cn.
func csrPEM(t testing.TB, key crypto.Signer, cn string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// selfSignedPEM makes a device's own certificate, as a learner uploads with RegisterCertificateWithoutCA.
func selfSignedPEM(t testing.TB, key crypto.Signer, cn string) string {
	t.Helper()
	c, err := certs.NewSelfSigned(cn, key, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return certs.EncodeCertificatePEM(c.Raw)
}

// thirdPartyCA is a CA of the learner's own, with what RegisterCACertificate needs.
type thirdPartyCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  string
}

func newThirdPartyCA(t testing.TB, cn string) *thirdPartyCA {
	t.Helper()
	c, k, err := certs.NewCA(cn, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &thirdPartyCA{cert: c, key: k, pem: certs.EncodeCertificatePEM(c.Raw)}
}

// issue signs a device certificate for pub with CN=cn.
func (ca *thirdPartyCA) issue(t testing.TB, cn string, pub crypto.PublicKey) string {
	t.Helper()
	c, err := certs.IssueLeaf(ca.cert, ca.key, cn, pub, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return certs.EncodeCertificatePEM(c.Raw)
}

// verification makes the proof-of-possession certificate for a registration code.
func (ca *thirdPartyCA) verification(t testing.TB, code string) string {
	t.Helper()
	return ca.issue(t, code, idKey(t, "p256").Public())
}

// idCert creates an AWS-issued certificate from a CSR (fast: no RSA key generation) and returns its id
// and ARN.
func idCert(t testing.TB, c *iot.Client, active bool) (id, arn string) {
	t.Helper()
	out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(csrPEM(t, idKey(t, "p256"), "device")),
		SetAsActive:               active,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn)
}

// idPolicy creates a policy from a document.
func idPolicy(t testing.TB, c *iot.Client, name, doc string) {
	t.Helper()
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
}

// idThing creates a thing.
func idThing(t testing.TB, c *iot.Client, name string) {
	t.Helper()
	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// allowAll is a policy document allowing every IoT action on everything.
const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

// mustOK fails the test on err.
func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
