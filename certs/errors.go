package certs

import "errors"

// Errors returned by this package, to be matched with errors.Is. The messages
// wrapped around them say what exactly was wrong; the API layer maps them to
// AWS error codes (a bad CSR or key is InvalidRequestException for
// CreateCertificateFromCsr and CertificateValidationException for Register*).
var (
	// ErrBadCSR: the text is not one well-formed, correctly self-signed PKCS #10 request.
	ErrBadCSR = errors.New("certs: bad CSR")
	// ErrBadCertificate: the text is not exactly one well-formed X.509 certificate,
	// or a certificate does not verify against the CA that should have signed it.
	ErrBadCertificate = errors.New("certs: bad certificate")
	// ErrBadKey: a private key could not be parsed or encoded.
	ErrBadKey = errors.New("certs: bad private key")
	// ErrWeakKey: an RSA key shorter than 2048 bits.
	ErrWeakKey = errors.New("certs: weak key")
	// ErrUnsupportedKey: a key AWS IoT does not accept at all (Ed25519, DSA,
	// ECDSA on curves other than P-256/P-384/P-521, unknown algorithms).
	ErrUnsupportedKey = errors.New("certs: unsupported key")
	// ErrUnsupportedSignature: a signature algorithm AWS IoT does not accept (SHA-1, MD5, PSS, DSA…).
	ErrUnsupportedSignature = errors.New("certs: unsupported signature algorithm")
	// ErrRegistrationCode: a verification certificate's common name is not the registration code.
	ErrRegistrationCode = errors.New("certs: registration code mismatch")
	// ErrCorruptFile: a file in the CA directory exists but cannot be used.
	// LoadOrCreate never replaces such a file; the message names it.
	ErrCorruptFile = errors.New("certs: corrupt CA file")
	// ErrBadHost: an Options.Hosts entry is neither a DNS name nor an IP address.
	ErrBadHost = errors.New("certs: bad host")
)
