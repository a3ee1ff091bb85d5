package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// Length limits of the AWS IoT API, in characters of PEM text.
const (
	// MaxCSRLength bounds certificateSigningRequest (AWS: API_CreateCertificateFromCsr).
	MaxCSRLength = 4096
	// MaxCertificatePEMLength bounds certificatePem and caCertificate
	// (AWS: API_RegisterCertificate, API_RegisterCACertificate).
	MaxCertificatePEMLength = 65536
)

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemCSR         = "CERTIFICATE REQUEST"
	pemCSRLegacy   = "NEW CERTIFICATE REQUEST" // still written by some Windows and Java tools
	pemRSAKey      = "RSA PRIVATE KEY"         // PKCS #1
	pemECKey       = "EC PRIVATE KEY"          // SEC 1
	pemPKCS8Key    = "PRIVATE KEY"             // PKCS #8
	pemECParams    = "EC PARAMETERS"           // emitted before the key by `openssl ecparam -genkey`
	pemPublicKey   = "PUBLIC KEY"              // PKIX SubjectPublicKeyInfo
)

// CertificateID returns the AWS IoT certificate id of a DER certificate: the
// lower-case hex SHA-256 of its DER bytes, 64 characters. AWS does not document
// this, but ids of real certificates match it (research §4.1).
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// EncodeCertificatePEM wraps DER bytes in a CERTIFICATE PEM block.
func EncodeCertificatePEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}))
}

// ParseCertificatePEM parses text holding exactly one CERTIFICATE PEM block.
// Text around the block is ignored (RFC 7468 allows explanatory text); a second
// PEM block of any type is an error, so a chain or a pasted private key is
// refused rather than half-read. Errors wrap ErrBadCertificate.
func ParseCertificatePEM(pemText string) (*x509.Certificate, error) {
	if len(pemText) > MaxCertificatePEMLength {
		return nil, fmt.Errorf("%w: %d characters, AWS IoT accepts at most %d", ErrBadCertificate, len(pemText), MaxCertificatePEMLength)
	}
	block, err := onePEMBlock(pemText, pemCertificate)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadCertificate, err)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return cert, nil
}

// ParseCSRPEM parses text holding exactly one CERTIFICATE REQUEST PEM block
// (the legacy "NEW CERTIFICATE REQUEST" header is accepted too). It only
// parses: the signature and the key are checked by [CA.SignCSR]. Errors wrap
// ErrBadCSR.
func ParseCSRPEM(pemText string) (*x509.CertificateRequest, error) {
	block, err := onePEMBlock(pemText, pemCSR, pemCSRLegacy)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadCSR, err)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	return csr, nil
}

// onePEMBlock returns the only PEM block in text, which must have one of the
// given types (the first is the one named in messages).
func onePEMBlock(text string, types ...string) (*pem.Block, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty input, want a -----BEGIN %s----- block", types[0])
	}
	var blocks []*pem.Block
	for rest := []byte(text); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	switch len(blocks) {
	case 0:
		return nil, fmt.Errorf("no PEM block found, want a -----BEGIN %s----- block", types[0])
	case 1:
	default:
		names := make([]string, len(blocks))
		for i, b := range blocks {
			names[i] = b.Type
		}
		return nil, fmt.Errorf("found %d PEM blocks (%s), want exactly one %s", len(blocks), strings.Join(names, ", "), types[0])
	}
	b := blocks[0]
	for _, t := range types {
		if b.Type == t {
			return b, nil
		}
	}
	return nil, fmt.Errorf("PEM block is %q, want %q", b.Type, types[0])
}

// EncodePrivateKeyPEM encodes a private key the way AWS IoT returns keys:
// RSA as PKCS #1 "RSA PRIVATE KEY" (AWS: API_CreateKeysAndCertificate), ECDSA
// as SEC 1 "EC PRIVATE KEY" (what `openssl ecparam -genkey` writes), and
// Ed25519, which has neither, as PKCS #8 "PRIVATE KEY".
func EncodePrivateKeyPEM(key crypto.Signer) (string, error) {
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: pemRSAKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		block = &pem.Block{Type: pemECKey, Bytes: der}
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		block = &pem.Block{Type: pemPKCS8Key, Bytes: der}
	default:
		return "", fmt.Errorf("%w: cannot encode a private key of type %T", ErrBadKey, key)
	}
	return string(pem.EncodeToMemory(block)), nil
}

// EncodePublicKeyPEM encodes a public key as a PKIX "PUBLIC KEY" block, the
// format of keyPair.PublicKey in CreateKeysAndCertificate responses.
func EncodePublicKeyPEM(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: cannot encode a public key of type %T: %w", ErrBadKey, pub, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der})), nil
}

// ParsePrivateKeyPEM parses one unencrypted private key in PKCS #1, SEC 1 or
// PKCS #8 form. An "EC PARAMETERS" block before an EC key is skipped. Errors
// wrap ErrBadKey.
func ParsePrivateKeyPEM(pemText string) (crypto.Signer, error) {
	var blocks []*pem.Block
	for rest := []byte(pemText); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != pemECParams {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("%w: found %d PEM key blocks, want exactly one", ErrBadKey, len(blocks))
	}
	b := blocks[0]
	if _, ok := b.Headers["DEK-Info"]; ok {
		return nil, fmt.Errorf("%w: the key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)", ErrBadKey)
	}
	var (
		key any
		err error
	)
	switch b.Type {
	case pemRSAKey:
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case pemECKey:
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case pemPKCS8Key:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block is %q, want %q, %q or %q", ErrBadKey, b.Type, pemRSAKey, pemECKey, pemPKCS8Key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: a %T cannot sign", ErrBadKey, key)
	}
	return signer, nil
}
