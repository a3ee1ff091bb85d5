package certs

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// KeyAndCert is what CreateKeysAndCertificate returns: the PEM texts of the
// response (AWS: API_CreateKeysAndCertificate) and the parsed certificate.
type KeyAndCert struct {
	CertPEM       string // certificatePem
	PrivateKeyPEM string // keyPair.PrivateKey, "RSA PRIVATE KEY"; AWS returns it only once
	PublicKeyPEM  string // keyPair.PublicKey, "PUBLIC KEY"
	Cert          *x509.Certificate
}

// TLSCertificate pairs the certificate with its key, as a device presents them.
func (k KeyAndCert) TLSCertificate() (tls.Certificate, error) {
	pair, err := tls.X509KeyPair([]byte(k.CertPEM), []byte(k.PrivateKeyPEM))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: %w", err)
	}
	return pair, nil
}

// rsaBits: "Creates a 2048-bit RSA key pair" (AWS: API_CreateKeysAndCertificate).
const rsaBits = 2048

// CreateKeysAndCertificate makes a 2048-bit RSA key pair and a certificate for
// it the way AWS IoT does: subject CN=AWS IoT Certificate, issuer the device
// CA, valid from now until 2049-12-31T23:59:59Z, a random 160-bit serial.
// RSA key generation takes a noticeable fraction of a second.
func (ca *CA) CreateKeysAndCertificate() (KeyAndCert, error) {
	key, err := rsa.GenerateKey(ca.rand, rsaBits) // ca.rand is ignored since Go 1.26
	if err != nil {
		return KeyAndCert{}, fmt.Errorf("certs: generating an RSA key: %w", err)
	}
	subject, err := asn1.Marshal(pkix.Name{CommonName: awsSubjectCN}.ToRDNSequence())
	if err != nil {
		return KeyAndCert{}, fmt.Errorf("certs: encoding the subject: %w", err)
	}
	cert, err := ca.issueDevice(subject, &key.PublicKey)
	if err != nil {
		return KeyAndCert{}, err
	}
	privPEM, err := EncodePrivateKeyPEM(key)
	if err != nil {
		return KeyAndCert{}, err
	}
	pubPEM, err := EncodePublicKeyPEM(&key.PublicKey)
	if err != nil {
		return KeyAndCert{}, err
	}
	return KeyAndCert{CertPEM: EncodeCertificatePEM(cert.Raw), PrivateKeyPEM: privPEM, PublicKeyPEM: pubPEM, Cert: cert}, nil
}

// SignCSR issues a device certificate for a PEM certificate signing request,
// as CreateCertificateFromCsr does. The CSR must be at most 4096 characters,
// hold one request whose self-signature verifies with SHA-256/384/512, and
// carry an RSA ≥ 2048 or ECDSA P-256/P-384/P-521 key
// (AWS: API_CreateCertificateFromCsr). Errors wrap ErrBadCSR, ErrWeakKey,
// ErrUnsupportedKey or ErrUnsupportedSignature.
//
// The certificate keeps the CSR's subject byte for byte, as real AWS
// certificates made from CSRs do (an observed one kept O, C and ST); an empty
// subject becomes CN=AWS IoT Certificate. Requested extensions are ignored:
// the certificate gets the fixed AWS set. Each call draws a new serial, so
// "reusing the same CSR results in a distinct certificate".
func (ca *CA) SignCSR(csrPEM string) (*x509.Certificate, string, error) {
	if n := len(csrPEM); n > MaxCSRLength {
		return nil, "", fmt.Errorf("%w: %d characters, AWS IoT accepts at most %d", ErrBadCSR, n, MaxCSRLength)
	}
	csr, err := ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, "", err
	}
	// Key first: "RSA 1024 is too weak" helps more than a signature complaint.
	if err := checkKey(csr.PublicKey, "CSR public key"); err != nil {
		return nil, "", err
	}
	if err := checkSignatureAlgorithm(csr.SignatureAlgorithm, "CSR signature"); err != nil {
		return nil, "", err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("%w: its signature does not verify with its own public key: %w", ErrBadCSR, err)
	}
	subject := csr.RawSubject
	if len(csr.Subject.Names) == 0 {
		if subject, err = asn1.Marshal(pkix.Name{CommonName: awsSubjectCN}.ToRDNSequence()); err != nil {
			return nil, "", fmt.Errorf("certs: encoding the subject: %w", err)
		}
	}
	cert, err := ca.issueDevice(subject, csr.PublicKey)
	if err != nil {
		return nil, "", err
	}
	return cert, EncodeCertificatePEM(cert.Raw), nil
}

// issueDevice signs an AWS-shaped device certificate with the device CA.
func (ca *CA) issueDevice(rawSubject []byte, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := newSerial(ca.rand)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(serial, pub, ca.now(), awsNotAfter())
	if err != nil {
		return nil, err
	}
	tmpl.RawSubject = rawSubject
	return create(tmpl, ca.device, pub, ca.deviceKey, ca.rand)
}
