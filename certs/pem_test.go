package certs_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/iotlab/iotlab/certs"
)

func TestCertificateID(t *testing.T) {
	cert, err := certs.ParseCertificatePEM(testdata(t, "example-device.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// `openssl x509 -in testdata/example-device.pem -outform DER | sha256sum`
	const want = "b64ba65761d1bb7894b85d78c7509be5d0add1f05413a6d17b59dd3a72456371"
	if got := certs.CertificateID(cert.Raw); got != want {
		t.Errorf("CertificateID = %s, want %s", got, want)
	}
}

func TestParseCertificatePEM(t *testing.T) {
	good := testdata(t, "example-device.pem")
	tests := []struct {
		name    string
		text    string
		wantErr bool
		wantMsg string // part of the error message
	}{
		{"one certificate", good, false, ""},
		{"CRLF line endings", strings.ReplaceAll(good, "\n", "\r\n"), false, ""},
		{"text around the block", "device cert:\n" + good + "\n(end)\n", false, ""},
		{"empty", "  \n", true, "empty input"},
		{"garbage", "hello", true, "no PEM block found"},
		{"two certificates", good + good, true, "found 2 PEM blocks (CERTIFICATE, CERTIFICATE)"},
		{"certificate and key", good + testdata(t, "rsa1024.key"), true, "found 2 PEM blocks (CERTIFICATE, RSA PRIVATE KEY)"},
		{"a CSR", testdata(t, "dsa.csr"), true, `PEM block is "CERTIFICATE REQUEST", want "CERTIFICATE"`},
		{"bad DER", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01}})), true, "x509"},
		{"over 65536 characters", good + strings.Repeat(" ", certs.MaxCertificatePEMLength), true, "at most 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := certs.ParseCertificatePEM(tt.text)
			if !tt.wantErr {
				if err != nil || cert == nil {
					t.Fatalf("ParseCertificatePEM: %v", err)
				}
				if got, want := cert.Subject.CommonName, "example-device"; got != want {
					t.Errorf("CN = %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, certs.ErrBadCertificate) {
				t.Fatalf("err = %v, want ErrBadCertificate", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseCSRPEM(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantErr error
	}{
		{"DSA CSR parses (the key is checked later)", testdata(t, "dsa.csr"), nil},
		{"SHA-1 CSR parses (the algorithm is checked later)", testdata(t, "rsa2048-sha1.csr"), nil},
		{"certificate", testdata(t, "example-device.pem"), certs.ErrBadCSR},
		{"private key", testdata(t, "rsa1024.key"), certs.ErrBadCSR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.ParseCSRPEM(tt.text)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// opaqueSigner is a crypto.Signer of no type the package knows.
type opaqueSigner struct{ crypto.Signer }

func TestEncodePrivateKeyPEM(t *testing.T) {
	tests := []struct {
		name     string
		key      crypto.Signer
		wantType string // "" = error
	}{
		{"RSA as PKCS #1, like AWS", testKey(t, "rsa2048.key"), "RSA PRIVATE KEY"},
		{"ECDSA as SEC 1", ecKey(t, elliptic.P384()), "EC PRIVATE KEY"},
		{"Ed25519 as PKCS #8", ed25519Key(t), "PRIVATE KEY"},
		{"unknown signer type", opaqueSigner{ecKey(t, elliptic.P256())}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := certs.EncodePrivateKeyPEM(tt.key)
			if tt.wantType == "" {
				if !errors.Is(err, certs.ErrBadKey) || !strings.Contains(err.Error(), "certs_test.opaqueSigner") {
					t.Errorf("err = %v, want ErrBadKey naming the type", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode([]byte(text))
			if block == nil || block.Type != tt.wantType {
				t.Fatalf("PEM = %q, want a %q block", text, tt.wantType)
			}
			back, err := certs.ParsePrivateKeyPEM(text)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.key.Public()) {
				t.Errorf("round trip changed the key")
			}
			pubPEM, err := certs.EncodePublicKeyPEM(tt.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(pubPEM, "-----BEGIN PUBLIC KEY-----\n") {
				t.Errorf("public key PEM = %q", pubPEM)
			}
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	sec1, err := certs.EncodePrivateKeyPEM(ec)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		text    string
		wantErr bool
	}{
		{"SEC 1", sec1, false},
		{"PKCS #8", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), false},
		{"openssl ecparam -genkey output", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1, false},
		{"encrypted", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", true},
		{"certificate", testdata(t, "example-device.pem"), true},
		{"two keys", sec1 + sec1, true},
		{"garbage", "key", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.ParsePrivateKeyPEM(tt.text)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, certs.ErrBadKey) {
				t.Errorf("err = %v, want ErrBadKey", err)
			}
		})
	}
}

func TestEncodePublicKeyPEMUnknownType(t *testing.T) {
	_, err := certs.EncodePublicKeyPEM(struct{}{})
	if !errors.Is(err, certs.ErrBadKey) || !strings.Contains(err.Error(), "struct {}") {
		t.Errorf("err = %v, want ErrBadKey naming the type", err)
	}
}

func TestCheckKey(t *testing.T) {
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		wantErr error
	}{
		{"RSA 2048", testKey(t, "rsa2048.key").Public(), nil},
		{"RSA 4096", testKey(t, "rsa4096.key").Public(), nil},
		{"ECDSA P-256", ecKey(t, elliptic.P256()).Public(), nil},
		{"ECDSA P-384", ecKey(t, elliptic.P384()).Public(), nil},
		{"ECDSA P-521", ecKey(t, elliptic.P521()).Public(), nil},
		{"RSA 1024", testKey(t, "rsa1024.key").Public(), certs.ErrWeakKey},
		{"ECDSA P-224", ecKey(t, elliptic.P224()).Public(), certs.ErrUnsupportedKey},
		{"ECDSA without a curve", &ecdsa.PublicKey{}, certs.ErrUnsupportedKey},
		{"Ed25519", ed25519Key(t).Public(), certs.ErrUnsupportedKey},
		{"X25519", x25519.PublicKey(), certs.ErrUnsupportedKey},
		{"nil", nil, certs.ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := certs.CheckKey(tt.pub); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("CheckKey = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCheckSignatureAlgorithm(t *testing.T) {
	tests := []struct {
		alg    x509.SignatureAlgorithm
		wantOK bool
	}{
		{x509.SHA256WithRSA, true},
		{x509.SHA384WithRSA, true},
		{x509.SHA512WithRSA, true},
		{x509.ECDSAWithSHA256, true},
		{x509.ECDSAWithSHA384, true},
		{x509.ECDSAWithSHA512, true},
		{x509.SHA1WithRSA, false},
		{x509.MD5WithRSA, false},
		{x509.ECDSAWithSHA1, false},
		{x509.SHA256WithRSAPSS, false},
		{x509.DSAWithSHA256, false},
		{x509.PureEd25519, false},
		{x509.UnknownSignatureAlgorithm, false},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String(), func(t *testing.T) {
			err := certs.CheckSignatureAlgorithm(tt.alg)
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Errorf("CheckSignatureAlgorithm = %v, want ok %v", err, tt.wantOK)
			}
			if err != nil && !errors.Is(err, certs.ErrUnsupportedSignature) {
				t.Errorf("err = %v, want ErrUnsupportedSignature", err)
			}
		})
	}
}

// errReader fails every read, like an exhausted or broken random source.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestBrokenRandomSource(t *testing.T) {
	opt := certs.Options{Rand: errReader{}}
	if _, err := certs.LoadOrCreate(t.TempDir(), opt); err == nil {
		t.Errorf("LoadOrCreate succeeded with a broken random source")
	}
	if _, err := certs.NewSelfSigned("x", ecKey(t, elliptic.P256()), opt); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("NewSelfSigned err = %v, want the reader's error", err)
	}
}
