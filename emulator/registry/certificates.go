package registry

import (
	"crypto/x509"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Certificate statuses. AWS: API_CertificateDescription
const (
	CertActive            = "ACTIVE"
	CertInactive          = "INACTIVE"
	CertRevoked           = "REVOKED"
	CertPendingTransfer   = "PENDING_TRANSFER"
	CertRegisterInactive  = "REGISTER_INACTIVE" // deprecated by AWS, still accepted
	CertPendingActivation = "PENDING_ACTIVATION"
)

// Certificate modes. AWS: API_CertificateDescription (certificateMode)
const (
	ModeDefault = "DEFAULT"  // issued by AWS IoT, or registered under a CA in DEFAULT mode
	ModeSNIOnly = "SNI_ONLY" // registered without a CA (or under an SNI_ONLY CA): devices must send SNI
)

var certStatuses = []string{CertActive, CertInactive, CertRevoked, CertPendingTransfer, CertRegisterInactive, CertPendingActivation}

// CertificateARN is the ARN of a device certificate: arn:aws:iot:<region>:<account>:cert/<id>.
func CertificateARN(sc Scope, id string) string { return arn.IoT(sc.Region, sc.Account, "cert", id) }

// reCertID is the model's CertificateId pattern, anchored.
var reCertID = regexp.MustCompile(`^(0x)?[a-fA-F0-9]+$`)

// checkCertID validates a certificate id as the model does: exactly 64 characters of (0x)?[a-fA-F0-9]+.
// AWS: API_DescribeCertificate
func checkCertID(member, id string) error {
	switch {
	case id == "":
		return invalid(id, member, "Member must not be null")
	case len(id) < 64:
		return invalid(id, member, "Member must have length greater than or equal to 64")
	case len(id) > 64:
		return invalid(id, member, "Member must have length less than or equal to 64")
	case !reCertID.MatchString(id):
		return invalid(id, member, "Member must satisfy regular expression pattern: (0x)?[a-fA-F0-9]+")
	}
	return nil
}

// checkEnum validates an enum member. AWS's message lists the allowed values.
func checkEnum(member, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return invalid(v, member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// certNotFound is DescribeCertificate's answer for an unknown id.
func certNotFound(id string) error {
	return awserr.NotFound("The certificate %s does not exist", id)
}

// alreadyExists is a ResourceAlreadyExistsException with the resourceId and resourceArn members
// AWS's error shape carries. AWS: API_ResourceAlreadyExistsException
func alreadyExists(msg, id, resourceARN string) error {
	return &awserr.Error{Code: awserr.ResourceAlreadyExists, Message: msg,
		Fields: map[string]string{"resourceId": id, "resourceArn": resourceARN}}
}

// certMessage strips the certs package's "certs: " prefix from an error, for an AWS error message.
func certMessage(err error) string {
	return strings.ReplaceAll(err.Error(), "certs: ", "")
}

// newCertificate is the record of a certificate that is about to be stored.
func (r *Registry) newCertificate(sc Scope, c *x509.Certificate, status, caID, mode string) *Certificate {
	now := r.now().UTC()
	return &Certificate{
		ID:         certs.CertificateID(c.Raw),
		PEM:        certs.EncodeCertificatePEM(c.Raw),
		Status:     status,
		CAID:       caID,
		Mode:       mode,
		Owner:      sc.Account,
		Created:    now,
		Modified:   now,
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		Generation: r.newUUID(),
		Customer:   1,
	}
}

// addCertificate stages a new certificate; one with the same id (the same DER) is refused.
// AWS: "Registering the same certificate twice → ResourceAlreadyExistsException" (research §4.1; moto's text).
func (t *txn) addCertificate(c *Certificate) error {
	if _, ok := t.s.certs[c.ID]; ok {
		return alreadyExists("The certificate is already provisioned or registered", c.ID, CertificateARN(t.sc, c.ID))
	}
	s := t.s
	t.put("cert", c.ID, c, func() { s.certs[c.ID] = c })
	return nil
}

// CreateCertificate stores a certificate the emulator's CA has just issued (CreateKeysAndCertificate,
// CreateCertificateFromCsr): status INACTIVE unless setAsActive, mode DEFAULT, no registered CA.
// AWS: API_CreateKeysAndCertificate, API_CreateCertificateFromCsr
func (r *Registry) CreateCertificate(sc Scope, c *x509.Certificate, setAsActive bool) (Certificate, error) {
	status := CertInactive
	if setAsActive {
		status = CertActive
	}
	rec := r.newCertificate(sc, c, status, "", ModeDefault)
	err := r.update(sc, func(t *txn) error { return t.addCertificate(rec) })
	if err != nil {
		return Certificate{}, err
	}
	return *rec, nil
}

// RegisterCertificateInput is RegisterCertificate's or RegisterCertificateWithoutCA's request.
type RegisterCertificateInput struct {
	PEM         string // certificatePem
	CAPEM       string // caCertificatePem: picks the CA when several registered CAs share a subject
	Status      string // "" for INACTIVE (or ACTIVE with SetAsActive)
	SetAsActive bool   // deprecated by AWS; wins over Status as in the real API
	WithoutCA   bool   // RegisterCertificateWithoutCA: no CA check, mode SNI_ONLY
}

// RegisterCertificate registers a device certificate the emulator did not issue. With a CA it must be
// signed by a registered, ACTIVE CA and gets that CA's mode; without one (WithoutCA) it may be self-signed
// or from any CA and is SNI_ONLY. The key must be RSA ≥ 2048 or ECDSA P-256/384/521, the signature
// SHA-256/384/512, and the certificate not expired.
// AWS: API_RegisterCertificate, API_RegisterCertificateWithoutCA, x509-client-certs
func (r *Registry) RegisterCertificate(sc Scope, in RegisterCertificateInput) (Certificate, error) {
	if in.PEM == "" {
		return Certificate{}, invalid("null", "certificatePem", "Member must not be null")
	}
	status, err := registerStatus(in.Status, in.SetAsActive)
	if err != nil {
		return Certificate{}, err
	}
	c, err := r.validDeviceCert(in.PEM)
	if err != nil {
		return Certificate{}, err
	}
	var ca *x509.Certificate
	if in.CAPEM != "" && !in.WithoutCA {
		if ca, err = certs.ParseCertificatePEM(in.CAPEM); err != nil {
			return Certificate{}, awserr.New(awserr.CertificateValidation, "The CA certificate is not valid: %s", certMessage(err))
		}
	}
	var rec *Certificate
	err = r.update(sc, func(t *txn) error {
		caID, mode := "", ModeSNIOnly
		if !in.WithoutCA {
			rc, err := t.signingCA(c, ca)
			if err != nil {
				return err
			}
			caID, mode = rc.ID, rc.Mode
		}
		rec = r.newCertificate(sc, c, status, caID, mode)
		return t.addCertificate(rec)
	})
	if err != nil {
		return Certificate{}, err
	}
	return *rec, nil
}

// registerStatus is the status a registered certificate starts in. PENDING_TRANSFER and PENDING_ACTIVATION
// are states AWS itself puts certificates in (transfers, JITR), so a caller may not ask for them.
func registerStatus(status string, setAsActive bool) (string, error) {
	if setAsActive {
		return CertActive, nil
	}
	if status == "" {
		return CertInactive, nil
	}
	if err := checkEnum("status", status, certStatuses); err != nil {
		return "", err
	}
	if status == CertPendingTransfer || status == CertPendingActivation {
		return "", awserr.InvalidReq("A certificate cannot be registered with status %s", status)
	}
	return status, nil
}

// validDeviceCert applies AWS's registration sanity checks to a device certificate.
// AWS: audit-chk-device-cert-key-quality, x509-client-certs#x509-cert-algorithms
func (r *Registry) validDeviceCert(pemText string) (*x509.Certificate, error) {
	c, err := certs.ParseCertificatePEM(pemText)
	if err != nil {
		return nil, awserr.New(awserr.CertificateValidation, "The certificate is not valid: %s", certMessage(err))
	}
	if err := certs.CheckKey(c.PublicKey); err != nil {
		return nil, awserr.New(awserr.CertificateValidation, "The certificate is not valid: %s", certMessage(err))
	}
	if err := certs.CheckSignatureAlgorithm(c.SignatureAlgorithm); err != nil {
		return nil, awserr.New(awserr.CertificateValidation, "The certificate is not valid: %s", certMessage(err))
	}
	if now := r.now(); now.After(c.NotAfter) {
		return nil, awserr.New(awserr.CertificateValidation, "The certificate has expired (notAfter %s)", c.NotAfter.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// signingCA finds the registered CA that signed c. given, when not nil, is the caCertificatePem of the
// request and must itself be registered. AWS: API_RegisterCertificate, API_CertificateConflictException
func (t *txn) signingCA(c, given *x509.Certificate) (*CACertificate, error) {
	var candidates []*CACertificate
	if given != nil {
		rc := t.s.caCerts[certs.CertificateID(given.Raw)]
		if rc == nil {
			return nil, awserr.New(awserr.CertificateValidation, "The CA certificate given in caCertificatePem is not registered")
		}
		candidates = []*CACertificate{rc}
	} else {
		for _, id := range sortedKeys(t.s.caCerts, nil) {
			candidates = append(candidates, t.s.caCerts[id])
		}
	}
	var signers []*CACertificate
	for _, rc := range candidates {
		ca, err := certs.ParseCertificatePEM(rc.PEM)
		if err != nil || string(ca.RawSubject) != string(c.RawIssuer) {
			continue
		}
		if c.CheckSignatureFrom(ca) == nil {
			signers = append(signers, rc)
		}
	}
	switch {
	case len(signers) == 0:
		return nil, awserr.New(awserr.CertificateValidation, "The certificate is not signed by a registered CA certificate; register its CA with RegisterCACertificate, or use RegisterCertificateWithoutCA")
	case len(signers) > 1:
		// The model's own text for CertificateConflictException.
		return nil, awserr.New(awserr.CertificateConflict, "Unable to verify the CA certificate used to sign the device certificate you are attempting to register. This is happens when you have registered more than one CA certificate that has the same subject field and public key.")
	}
	if rc := signers[0]; rc.Status != CertActive {
		return nil, awserr.New(awserr.CertificateState, "The CA certificate %s is not ACTIVE.", rc.ID)
	}
	return signers[0], nil
}

// DescribeCertificate returns a certificate. AWS: API_DescribeCertificate
func (r *Registry) DescribeCertificate(sc Scope, id string) (Certificate, error) {
	return describeCert(r, sc, "certificateId", id, deviceCerts, certNotFound)
}

// CertificateByID returns a copy of a device certificate, for the broker: it looks up the hex SHA-256
// of the DER a client presented (the id is matched case-insensitively, as a hex string).
func (r *Registry) CertificateByID(sc Scope, id string) (Certificate, bool) {
	return certByID(r, sc, id, deviceCerts)
}

// certRecord is a device certificate record (*Certificate) or a CA's (*CACertificate): finding,
// describing, listing and changing them is the same code.
type certRecord[T any] interface {
	*T
	// creation is what the record is listed by: its creation date, then its id.
	creation() (time.Time, string)
	// changed stamps a change: modification date, customer version and generation.
	changed(now time.Time, generation string)
}

func deviceCerts(s *state) map[string]*Certificate { return s.certs }

func (c *Certificate) creation() (time.Time, string) { return c.Created, c.ID }

func (c *Certificate) changed(now time.Time, generation string) {
	c.Modified, c.Customer, c.Generation = now, c.Customer+1, generation
}

// certByID returns a copy of the record with id in one of the scope's certificate maps.
func certByID[T any](r *Registry, sc Scope, id string, records func(*state) map[string]*T) (T, bool) {
	var (
		c  T
		ok bool
	)
	_ = r.view(sc, func(s *state) error {
		if p := records(s)[normalizeCertID(id)]; p != nil {
			c, ok = *p, true
		}
		return nil
	})
	return c, ok
}

// describeCert checks id as the request member named member, then returns a copy of its record or
// notFound's error.
func describeCert[T any](r *Registry, sc Scope, member, id string, records func(*state) map[string]*T, notFound func(string) error) (T, error) {
	if err := checkCertID(member, id); err != nil {
		var zero T
		return zero, err
	}
	c, ok := certByID(r, sc, id, records)
	if !ok {
		return c, notFound(id)
	}
	return c, nil
}

// listCerts returns a page of copies of the records keep accepts in one of the scope's certificate
// maps, by creation date (descending unless ascending), with the marker/pageSize sizes.
func listCerts[T any, P certRecord[T]](r *Registry, sc Scope, records func(*state) map[string]P, keep func(P) bool, ascending bool, p Page) ([]T, string, error) {
	var (
		out  []T
		next string
	)
	err := r.view(sc, func(s *state) error {
		byKey := map[string]P{}
		for _, c := range records(s) {
			if keep(c) {
				created, id := c.creation()
				byKey[creationKey(created, id, ascending)] = c
			}
		}
		keys, nt, err := pageOf(byKey, nil, markerPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, *byKey[k])
		}
		next = nt
		return nil
	})
	return out, next, err
}

// putChanged stages c, a changed copy of the record with id, stamped as changed now.
func putChanged[T any, P certRecord[T]](t *txn, kind, id string, c P, records func(*state) map[string]P) {
	c.changed(t.r.now().UTC(), t.r.newUUID())
	s := t.s
	t.put(kind, id, c, func() { records(s)[id] = c })
}

// normalizeCertID accepts the 0x prefix and upper-case hex the model's pattern allows.
func normalizeCertID(id string) string {
	return strings.ToLower(strings.TrimPrefix(id, "0x"))
}

// creationKey is a sort key that orders records by creation time (then name), ascending or descending,
// as plain ascending strings — the order paginate pages through.
func creationKey(created time.Time, name string, ascending bool) string {
	n := max(created.UnixNano(), 0)
	if !ascending {
		n = math.MaxInt64 - n
	}
	return fmt.Sprintf("%019d/%s", n, name)
}

// ListCertificates returns a page of device certificates by creation date (descending unless ascending),
// all of them or those registered under caID. An unknown CA lists nothing (ListCertificatesByCA has no
// ResourceNotFoundException). AWS: API_ListCertificates, API_ListCertificatesByCA
func (r *Registry) ListCertificates(sc Scope, caID string, ascending bool, p Page) ([]Certificate, string, error) {
	if caID != "" {
		if err := checkCertID("caCertificateId", caID); err != nil {
			return nil, "", err
		}
		caID = normalizeCertID(caID)
	}
	keep := func(c *Certificate) bool { return caID == "" || c.CAID == caID }
	return listCerts(r, sc, deviceCerts, keep, ascending, p)
}

// markerPage gives the marker/pageSize listings (certificates, policies, attachments) their sizes:
// pageSize 1..250 (AWS: API_ListCertificates); 25 when absent, as observed for ListCertificates
// (github.com/rebuy-de/aws-nuke/issues/831) and assumed for the others.
func markerPage(p Page) Page {
	p.Default, p.Limit = 25, 250
	return p
}

// UpdateCertificate changes a certificate's status. It is idempotent. PENDING_TRANSFER and
// PENDING_ACTIVATION are AWS-internal and refused as targets; a REVOKED certificate stays revoked; a
// certificate being transferred can't change. Leaving ACTIVE tells the broker (Event "cert"), which
// disconnects devices using it. AWS: API_UpdateCertificate
func (r *Registry) UpdateCertificate(sc Scope, id, newStatus string) error {
	if err := checkCertID("certificateId", id); err != nil {
		return err
	}
	if newStatus == "" {
		return invalid("null", "newStatus", "Member must not be null")
	}
	if err := checkEnum("newStatus", newStatus, certStatuses); err != nil {
		return err
	}
	if newStatus == CertPendingTransfer || newStatus == CertPendingActivation {
		// AWS: API_UpdateCertificate — "Setting the status to PENDING_TRANSFER or PENDING_ACTIVATION will
		// result in an exception being thrown."
		return awserr.InvalidReq("The status %s cannot be set: it is used internally by AWS IoT", newStatus)
	}
	id = normalizeCertID(id)
	return r.update(sc, func(t *txn) error {
		old := t.s.certs[id]
		switch {
		case old == nil:
			return certNotFound(id)
		case old.Status == newStatus:
			return nil
		case old.Status == CertRevoked:
			return awserr.New(awserr.CertificateState, "A REVOKED certificate cannot change status. Id: %s", id)
		case old.Status == CertPendingTransfer:
			return awserr.New(awserr.CertificateState, "The certificate is being transferred (PENDING_TRANSFER). Id: %s", id)
		}
		c := *old
		c.Status = newStatus
		putChanged(t, "cert", id, &c, deviceCerts)
		t.emit(Event{Kind: "cert", Name: id, CertStatus: newStatus})
		return nil
	})
}

// DeleteCertificate deletes a certificate that is not ACTIVE and attached to no thing. Attached policies
// refuse the delete unless force, which detaches them. AWS: API_DeleteCertificate
func (r *Registry) DeleteCertificate(sc Scope, id string, force bool) error {
	if err := checkCertID("certificateId", id); err != nil {
		return err
	}
	id = normalizeCertID(id)
	return r.update(sc, func(t *txn) error {
		c := t.s.certs[id]
		if c == nil {
			return certNotFound(id)
		}
		certARN := CertificateARN(t.sc, id)
		switch c.Status {
		case CertActive:
			// Exact text observed from AWS (research §4.3).
			return awserr.New(awserr.CertificateState, "Certificate must be deactivated (not ACTIVE) before deletion. Id: %s", id)
		case CertPendingTransfer:
			return awserr.New(awserr.CertificateState, "Certificate must not be PENDING_TRANSFER before deletion. Id: %s", id)
		}
		if len(t.thingsOfPrincipal(certARN)) > 0 {
			return awserr.New(awserr.DeleteConflict, "Things must be detached before deletion (arn: %s)", certARN)
		}
		if pols := t.policiesOfTarget(certARN); len(pols) > 0 {
			if !force {
				return awserr.New(awserr.DeleteConflict, "Certificate policies must be detached before deletion (arn: %s)", certARN)
			}
			// AWS: API_DeleteCertificate — forceDelete "Forces the deletion of a certificate if it is
			// inactive and is not attached to an IoT thing."
			t.detachAllPolicies(certARN)
		}
		s := t.s
		t.del("cert", id, func() { delete(s.certs, id) })
		t.emit(Event{Kind: "cert", Name: id})
		return nil
	})
}

// certOfARN resolves a principal ARN that names a certificate of this scope.
func certOfARN(sc Scope, s *state, principal string) (*Certificate, bool) {
	a, err := arn.Parse(principal)
	if err != nil || a.Service != "iot" || a.Type != "cert" || a.Account != sc.Account || a.Region != sc.Region {
		return nil, false
	}
	c := s.certs[normalizeCertID(a.Name)]
	return c, c != nil
}
