package check

import (
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

	"github.com/aws/smithy-go"
)

// certFacts returns the key type and the hex SHA-256 of a certificate's DER.
func certFacts(certPEM, keyPEM string) (keyType, sha string) {
	c, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return "unreadable: " + err.Error(), ""
	}
	sum := sha256.Sum256(c.Certificate[0])
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return "unreadable: " + err.Error(), ""
	}
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		keyType = fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		keyType = "ECDSA " + k.Curve.Params().Name
	default:
		keyType = fmt.Sprintf("%T", k)
	}
	return keyType, hex.EncodeToString(sum[:])
}

// csr makes a PEM CSR with an RSA key of the given size, or EC P-256 when bits is 0.
func csr(bits int) (string, error) {
	var key any
	var err error
	if bits == 0 {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "iotlab-check"}}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// unwrapAPI is the AWS API error inside an SDK error (for showing its type).
func unwrapAPI(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return err
}
