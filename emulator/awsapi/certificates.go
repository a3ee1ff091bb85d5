package awsapi

import (
	"errors"
	"strings"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerCertificates() {
	s.handle("iot", "CreateKeysAndCertificate", op(s.createKeysAndCertificate))
	s.handle("iot", "CreateCertificateFromCsr", op(s.createCertificateFromCsr))
	s.handle("iot", "RegisterCertificate", op(s.registerCertificate))
	s.handle("iot", "RegisterCertificateWithoutCA", op(s.registerCertificateWithoutCA))
	s.handle("iot", "DescribeCertificate", op(s.describeCertificate))
	s.handle("iot", "ListCertificates", op(s.listCertificates))
	s.handle("iot", "ListCertificatesByCA", op(s.listCertificatesByCA))
	s.handle("iot", "UpdateCertificate", op(s.updateCertificate))
	s.handle("iot", "DeleteCertificate", op(s.deleteCertificate))
	s.handle("iot", "GetRegistrationCode", op(s.getRegistrationCode))
	s.handle("iot", "RegisterCACertificate", op(s.registerCACertificate))
	s.handle("iot", "DescribeCACertificate", op(s.describeCACertificate))
	s.handle("iot", "ListCACertificates", op(s.listCACertificates))
	s.handle("iot", "UpdateCACertificate", op(s.updateCACertificate))
	s.handle("iot", "DeleteCACertificate", op(s.deleteCACertificate))
}

// noOutput is the output of operations whose response has no body.
type noOutput struct{}

// markerPage turns a marker/pageSize List call into a registry page; pageSize is the model's PageSize
// (1–250), refused outside it with AWS's validation error. AWS: API_ListCertificates
func markerPage(marker string, pageSize *int32) (registry.Page, error) {
	p := registry.Page{Token: marker}
	if pageSize != nil {
		if n := *pageSize; n < 1 || n > 250 {
			bound := "greater than or equal to 1"
			if n > 250 {
				bound = "less than or equal to 250"
			}
			return p, awserr.InvalidReq("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value %s", n, bound)
		}
		p.Max = int(*pageSize)
	}
	return p, nil
}

// required is AWS's validation error for a missing required member (the SDKs check this client-side;
// raw HTTP callers meet it here).
func required(member string) error {
	return awserr.InvalidReq("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// caError maps the local CA's errors: a bad CSR or key is an InvalidRequestException.
// AWS: API_CreateCertificateFromCsr (its only 4xx besides throttling and authorization)
func caError(err error) error {
	for _, e := range []error{certs.ErrBadCSR, certs.ErrWeakKey, certs.ErrUnsupportedKey, certs.ErrUnsupportedSignature} {
		if errors.Is(err, e) {
			return awserr.InvalidReq("%s", strings.ReplaceAll(err.Error(), "certs: ", ""))
		}
	}
	return err
}

func (s *Server) ca() (*certs.CA, error) {
	if s.cfg.CA == nil {
		return nil, errors.New("awsapi: no CA configured")
	}
	return s.cfg.CA, nil
}

// AWS: API_CreateKeysAndCertificate — a 2048-bit RSA key pair and a certificate from the local CA; the
// private key is returned only here, never stored.
func (s *Server) createKeysAndCertificate(r *Request, in *iotmodel.CreateKeysAndCertificateRequest) (*iotmodel.CreateKeysAndCertificateResponse, error) {
	ca, err := s.ca()
	if err != nil {
		return nil, err
	}
	kc, err := ca.CreateKeysAndCertificate()
	if err != nil {
		return nil, err
	}
	c, err := s.cfg.Registry.CreateCertificate(r.Scope, kc.Cert, deref(in.SetAsActive))
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateKeysAndCertificateResponse{
		CertificateArn: registry.CertificateARN(r.Scope, c.ID),
		CertificateId:  c.ID,
		CertificatePem: c.PEM,
		KeyPair:        &iotmodel.KeyPair{PublicKey: kc.PublicKeyPEM, PrivateKey: kc.PrivateKeyPEM},
	}, nil
}

// AWS: API_CreateCertificateFromCsr — the same CSR twice gives two certificates (a new serial each time).
func (s *Server) createCertificateFromCsr(r *Request, in *iotmodel.CreateCertificateFromCsrRequest) (*iotmodel.CreateCertificateFromCsrResponse, error) {
	if in.CertificateSigningRequest == "" {
		return nil, required("certificateSigningRequest")
	}
	if n := len(in.CertificateSigningRequest); n > certs.MaxCSRLength {
		return nil, awserr.InvalidReq("1 validation error detected: Value at 'certificateSigningRequest' failed to satisfy constraint: Member must have length less than or equal to %d", certs.MaxCSRLength)
	}
	ca, err := s.ca()
	if err != nil {
		return nil, err
	}
	cert, _, err := ca.SignCSR(in.CertificateSigningRequest)
	if err != nil {
		return nil, caError(err)
	}
	c, err := s.cfg.Registry.CreateCertificate(r.Scope, cert, deref(in.SetAsActive))
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateCertificateFromCsrResponse{
		CertificateArn: registry.CertificateARN(r.Scope, c.ID),
		CertificateId:  c.ID,
		CertificatePem: c.PEM,
	}, nil
}

// AWS: API_RegisterCertificate
func (s *Server) registerCertificate(r *Request, in *iotmodel.RegisterCertificateRequest) (*iotmodel.RegisterCertificateResponse, error) {
	c, err := s.cfg.Registry.RegisterCertificate(r.Scope, registry.RegisterCertificateInput{
		PEM: in.CertificatePem, CAPEM: in.CaCertificatePem, Status: in.Status, SetAsActive: deref(in.SetAsActive),
	})
	if err != nil {
		return nil, err
	}
	return &iotmodel.RegisterCertificateResponse{CertificateArn: registry.CertificateARN(r.Scope, c.ID), CertificateId: c.ID}, nil
}

// AWS: API_RegisterCertificateWithoutCA
func (s *Server) registerCertificateWithoutCA(r *Request, in *iotmodel.RegisterCertificateWithoutCARequest) (*iotmodel.RegisterCertificateWithoutCAResponse, error) {
	c, err := s.cfg.Registry.RegisterCertificate(r.Scope, registry.RegisterCertificateInput{
		PEM: in.CertificatePem, Status: in.Status, WithoutCA: true,
	})
	if err != nil {
		return nil, err
	}
	return &iotmodel.RegisterCertificateWithoutCAResponse{CertificateArn: registry.CertificateARN(r.Scope, c.ID), CertificateId: c.ID}, nil
}

func validity(nb, na wire.Timestamp) *iotmodel.CertificateValidity {
	return &iotmodel.CertificateValidity{NotBefore: &nb, NotAfter: &na}
}

// AWS: API_DescribeCertificate, API_CertificateDescription
func (s *Server) describeCertificate(r *Request, in *iotmodel.DescribeCertificateRequest) (*iotmodel.DescribeCertificateResponse, error) {
	c, err := s.cfg.Registry.DescribeCertificate(r.Scope, in.CertificateId)
	if err != nil {
		return nil, err
	}
	return &iotmodel.DescribeCertificateResponse{CertificateDescription: &iotmodel.CertificateDescription{
		CaCertificateId:  c.CAID,
		CertificateArn:   registry.CertificateARN(r.Scope, c.ID),
		CertificateId:    c.ID,
		CertificateMode:  c.Mode,
		CertificatePem:   c.PEM,
		CreationDate:     wire.NewTimestamp(c.Created),
		CustomerVersion:  ptr(int32(c.Customer)),
		GenerationId:     c.Generation,
		LastModifiedDate: wire.NewTimestamp(c.Modified),
		OwnedBy:          c.Owner,
		Status:           c.Status,
		Validity:         validity(wire.Timestamp{Time: c.NotBefore}, wire.Timestamp{Time: c.NotAfter}),
	}}, nil
}

// certificateList sends "certificates": [] when there are none, as AWS does.
type certificateList struct {
	Certificates []iotmodel.Certificate `json:"certificates"`
	NextMarker   string                 `json:"nextMarker,omitempty"`
}

func (s *Server) certificateList(r *Request, caID string, asc *bool, marker string, pageSize *int32) (*certificateList, error) {
	p, err := markerPage(marker, pageSize)
	if err != nil {
		return nil, err
	}
	cs, next, err := s.cfg.Registry.ListCertificates(r.Scope, caID, deref(asc), p)
	if err != nil {
		return nil, err
	}
	out := &certificateList{Certificates: []iotmodel.Certificate{}, NextMarker: next}
	for _, c := range cs {
		out.Certificates = append(out.Certificates, iotmodel.Certificate{
			CertificateArn:  registry.CertificateARN(r.Scope, c.ID),
			CertificateId:   c.ID,
			CertificateMode: c.Mode,
			CreationDate:    wire.NewTimestamp(c.Created),
			Status:          c.Status,
		})
	}
	return out, nil
}

// AWS: API_ListCertificates — newest first unless isAscendingOrder.
func (s *Server) listCertificates(r *Request, in *iotmodel.ListCertificatesRequest) (*certificateList, error) {
	return s.certificateList(r, "", in.AscendingOrder, in.Marker, in.PageSize)
}

// AWS: API_ListCertificatesByCA
func (s *Server) listCertificatesByCA(r *Request, in *iotmodel.ListCertificatesByCARequest) (*certificateList, error) {
	if in.CaCertificateId == "" {
		return nil, required("caCertificateId")
	}
	return s.certificateList(r, in.CaCertificateId, in.AscendingOrder, in.Marker, in.PageSize)
}

// AWS: API_UpdateCertificate
func (s *Server) updateCertificate(r *Request, in *iotmodel.UpdateCertificateRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.UpdateCertificate(r.Scope, in.CertificateId, in.NewStatus)
}

// AWS: API_DeleteCertificate
func (s *Server) deleteCertificate(r *Request, in *iotmodel.DeleteCertificateRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.DeleteCertificate(r.Scope, in.CertificateId, deref(in.ForceDelete))
}

// AWS: API_GetRegistrationCode
func (s *Server) getRegistrationCode(r *Request, in *iotmodel.GetRegistrationCodeRequest) (*iotmodel.GetRegistrationCodeResponse, error) {
	code, err := s.cfg.Registry.RegistrationCode(r.Scope)
	if err != nil {
		return nil, err
	}
	return &iotmodel.GetRegistrationCodeResponse{RegistrationCode: code}, nil
}

func registrationConfigIn(c *iotmodel.RegistrationConfig) *registry.RegistrationConfig {
	if c == nil {
		return nil
	}
	return &registry.RegistrationConfig{RoleARN: c.RoleArn, TemplateBody: c.TemplateBody, TemplateName: c.TemplateName}
}

// AWS: API_RegisterCACertificate
func (s *Server) registerCACertificate(r *Request, in *iotmodel.RegisterCACertificateRequest) (*iotmodel.RegisterCACertificateResponse, error) {
	c, err := s.cfg.Registry.RegisterCACertificate(r.Scope, registry.RegisterCAInput{
		CAPEM:            in.CaCertificate,
		VerificationPEM:  in.VerificationCertificate,
		Mode:             in.CertificateMode,
		SetAsActive:      deref(in.SetAsActive),
		AutoRegistration: deref(in.AllowAutoRegistration),
		Config:           registrationConfigIn(in.RegistrationConfig),
		Tags:             tagsIn(in.Tags),
	})
	if err != nil {
		return nil, err
	}
	return &iotmodel.RegisterCACertificateResponse{CertificateArn: registry.CACertificateARN(r.Scope, c.ID), CertificateId: c.ID}, nil
}

// AWS: API_DescribeCACertificate
func (s *Server) describeCACertificate(r *Request, in *iotmodel.DescribeCACertificateRequest) (*iotmodel.DescribeCACertificateResponse, error) {
	c, err := s.cfg.Registry.DescribeCACertificate(r.Scope, in.CertificateId)
	if err != nil {
		return nil, err
	}
	out := &iotmodel.DescribeCACertificateResponse{CertificateDescription: &iotmodel.CACertificateDescription{
		AutoRegistrationStatus: c.AutoRegistration,
		CertificateArn:         registry.CACertificateARN(r.Scope, c.ID),
		CertificateId:          c.ID,
		CertificateMode:        c.Mode,
		CertificatePem:         c.PEM,
		CreationDate:           wire.NewTimestamp(c.Created),
		CustomerVersion:        ptr(int32(c.Customer)),
		GenerationId:           c.Generation,
		LastModifiedDate:       wire.NewTimestamp(c.Modified),
		OwnedBy:                c.Owner,
		Status:                 c.Status,
		Validity:               validity(wire.Timestamp{Time: c.NotBefore}, wire.Timestamp{Time: c.NotAfter}),
	}}
	if c.Role != "" || c.Template != "" || c.TemplateName != "" {
		out.RegistrationConfig = &iotmodel.RegistrationConfig{RoleArn: c.Role, TemplateBody: c.Template, TemplateName: c.TemplateName}
	}
	return out, nil
}

// caCertificateList sends "certificates": [] when there are none.
type caCertificateList struct {
	Certificates []iotmodel.CACertificate `json:"certificates"`
	NextMarker   string                   `json:"nextMarker,omitempty"`
}

// AWS: API_ListCACertificates
func (s *Server) listCACertificates(r *Request, in *iotmodel.ListCACertificatesRequest) (*caCertificateList, error) {
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	cs, next, err := s.cfg.Registry.ListCACertificates(r.Scope, in.TemplateName, deref(in.AscendingOrder), p)
	if err != nil {
		return nil, err
	}
	out := &caCertificateList{Certificates: []iotmodel.CACertificate{}, NextMarker: next}
	for _, c := range cs {
		out.Certificates = append(out.Certificates, iotmodel.CACertificate{
			CertificateArn: registry.CACertificateARN(r.Scope, c.ID),
			CertificateId:  c.ID,
			CreationDate:   wire.NewTimestamp(c.Created),
			Status:         c.Status,
		})
	}
	return out, nil
}

// AWS: API_UpdateCACertificate
func (s *Server) updateCACertificate(r *Request, in *iotmodel.UpdateCACertificateRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.UpdateCACertificate(r.Scope, in.CertificateId, registry.UpdateCAInput{
		NewStatus:              in.NewStatus,
		NewAutoRegistration:    in.NewAutoRegistrationStatus,
		Config:                 registrationConfigIn(in.RegistrationConfig),
		RemoveAutoRegistration: deref(in.RemoveAutoRegistration),
	})
}

// AWS: API_DeleteCACertificate
func (s *Server) deleteCACertificate(r *Request, in *iotmodel.DeleteCACertificateRequest) (*iotmodel.DeleteCACertificateResponse, error) {
	return nil, s.cfg.Registry.DeleteCACertificate(r.Scope, in.CertificateId)
}
