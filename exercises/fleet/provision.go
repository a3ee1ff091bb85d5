// Package fleet is the simulated smart home: room temperature sensors, the hall door with its badge
// reader, and the door's lock, each its own MQTT client with its own certificate and client id = thing
// name. It also holds the provisioning code every exercise uses — the book's way, through the control
// plane — so that `iotlab devices`, the chapters and the switch to AWS share one implementation.
package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/target"
)

// Device is a device's identity: its thing and its certificate with the private key.
type Device struct {
	Thing   string
	CertID  string
	CertARN string
	CertPEM string
	KeyPEM  string
	// KeyType is "RSA 2048", "ECDSA P-256", …
	KeyType string
	Cert    tls.Certificate
}

// Spec says how to provision a device.
type Spec struct {
	Thing string
	Type  string
	Attrs map[string]string
	// OwnKey: the device makes its own EC P-256 key and sends a CSR (CreateCertificateFromCsr);
	// otherwise AWS makes the key (CreateKeysAndCertificate).
	OwnKey bool
	// Policy is attached to the certificate when set.
	Policy string
	// NoThing: a certificate only.
	NoThing bool
}

// Provision creates the thing, a certificate, attaches the policy and the thing to the certificate,
// recording each resource in the target's manifest under run.
// AWS: device-certs-create, create-device-cert, attach-to-cert
func Provision(ctx context.Context, t *target.Target, run string, s Spec) (*Device, error) {
	c := t.IoT
	rec := func(r target.Resource) {
		r.Account, r.Region, r.Run = t.Account, t.Region, run
		_ = t.Manifest.Add(r)
	}
	if !s.NoThing {
		in := &iot.CreateThingInput{ThingName: aws.String(s.Thing)}
		if s.Type != "" {
			in.ThingTypeName = aws.String(s.Type)
		}
		if len(s.Attrs) > 0 {
			in.AttributePayload = &types.AttributePayload{Attributes: s.Attrs}
		}
		out, err := c.CreateThing(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("fleet: create thing %s: %w", s.Thing, err)
		}
		rec(target.Resource{Kind: target.KindThing, Name: s.Thing, ARN: aws.ToString(out.ThingArn)})
	}
	d := &Device{Thing: s.Thing}
	if s.OwnKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("fleet: key: %w", err)
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: s.Thing}}, k)
		if err != nil {
			return nil, fmt.Errorf("fleet: csr: %w", err)
		}
		out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
			CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))),
			SetAsActive:               true,
		})
		if err != nil {
			return nil, fmt.Errorf("fleet: create certificate from csr for %s: %w", s.Thing, err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("fleet: key: %w", err)
		}
		d.CertID, d.CertARN, d.CertPEM = aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
		d.KeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	} else {
		out, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		if err != nil {
			return nil, fmt.Errorf("fleet: create keys and certificate for %s: %w", s.Thing, err)
		}
		d.CertID, d.CertARN, d.CertPEM = aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
		if out.KeyPair != nil {
			d.KeyPEM = aws.ToString(out.KeyPair.PrivateKey)
		}
	}
	rec(target.Resource{Kind: target.KindCertificate, Name: s.Thing, ID: d.CertID, ARN: d.CertARN})
	if err := d.load(); err != nil {
		return nil, err
	}
	if s.Policy != "" {
		if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(s.Policy), Target: aws.String(d.CertARN)}); err != nil {
			return nil, fmt.Errorf("fleet: attach policy %s: %w", s.Policy, err)
		}
		rec(target.Resource{Kind: target.KindPolicyTarget, Name: s.Policy, Target: d.CertARN})
	}
	if !s.NoThing {
		if _, err := c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(s.Thing), Principal: aws.String(d.CertARN)}); err != nil {
			return nil, fmt.Errorf("fleet: attach %s to its certificate: %w", s.Thing, err)
		}
		rec(target.Resource{Kind: target.KindThingPrincipal, Name: s.Thing, Target: d.CertARN})
	}
	return d, nil
}

// SelfSigned is a device with a certificate no CA of the account issued and nobody registered.
func SelfSigned(thing string) (*Device, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: thing},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	d := &Device{Thing: thing, CertID: hex.EncodeToString(sum[:]),
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))}
	return d, d.load()
}

// load parses the PEM pair into Cert and KeyType.
func (d *Device) load() error {
	cert, err := tls.X509KeyPair([]byte(d.CertPEM), []byte(d.KeyPEM))
	if err != nil {
		return fmt.Errorf("fleet: %s: certificate and key: %w", d.Thing, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("fleet: %s: %w", d.Thing, err)
	}
	cert.Leaf = leaf
	d.Cert = cert
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		d.KeyType = fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		d.KeyType = "ECDSA " + k.Curve.Params().Name
	default:
		d.KeyType = fmt.Sprintf("%T", k)
	}
	return nil
}

// IDIsDERSHA256 reports whether the certificate id is the hex SHA-256 of the certificate's DER bytes,
// as AWS computes it.
func (d *Device) IDIsDERSHA256() bool {
	sum := sha256.Sum256(d.Cert.Certificate[0])
	return hex.EncodeToString(sum[:]) == d.CertID
}

// Files are the names the AWS console and the book use for a device's files.
func Files(dir, thing string) (cert, key string) {
	return filepath.Join(dir, thing+".cert.pem"), filepath.Join(dir, thing+".private.key")
}

// Save writes the certificate and key (mode 0600) into dir.
func (d *Device) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	cert, key := Files(dir, d.Thing)
	if err := os.WriteFile(cert, []byte(d.CertPEM), 0o600); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := os.WriteFile(key, []byte(d.KeyPEM), 0o600); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// Load reads a saved device and checks with the control plane that its certificate is still ACTIVE
// and attached to its thing. An error means: provision it again.
func Load(ctx context.Context, t *target.Target, dir, thing string) (*Device, error) {
	certFile, keyFile := Files(dir, thing)
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	d := &Device{Thing: thing, CertPEM: string(cb), KeyPEM: string(kb)}
	if err := d.load(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(d.Cert.Certificate[0])
	d.CertID = hex.EncodeToString(sum[:])
	desc, err := t.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(d.CertID)})
	if err != nil {
		return nil, err
	}
	if desc.CertificateDescription == nil || desc.CertificateDescription.Status != types.CertificateStatusActive {
		return nil, errors.New("fleet: saved certificate is not ACTIVE")
	}
	d.CertARN = aws.ToString(desc.CertificateDescription.CertificateArn)
	ps, err := t.IoT.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	if err != nil {
		return nil, err
	}
	for _, p := range ps.Principals {
		if p == d.CertARN {
			return d, nil
		}
	}
	return nil, errors.New("fleet: saved certificate is not attached to its thing")
}

// Dial connects the device to the target's mTLS endpoint with client id = thing name.
func (d *Device) Dial(ctx context.Context, t *target.Target, o client.Options) (*client.Conn, client.ConnAck, error) {
	o.Addr = t.MQTTAddr
	o.TLS = t.TLS(d.Cert)
	if o.ClientID == "" {
		o.ClientID = d.Thing
	}
	return client.Dial(ctx, o)
}
