package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// MinRSABits is the smallest RSA modulus AWS IoT accepts
// (AWS: audit-chk-device-cert-key-quality, API_CreateCertificateFromCsr).
const MinRSABits = 2048

const acceptedKeys = "AWS IoT accepts RSA keys of 2048 bits or more and ECDSA keys on P-256, P-384 or P-521"

// CheckKey applies AWS IoT's key rule, shared by the CSR and register paths:
// RSA of at least 2048 bits, or ECDSA on NIST P-256, P-384 or P-521
// (AWS: API_CreateCertificateFromCsr). A short RSA key wraps ErrWeakKey;
// anything else (Ed25519, DSA, P-224, nil…) wraps ErrUnsupportedKey.
func CheckKey(pub crypto.PublicKey) error {
	return checkKey(pub, "public key")
}

// checkKey is CheckKey with the key named in messages ("CSR public key").
func checkKey(pub crypto.PublicKey, what string) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("%w: %s is RSA %d bits; AWS IoT requires RSA keys of at least %d bits", ErrWeakKey, what, bits, MinRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		curve := "unknown"
		if k.Curve != nil {
			curve = k.Curve.Params().Name
		}
		return fmt.Errorf("%w: %s is ECDSA on curve %s; %s", ErrUnsupportedKey, what, curve, acceptedKeys)
	case ed25519.PublicKey:
		return fmt.Errorf("%w: %s is Ed25519; %s", ErrUnsupportedKey, what, acceptedKeys)
	case nil:
		// x509 leaves PublicKey nil for algorithms it does not know.
		return fmt.Errorf("%w: %s is missing or of an unknown algorithm; %s", ErrUnsupportedKey, what, acceptedKeys)
	default:
		return fmt.Errorf("%w: %s is a %T; %s", ErrUnsupportedKey, what, pub, acceptedKeys)
	}
}

// CheckSignatureAlgorithm accepts the signature algorithms AWS IoT lists for
// certificates: SHA-256/384/512 with RSA (PKCS #1 v1.5) or ECDSA
// (AWS: x509-client-certs#x509-cert-algorithms). AWS also lists
// DSA_WITH_SHA256; it is refused here because DSA keys fail CheckKey anyway and
// Go cannot verify DSA signatures. Errors wrap ErrUnsupportedSignature.
func CheckSignatureAlgorithm(alg x509.SignatureAlgorithm) error {
	return checkSignatureAlgorithm(alg, "signature algorithm")
}

// checkSignatureAlgorithm is CheckSignatureAlgorithm with the signature named
// in messages ("CSR signature").
func checkSignatureAlgorithm(alg x509.SignatureAlgorithm, what string) error {
	switch alg {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		return nil
	}
	return fmt.Errorf("%w: %s is %v; AWS IoT accepts SHA-256, SHA-384 or SHA-512 with RSA or ECDSA", ErrUnsupportedSignature, what, alg)
}
