package certs

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Files in the CA directory. Keys are written 0600, certificates 0644.
const (
	rootCertFile   = "root-ca.pem" // the AmazonRootCA1.pem stand-in clients trust
	rootKeyFile    = "root-ca.key"
	deviceCertFile = "device-ca.pem" // issuer of CreateKeysAndCertificate / SignCSR certificates
	deviceKeyFile  = "device-ca.key"
	serverCertFile = "server.pem" // the MQTT endpoint's certificate (leaf only)
	serverKeyFile  = "server.key"
)

// Server certificate lifetime: mkcert's 2 years 3 months, under the 825 days
// that Apple platforms allow any TLS server certificate, private roots included.
const (
	serverYears, serverMonths = 2, 3
	// serverRenewBefore: LoadOrCreate reissues a server certificate this close to expiry.
	serverRenewBefore = 30 * 24 * time.Hour
)

// awsIssuerOU is the whole issuer DN of AWS-made certificates: one OU
// attribute whose value happens to read like a DN, which is why openssl prints
// "issuer=OU = Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US"
// (observed on real CreateKeysAndCertificate and CreateCertificateFromCsr
// certificates). Policy variables see it as iot:Certificate.Issuer.OrganizationalUnit.
const awsIssuerOU = "Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US"

// awsSubjectCN is the subject AWS gives CreateKeysAndCertificate certificates
// (AWS: cli create-keys-and-certificate, "AWS IoT issues a default subject name").
const awsSubjectCN = "AWS IoT Certificate"

// defaultHosts are always in the server certificate.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// CA is iotlab's local certificate authority, loaded from or created in one
// directory by LoadOrCreate. It is safe for concurrent use; certificates it
// returns must not be modified.
type CA struct {
	dir  string
	now  func() time.Time
	rand io.Reader // crypto/rand.Reader or a *lockedReader around Options.Rand

	root      *x509.Certificate
	rootKey   crypto.Signer
	rootPEM   []byte
	device    *x509.Certificate
	deviceKey crypto.Signer
	server    tls.Certificate
}

// lockedReader serialises reads, since Options.Rand (a seeded math/rand
// source, say) need not be safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex // guards r
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// LoadOrCreate loads the CA kept in dir, creating what is missing: on first
// start the root CA (ECDSA P-256), the device-issuing CA (ECDSA P-256, subject
// like AWS's issuer) and the server certificate. Later starts reuse the root
// and the device CA, and reissue only the server certificate, when opt.Hosts
// changed, when it expires within 30 days, or when it was not issued by the
// root. A file that exists but cannot be used is an error wrapping
// ErrCorruptFile that names the file; it is never replaced.
//
// Deliberate deviation: AWS signs device certificates with an RSA 2048 CA
// (sha256WithRSAEncryption). Ours is P-256 so that a first start stays fast;
// no client looks at the issuer's key type.
func LoadOrCreate(dir string, opt Options) (*CA, error) {
	if dir == "" {
		return nil, errors.New("certs: LoadOrCreate needs a directory")
	}
	hosts, primary, err := normalizeHosts(opt.Hosts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: creating the CA directory: %w", err)
	}
	ca := &CA{dir: dir, now: opt.now, rand: opt.rand()}
	if opt.Rand != nil {
		// crypto/rand.Reader is left bare: it is safe for concurrent use, and
		// FIPS 140-only mode accepts no other reader for key generation.
		ca.rand = &lockedReader{r: opt.Rand}
	}
	if err := ca.loadOrCreateRoot(); err != nil {
		return nil, err
	}
	if err := ca.loadOrCreateDevice(); err != nil {
		return nil, err
	}
	if err := ca.loadOrCreateServer(hosts, primary); err != nil {
		return nil, err
	}
	return ca, nil
}

func (ca *CA) path(name string) string { return filepath.Join(ca.dir, name) }

// corrupt reports an unusable file together with the way out.
func (ca *CA) corrupt(name, remedy string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s; %s", ErrCorruptFile, ca.path(name), fmt.Sprintf(format, args...), remedy)
}

func (ca *CA) remedyCA() string {
	return fmt.Sprintf("fix it, or delete the directory %s to start a new CA (clients must then trust the new %s)", ca.dir, rootCertFile)
}

func (ca *CA) remedyServer() string {
	return fmt.Sprintf("fix it, or delete %s and %s to have them reissued", serverCertFile, serverKeyFile)
}

