package loadtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// NewIoTClient is an aws-sdk-go-v2 IoT control-plane client for iotlab's API, with SDK retries off so
// that every request measured is one request.
func NewIoTClient(h Health, conns int) *iot.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return iot.NewFromConfig(aws.Config{
		Region:           h.Region,
		Credentials:      credentials.NewStaticCredentialsProvider("iotlab", "iotlab", ""),
		BaseEndpoint:     aws.String(h.API),
		HTTPClient:       &http.Client{Transport: tr, Timeout: 30 * time.Second},
		RetryMaxAttempts: 1,
	})
}

// Device is one provisioned bench device: a client ID and the certificate iotlab issued for its own
// ECDSA P-256 key through CreateCertificateFromCsr, with the bench policy attached.
type Device struct {
	ClientID string
	Cert     tls.Certificate
	CertPEM  []byte
}

// TLS is the device's client configuration: it trusts only iotlab's root. It offers the key
// exchanges devices offer (X25519, P-256): Go's default would add X25519MLKEM768, which the Go
// brokers would pick and Mosquitto's OpenSSL 3.0 cannot, so the handshakes would differ in cost.
func (d Device) TLS(roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{d.Cert},
		RootCAs:          roots,
		ServerName:       "localhost",
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}
}

// CreatePolicy creates the bench policy (PolicyDocument).
func CreatePolicy(ctx context.Context, c *iot.Client, h Health) error {
	_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{
		PolicyName:     aws.String(PolicyName),
		PolicyDocument: aws.String(PolicyDocument(h.Account, h.Region)),
	})
	if err != nil {
		return fmt.Errorf("loadtest: create policy: %w", err)
	}
	return nil
}

// ProvisionDevices issues n devices named prefix0…prefix(n-1) with `workers` concurrent requests: for
// each, a P-256 key and CSR made here, CreateCertificateFromCsr (active) and AttachPolicy, as a device
// factory would. The policy must exist.
func ProvisionDevices(ctx context.Context, c *iot.Client, prefix string, n, workers int) ([]Device, error) {
	out := make([]Device, n)
	var next atomic.Int64
	var first error
	var once sync.Once
	fail := func(err error) { once.Do(func() { first = err }) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				d, err := provisionOne(ctx, c, fmt.Sprintf("%s%d", prefix, i))
				if err != nil {
					fail(err)
					cancel()
					return
				}
				out[i] = d
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func provisionOne(ctx context.Context, c *iot.Client, clientID string) (Device, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Device{}, fmt.Errorf("loadtest: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: clientID}}, key)
	if err != nil {
		return Device{}, fmt.Errorf("loadtest: %w", err)
	}
	res, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))),
		SetAsActive:               true,
	})
	if err != nil {
		return Device{}, fmt.Errorf("loadtest: CreateCertificateFromCsr for %s: %w", clientID, err)
	}
	if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(PolicyName), Target: res.CertificateArn}); err != nil {
		return Device{}, fmt.Errorf("loadtest: AttachPolicy for %s: %w", clientID, err)
	}
	certPEM := []byte(aws.ToString(res.CertificatePem))
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return Device{}, errors.New("loadtest: CreateCertificateFromCsr returned no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return Device{}, fmt.Errorf("loadtest: %w", err)
	}
	return Device{
		ClientID: clientID,
		Cert:     tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key, Leaf: leaf},
		CertPEM:  certPEM,
	}, nil
}
