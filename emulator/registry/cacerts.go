package registry

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// CA certificate statuses and auto-registration values. AWS: API_CACertificateDescription
const (
	CAAutoEnable  = "ENABLE"
	CAAutoDisable = "DISABLE"
)

// maxCAsPerSubject: "You can register up to 10 CA certificates with the same CA subject field per
// Amazon Web Services account." AWS: API_RegisterCACertificate
const maxCAsPerSubject = 10

// CACertificateARN is arn:aws:iot:<region>:<account>:cacert/<id>.
func CACertificateARN(sc Scope, id string) string {
	return arn.IoT(sc.Region, sc.Account, "cacert", id)
}

// The registration code is kept as an extra record: kind "regcode", name "code", a JSON string.
const (
	regCodeKind = "regcode"
	regCodeName = "code"
)

func storedRegistrationCode(s *state) string {
	var code string
	if raw := s.extra[regCodeKind][regCodeName]; raw != nil {
		_ = json.Unmarshal(raw, &code)
	}
	return code
}

// RegistrationCode returns the account's registration code (64 hex characters), creating it on first
// use; it stays the same until the state is reset. AWS: API_GetRegistrationCode
func (r *Registry) RegistrationCode(sc Scope) (string, error) {
	var code string
	_ = r.view(sc, func(s *state) error { code = storedRegistrationCode(s); return nil })
	if code != "" {
		return code, nil
	}
	err := r.update(sc, func(t *txn) error {
		if code = storedRegistrationCode(t.s); code != "" {
			return nil // created meanwhile
		}
		code = t.r.randHex(32)
		raw, _ := json.Marshal(code)
		s := t.s
		t.put(regCodeKind, regCodeName, code, func() {
			if s.extra[regCodeKind] == nil {
				s.extra[regCodeKind] = map[string]json.RawMessage{}
			}
			s.extra[regCodeKind][regCodeName] = raw
		})
		return nil
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// RegistrationConfig is a CA's just-in-time provisioning configuration. AWS: API_RegistrationConfig
type RegistrationConfig struct {
	RoleARN, TemplateBody, TemplateName string
}

// RegisterCAInput is RegisterCACertificate's request.
type RegisterCAInput struct {
	CAPEM            string // caCertificate
	VerificationPEM  string // verificationCertificate: required in DEFAULT mode, refused in SNI_ONLY
	Mode             string // DEFAULT (when "") or SNI_ONLY
	SetAsActive      bool
	AutoRegistration bool // allowAutoRegistration
	Config           *RegistrationConfig
	Tags             []Tag
}

// RegisterCACertificate registers a CA. In DEFAULT mode the caller proves possession of the CA's key
// with a verification certificate the CA signed, whose common name is the registration code.
// AWS: API_RegisterCACertificate, register-CA-cert
func (r *Registry) RegisterCACertificate(sc Scope, in RegisterCAInput) (CACertificate, error) {
	if in.CAPEM == "" {
		return CACertificate{}, invalid("null", "caCertificate", "Member must not be null")
	}
	mode := in.Mode
	if mode == "" {
		mode = ModeDefault // AWS: "When certificateMode is not provided, it defaults to DEFAULT."
	}
	if err := checkEnum("certificateMode", mode, []string{ModeDefault, ModeSNIOnly}); err != nil {
		return CACertificate{}, err
	}
	if err := checkTags(in.Tags); err != nil {
		return CACertificate{}, err
	}
	ca, err := certs.ParseCertificatePEM(in.CAPEM)
	if err != nil {
		return CACertificate{}, awserr.New(awserr.CertificateValidation, "CA certificate is not valid. %s", certMessage(err))
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		// Wording as reported from AWS (github.com/NordicSemiconductor/asset-tracker-cloud-docs/issues/631).
		return CACertificate{}, awserr.New(awserr.CertificateValidation, "CA certificate is not valid. The CA certificate does not have the basicConstraints extension as true")
	}
	if err := certs.CheckKey(ca.PublicKey); err != nil {
		return CACertificate{}, awserr.New(awserr.CertificateValidation, "CA certificate is not valid. %s", certMessage(err))
	}
	if err := certs.CheckSignatureAlgorithm(ca.SignatureAlgorithm); err != nil {
		return CACertificate{}, awserr.New(awserr.CertificateValidation, "CA certificate is not valid. %s", certMessage(err))
	}
	if r.now().After(ca.NotAfter) {
		return CACertificate{}, awserr.New(awserr.CertificateValidation, "CA certificate is not valid. It expired at %s", ca.NotAfter.UTC().Format(time.RFC3339))
	}
	switch {
	case mode == ModeSNIOnly && in.VerificationPEM != "":
		return CACertificate{}, awserr.InvalidReq("The verificationCertificate field must be empty when certificateMode is SNI_ONLY")
	case mode == ModeDefault && in.VerificationPEM == "":
		return CACertificate{}, awserr.InvalidReq("The verificationCertificate field must not be empty when certificateMode is DEFAULT")
	}
	if in.VerificationPEM != "" {
		v, err := certs.ParseCertificatePEM(in.VerificationPEM)
		if err != nil {
			return CACertificate{}, awserr.New(awserr.CertificateValidation, "Verification certificate is not valid. %s", certMessage(err))
		}
		code, err := r.RegistrationCode(sc)
		if err != nil {
			return CACertificate{}, err
		}
		if err := certs.VerifyVerificationCert(ca, v, code); err != nil {
			if errors.Is(err, certs.ErrRegistrationCode) {
				return CACertificate{}, awserr.New(awserr.RegistrationCodeInvalid, "The verification certificate's common name is not the registration code (see GetRegistrationCode). %s", certMessage(err))
			}
			return CACertificate{}, awserr.New(awserr.CertificateValidation, "Verification certificate is not valid. %s", certMessage(err))
		}
	}
	now := r.now().UTC()
	rec := &CACertificate{
		ID:               certs.CertificateID(ca.Raw),
		PEM:              certs.EncodeCertificatePEM(ca.Raw),
		Status:           CertInactive,
		AutoRegistration: CAAutoDisable,
		Mode:             mode,
		Owner:            sc.Account,
		Created:          now,
		Modified:         now,
		NotBefore:        ca.NotBefore.UTC(),
		NotAfter:         ca.NotAfter.UTC(),
		Generation:       r.newUUID(),
		Customer:         1,
	}
	if in.SetAsActive {
		rec.Status = CertActive
	}
	if in.AutoRegistration {
		rec.AutoRegistration = CAAutoEnable
	}
	if c := in.Config; c != nil {
		rec.Role, rec.Template, rec.TemplateName = c.RoleARN, c.TemplateBody, c.TemplateName
	}
	caARN := CACertificateARN(sc, rec.ID)
	err = r.update(sc, func(t *txn) error {
		if _, ok := t.s.caCerts[rec.ID]; ok {
			return alreadyExists("The CA certificate is already registered", rec.ID, caARN)
		}
		same := 0
		for _, o := range t.s.caCerts {
			if oc, err := certs.ParseCertificatePEM(o.PEM); err == nil && string(oc.RawSubject) == string(ca.RawSubject) {
				same++
			}
		}
		if same >= maxCAsPerSubject {
			return awserr.New(awserr.LimitExceeded, "You can register up to %d CA certificates with the same subject field; this account already has %d", maxCAsPerSubject, same)
		}
		if err := t.createTags(caARN, in.Tags); err != nil {
			return err
		}
		s := t.s
		t.put("cacert", rec.ID, rec, func() { s.caCerts[rec.ID] = rec })
		return nil
	})
	if err != nil {
		return CACertificate{}, err
	}
	return *rec, nil
}

func caNotFound(id string) error {
	return awserr.NotFound("The CA certificate %s does not exist", id)
}

// DescribeCACertificate returns a registered CA. AWS: API_DescribeCACertificate
func (r *Registry) DescribeCACertificate(sc Scope, id string) (CACertificate, error) {
	return describeCert(r, sc, "caCertificateId", id, caCerts, caNotFound)
}

// CACertificateByID returns a copy of a registered CA, for the broker (a device certificate's CAID names it).
func (r *Registry) CACertificateByID(sc Scope, id string) (CACertificate, bool) {
	return certByID(r, sc, id, caCerts)
}

// ListCACertificates returns a page of registered CAs by creation date, descending unless ascending;
// templateName keeps those whose registration config names that provisioning template.
// AWS: API_ListCACertificates
func (r *Registry) ListCACertificates(sc Scope, templateName string, ascending bool, p Page) ([]CACertificate, string, error) {
	keep := func(c *CACertificate) bool { return templateName == "" || c.TemplateName == templateName }
	return listCerts(r, sc, caCerts, keep, ascending, p)
}

func caCerts(s *state) map[string]*CACertificate { return s.caCerts }

func (c *CACertificate) creation() (time.Time, string) { return c.Created, c.ID }

func (c *CACertificate) changed(now time.Time, generation string) {
	c.Modified, c.Customer, c.Generation = now, c.Customer+1, generation
}

// UpdateCAInput is UpdateCACertificate's request; zero fields change nothing.
type UpdateCAInput struct {
	NewStatus              string // ACTIVE or INACTIVE
	NewAutoRegistration    string // ENABLE or DISABLE
	Config                 *RegistrationConfig
	RemoveAutoRegistration bool // drops the registration config
}

// UpdateCACertificate changes a CA's status, auto-registration or registration config. A status change is
// told to the broker as Event{Kind: "cacert"}: devices whose certificate a now INACTIVE CA signed can't
// connect. AWS: API_UpdateCACertificate
func (r *Registry) UpdateCACertificate(sc Scope, id string, in UpdateCAInput) error {
	if err := checkCertID("caCertificateId", id); err != nil {
		return err
	}
	if in.NewStatus != "" {
		if err := checkEnum("newStatus", in.NewStatus, []string{CertActive, CertInactive}); err != nil {
			return err
		}
	}
	if in.NewAutoRegistration != "" {
		if err := checkEnum("newAutoRegistrationStatus", in.NewAutoRegistration, []string{CAAutoEnable, CAAutoDisable}); err != nil {
			return err
		}
	}
	id = normalizeCertID(id)
	return r.update(sc, func(t *txn) error {
		old := t.s.caCerts[id]
		if old == nil {
			return caNotFound(id)
		}
		c := *old
		if in.NewStatus != "" {
			c.Status = in.NewStatus
		}
		if in.NewAutoRegistration != "" {
			c.AutoRegistration = in.NewAutoRegistration
		}
		if in.Config != nil {
			c.Role, c.Template, c.TemplateName = in.Config.RoleARN, in.Config.TemplateBody, in.Config.TemplateName
		}
		if in.RemoveAutoRegistration {
			c.Role, c.Template, c.TemplateName = "", "", ""
		}
		if c == *old {
			return nil
		}
		putChanged(t, "cacert", id, &c, caCerts)
		if c.Status != old.Status {
			t.emit(Event{Kind: "cacert", Name: id, CertStatus: c.Status})
		}
		return nil
	})
}

// DeleteCACertificate deletes an INACTIVE CA that no registered device certificate names.
// AWS: API_DeleteCACertificate (CertificateStateException is its only state error)
func (r *Registry) DeleteCACertificate(sc Scope, id string) error {
	if err := checkCertID("caCertificateId", id); err != nil {
		return err
	}
	id = normalizeCertID(id)
	return r.update(sc, func(t *txn) error {
		c := t.s.caCerts[id]
		if c == nil {
			return caNotFound(id)
		}
		if c.Status == CertActive {
			return awserr.New(awserr.CertificateState, "Certificate must be deactivated (not ACTIVE) before deletion. Id: %s", id)
		}
		for _, dc := range t.s.certs {
			if dc.CAID == id {
				return awserr.New(awserr.CertificateState, "The CA certificate cannot be deleted while device certificates registered with it exist (for example %s). Id: %s", dc.ID, id)
			}
		}
		t.setTags(CACertificateARN(t.sc, id), nil)
		s := t.s
		t.del("cacert", id, func() { delete(s.caCerts, id) })
		return nil
	})
}