// loadPair reads a certificate and its key. Both missing is (nil, nil, nil);
// one missing, unparsable or mismatched is an ErrCorruptFile error.
func (ca *CA) loadPair(certName, keyName, remedy string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, certErr := os.ReadFile(ca.path(certName))
	keyPEM, keyErr := os.ReadFile(ca.path(keyName))
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certMissing && keyMissing:
		return nil, nil, nil
	case certMissing:
		return nil, nil, ca.corrupt(keyName, remedy, "found the key but not %s", certName)
	case keyMissing:
		return nil, nil, ca.corrupt(certName, remedy, "found the certificate but not its key %s", keyName)
	case certErr != nil:
		return nil, nil, fmt.Errorf("certs: %w", certErr)
	case keyErr != nil:
		return nil, nil, fmt.Errorf("certs: %w", keyErr)
	}
	cert, err := ParseCertificatePEM(string(certPEM))
	if err != nil {
		return nil, nil, ca.corrupt(certName, remedy, "%s", strings.TrimPrefix(err.Error(), "certs: "))
	}
	key, err := ParsePrivateKeyPEM(string(keyPEM))
	if err != nil {
		return nil, nil, ca.corrupt(keyName, remedy, "%s", strings.TrimPrefix(err.Error(), "certs: "))
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, ca.corrupt(keyName, remedy, "the key does not match the public key in %s", certName)
	}
	return cert, key, nil
}

// store writes a certificate and its key, the key first and private.
func (ca *CA) store(certName, keyName string, cert *x509.Certificate, key crypto.Signer) error {
	keyPEM, err := EncodePrivateKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(ca.path(keyName), []byte(keyPEM), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(ca.path(certName), []byte(EncodeCertificatePEM(cert.Raw)), 0o644)
}

// writeFileAtomic writes through a temporary file and a rename, so a crash
// leaves either the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("certs: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("certs: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("certs: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

func (ca *CA) loadOrCreateRoot() error {
	cert, key, err := ca.loadPair(rootCertFile, rootKeyFile, ca.remedyCA())
	if err != nil {
		return err
	}
	if cert == nil {
		// Certificates already issued by a lost root must not be silently orphaned.
		for _, name := range []string{deviceCertFile, deviceKeyFile} {
			if _, err := os.Stat(ca.path(name)); err == nil {
				return ca.corrupt(name, ca.remedyCA(), "found it but no %s and %s", rootCertFile, rootKeyFile)
			}
		}
		if cert, key, err = ca.newRoot(); err != nil {
			return err
		}
		if err := ca.store(rootCertFile, rootKeyFile, cert, key); err != nil {
			return err
		}
	} else if !cert.IsCA {
		return ca.corrupt(rootCertFile, ca.remedyCA(), "the certificate is not a CA (basic constraints CA:FALSE or absent)")
	}
	ca.root, ca.rootKey = cert, key
	ca.rootPEM = []byte(EncodeCertificatePEM(cert.Raw))
	return nil
}

func (ca *CA) newRoot() (*x509.Certificate, crypto.Signer, error) {
	key, err := newECKey(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := caTemplate(serial, key.Public(), ca.now())
	if err != nil {
		return nil, nil, err
	}
	// Named after "Amazon Root CA 1" without claiming to be Amazon's.
	tmpl.Subject = pkix.Name{CommonName: "iotlab Root CA 1", Organization: []string{"iotlab"}}
	cert, err := create(tmpl, tmpl, key.Public(), key, ca.rand)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func (ca *CA) loadOrCreateDevice() error {
	cert, key, err := ca.loadPair(deviceCertFile, deviceKeyFile, ca.remedyCA())
	if err != nil {
		return err
	}
	if cert == nil {
		if cert, key, err = ca.newDevice(); err != nil {
			return err
		}
		if err := ca.store(deviceCertFile, deviceKeyFile, cert, key); err != nil {
			return err
		}
	} else if err := cert.CheckSignatureFrom(ca.root); err != nil {
		return ca.corrupt(deviceCertFile, ca.remedyCA(), "not issued by %s: %v", rootCertFile, err)
	}
	ca.device, ca.deviceKey = cert, key
	return nil
}

func (ca *CA) newDevice() (*x509.Certificate, crypto.Signer, error) {
	key, err := newECKey(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := caTemplate(serial, key.Public(), ca.now())
	if err != nil {
		return nil, nil, err
	}
	if tmpl.RawSubject, err = awsIssuerName(); err != nil {
		return nil, nil, err
	}
	tmpl.MaxPathLenZero = true // issues device certificates only
	cert, err := create(tmpl, ca.root, key.Public(), ca.rootKey, ca.rand)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// awsIssuerName encodes awsIssuerOU as AWS does: a single OU attribute, as a
// UTF8String (pkix.Name would pick PrintableString).
func awsIssuerName() ([]byte, error) {
	oidOU := asn1.ObjectIdentifier{2, 5, 4, 11}
	name := pkix.RDNSequence{{{
		Type:  oidOU,
		Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(awsIssuerOU)},
	}}}
	der, err := asn1.Marshal(name)
	if err != nil {
		return nil, fmt.Errorf("certs: encoding the issuer name: %w", err)
	}
	return der, nil
}

func (ca *CA) loadOrCreateServer(hosts []string, primary string) error {
	cert, key, err := ca.loadPair(serverCertFile, serverKeyFile, ca.remedyServer())
	if err != nil {
		return err
	}
	if cert == nil || ca.serverStale(cert, hosts) {
		if cert, key, err = ca.newServer(hosts, primary); err != nil {
			return err
		}
		if err := ca.store(serverCertFile, serverKeyFile, cert, key); err != nil {
			return err
		}
	}
	ca.server = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return nil
}

// serverStale reports whether a loaded server certificate must be reissued.
func (ca *CA) serverStale(cert *x509.Certificate, hosts []string) bool {
	now := ca.now()
	switch {
	case cert.CheckSignatureFrom(ca.root) != nil:
		return true
	case now.Before(cert.NotBefore), now.Add(serverRenewBefore).After(cert.NotAfter):
		return true
	}
	return !slices.Equal(certHosts(cert), hosts)
}

// newServer issues the endpoint certificate, named after primary; the SANs
// (hosts) are what clients check.
func (ca *CA) newServer(hosts []string, primary string) (*x509.Certificate, crypto.Signer, error) {
	key, err := newECKey(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial(ca.rand)
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: primary, Organization: []string{"iotlab"}},
		NotBefore:             certTime(now.Add(-backdate)),
		NotAfter:              certTime(now.AddDate(serverYears, serverMonths, 0)),
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := create(tmpl, ca.root, key.Public(), ca.rootKey, ca.rand)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// normalizeHosts returns defaultHosts plus extra as a sorted set: DNS names in
// lower case without a trailing dot, IP addresses in canonical form. primary
// is the first extra host as given (the one the learner typed), else localhost.
func normalizeHosts(extra []string) (hosts []string, primary string, err error) {
	hosts = slices.Clone(defaultHosts)
	for _, h := range extra {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		} else if h = strings.TrimSuffix(strings.ToLower(h), "."); !validDNSName(h) {
			return nil, "", fmt.Errorf("%w: %q is neither a DNS name nor an IP address (leave out scheme and port)", ErrBadHost, h)
		}
		if primary == "" && !slices.Contains(defaultHosts, h) {
			primary = h
		}
		hosts = append(hosts, h)
	}
	if primary == "" {
		primary = "localhost"
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), primary, nil
}

// certHosts is normalizeHosts's view of a certificate's SANs.
func certHosts(cert *x509.Certificate) []string {
	var set []string
	for _, d := range cert.DNSNames {
		set = append(set, strings.TrimSuffix(strings.ToLower(d), "."))
	}
	for _, ip := range cert.IPAddresses {
		set = append(set, ip.String())
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// validDNSName accepts host names (RFC 1123 labels) with an optional leading
// "*." wildcard label.
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i, label := range strings.Split(h, ".") {
		if i == 0 && label == "*" {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// RootPEM returns root-ca.pem's contents, the file clients trust in place of
// AmazonRootCA1.pem.
func (ca *CA) RootPEM() []byte { return bytes.Clone(ca.rootPEM) }

// RootPath returns the path of root-ca.pem, to show learners.
func (ca *CA) RootPath() string { return ca.path(rootCertFile) }

// RootPool returns a new pool holding only the root, for clients and tests.
func (ca *CA) RootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.root)
	return pool
}

// Root returns the root CA certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// DeviceCA returns the CA that signs CreateKeysAndCertificate and SignCSR
// certificates; cert.CheckSignatureFrom(ca.DeviceCA()) tells "AWS-made"
// certificates apart.
func (ca *CA) DeviceCA() *x509.Certificate { return ca.device }

// ServerCertificate returns the MQTT endpoint's certificate and key. The root
// signs it directly, so the chain is the leaf alone.
func (ca *CA) ServerCertificate() tls.Certificate { return ca.server }

// ServerTLSConfig returns a new server configuration: TLS 1.2 or 1.3
// (AWS: protocols) and a client certificate required but not verified. As on
// AWS, the handshake accepts any certificate and the broker decides at
// CONNECT whether it is registered and ACTIVE (research §4.2); a chain check
// here would refuse self-signed certificates registered without a CA.
func (ca *CA) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.server},
		ClientAuth:   tls.RequireAnyClientCert,
	}
}
