package awsapi

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/certs"
)

func registrationCode(t *testing.T, c *iot.Client) string {
	t.Helper()
	out, err := c.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	mustOK(t, err)
	return aws.ToString(out.RegistrationCode)
}

func TestIdentityGetRegistrationCode(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	first := registrationCode(t, c)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(first) {
		t.Fatalf("registration code %q: want 64 hex characters", first)
	}
	if again := registrationCode(t, c); again != first {
		t.Fatalf("second call: got %s, want the same code %s", again, first)
	}
}

// registerCA registers ca in DEFAULT mode with a valid verification certificate.
func registerCA(t *testing.T, c *iot.Client, ca *thirdPartyCA, active bool) string {
	t.Helper()
	out, err := c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate:           aws.String(ca.pem),
		VerificationCertificate: aws.String(ca.verification(t, registrationCode(t, c))),
		SetAsActive:             active,
	})
	mustOK(t, err)
	return aws.ToString(out.CertificateId)
}

func TestIdentityRegisterCACertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	code := registrationCode(t, c)
	good := newThirdPartyCA(t, "Good CA")
	other := newThirdPartyCA(t, "Other CA")
	sni := newThirdPartyCA(t, "SNI CA")
	leaf := good.issue(t, "not-a-ca", idKey(t, "p256").Public())
	tests := []struct {
		name         string
		in           iot.RegisterCACertificateInput
		wantErr      string
		wantHTTP     int
		wantMode     types.CertificateMode
		wantStatus   types.CACertificateStatus
		wantAutoReg  types.AutoRegistrationStatus
		wantTemplate string
	}{
		{name: "DEFAULT, active, auto-registration, JITP template", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(good.pem), VerificationCertificate: aws.String(good.verification(t, code)),
			SetAsActive: true, AllowAutoRegistration: true,
			RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("jitp"), RoleArn: aws.String("arn:aws:iam::123456789012:role/jitp")},
			Tags:               []types.Tag{{Key: aws.String("team"), Value: aws.String("lab")}},
		}, wantMode: types.CertificateModeDefault, wantStatus: types.CACertificateStatusActive, wantAutoReg: types.AutoRegistrationStatusEnable, wantTemplate: "jitp"},
		{name: "SNI_ONLY without verification", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(sni.pem), CertificateMode: types.CertificateModeSniOnly,
		}, wantMode: types.CertificateModeSniOnly, wantStatus: types.CACertificateStatusInactive, wantAutoReg: types.AutoRegistrationStatusDisable},
		{name: "already registered", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(good.pem), VerificationCertificate: aws.String(good.verification(t, code)),
		}, wantErr: "ResourceAlreadyExistsException", wantHTTP: 409},
		{name: "DEFAULT needs a verification certificate", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(other.pem),
		}, wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "SNI_ONLY refuses a verification certificate", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(other.pem), CertificateMode: types.CertificateModeSniOnly, VerificationCertificate: aws.String(other.verification(t, code)),
		}, wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "verification CN is not the registration code", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(other.pem), VerificationCertificate: aws.String(other.verification(t, "not-the-code")),
		}, wantErr: "RegistrationCodeValidationException", wantHTTP: 400},
		{name: "verification signed by another key", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(other.pem), VerificationCertificate: aws.String(good.verification(t, code)),
		}, wantErr: "CertificateValidationException", wantHTTP: 400},
		{name: "not a CA certificate", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(leaf), CertificateMode: types.CertificateModeSniOnly,
		}, wantErr: "CertificateValidationException", wantHTTP: 400},
		{name: "not PEM", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String("garbage"), CertificateMode: types.CertificateModeSniOnly,
		}, wantErr: "CertificateValidationException", wantHTTP: 400},
		{name: "unknown mode", in: iot.RegisterCACertificateInput{
			CaCertificate: aws.String(other.pem), CertificateMode: "STRICT",
		}, wantErr: "InvalidRequestException", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := c.ListCACertificates(ctx, &iot.ListCACertificatesInput{})
			mustOK(t, err)
			out, err := c.RegisterCACertificate(ctx, &tt.in)
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				after, err := c.ListCACertificates(ctx, &iot.ListCACertificatesInput{})
				mustOK(t, err)
				if len(after.Certificates) != len(before.Certificates) {
					t.Fatalf("CA certificates after a refused registration: got %d, want %d", len(after.Certificates), len(before.Certificates))
				}
				return
			}
			mustOK(t, err)
			x, _ := certs.ParseCertificatePEM(aws.ToString(tt.in.CaCertificate))
			id := aws.ToString(out.CertificateId)
			if id != certs.CertificateID(x.Raw) || aws.ToString(out.CertificateArn) != "arn:aws:iot:eu-west-1:123456789012:cacert/"+id {
				t.Fatalf("got id %s arn %s, want the DER's SHA-256 and a cacert ARN", id, aws.ToString(out.CertificateArn))
			}
			d, err := c.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: out.CertificateId})
			mustOK(t, err)
			cd := d.CertificateDescription
			if cd.CertificateMode != tt.wantMode || cd.Status != tt.wantStatus || cd.AutoRegistrationStatus != tt.wantAutoReg {
				t.Fatalf("got mode %s status %s autoRegistration %s, want %s %s %s", cd.CertificateMode, cd.Status, cd.AutoRegistrationStatus, tt.wantMode, tt.wantStatus, tt.wantAutoReg)
			}
			if aws.ToString(cd.OwnedBy) != "123456789012" || aws.ToInt32(cd.CustomerVersion) != 1 || cd.Validity == nil || cd.CreationDate == nil || aws.ToString(cd.CertificatePem) == "" {
				t.Fatalf("description %+v: want owner, customerVersion 1, validity, creation date, PEM", cd)
			}
			if got := ""; d.RegistrationConfig != nil {
				got = aws.ToString(d.RegistrationConfig.TemplateName)
				if got != tt.wantTemplate {
					t.Fatalf("registrationConfig.templateName: got %q, want %q", got, tt.wantTemplate)
				}
			} else if tt.wantTemplate != "" {
				t.Fatalf("no registrationConfig, want template %q", tt.wantTemplate)
			}
		})
	}
	t.Run("tags", func(t *testing.T) {
		x, _ := certs.ParseCertificatePEM(good.pem)
		out, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:iot:eu-west-1:123456789012:cacert/" + certs.CertificateID(x.Raw))})
		mustOK(t, err)
		if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "team" {
			t.Fatalf("tags: got %+v, want team=lab", out.Tags)
		}
	})
	t.Run("list by template", func(t *testing.T) {
		all, err := c.ListCACertificates(ctx, &iot.ListCACertificatesInput{AscendingOrder: true})
		mustOK(t, err)
		jitp, err := c.ListCACertificates(ctx, &iot.ListCACertificatesInput{TemplateName: aws.String("jitp")})
		mustOK(t, err)
		if len(all.Certificates) != 2 || len(jitp.Certificates) != 1 {
			t.Fatalf("got %d CAs, %d with template jitp; want 2 and 1", len(all.Certificates), len(jitp.Certificates))
		}
		if all.Certificates[0].Status != types.CACertificateStatusActive || all.Certificates[0].CreationDate == nil {
			t.Fatalf("first CA %+v: want the ACTIVE one, with a creation date", all.Certificates[0])
		}
	})
}

func TestIdentityCASameSubjectLimit(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	for i := range 10 {
		registerCA(t, c, newThirdPartyCA(t, "Fleet CA"), i == 0)
	}
	_, err := c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(newThirdPartyCA(t, "Fleet CA").pem), CertificateMode: types.CertificateModeSniOnly,
	})
	wantAPIError(t, err, "LimitExceededException", 410)
}

// caFromKey makes a self-signed CA for key: two of them with one key and one subject are the
// ambiguity CertificateConflictException reports.
func caFromKey(t *testing.T, cn string, key crypto.Signer, serial int64) *thirdPartyCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	mustOK(t, err)
	cert, err := x509.ParseCertificate(der)
	mustOK(t, err)
	return &thirdPartyCA{cert: cert, key: key, pem: certs.EncodeCertificatePEM(der)}
}

func TestIdentityRegisterCertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	active := newThirdPartyCA(t, "Active CA")
	activeID := registerCA(t, c, active, true)
	inactive := newThirdPartyCA(t, "Inactive CA")
	registerCA(t, c, inactive, false)
	unregistered := newThirdPartyCA(t, "Unregistered CA")
	twinKey := idKey(t, "p384")
	twin1, twin2 := caFromKey(t, "Twin CA", twinKey, 1), caFromKey(t, "Twin CA", twinKey, 2)
	registerCA(t, c, twin1, true)
	twin2ID := registerCA(t, c, twin2, true)
	sniCA := newThirdPartyCA(t, "SNI CA")
	sniOut, err := c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(sniCA.pem), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true})
	mustOK(t, err)

	dev := active.issue(t, "device-1", idKey(t, "p256").Public())
	twinDev := twin1.issue(t, "twin-device", idKey(t, "p256").Public())
	tests := []struct {
		name       string
		in         iot.RegisterCertificateInput
		wantErr    string
		wantHTTP   int
		wantCA     string
		wantMode   types.CertificateMode
		wantStatus types.CertificateStatus
	}{
		{name: "signed by a registered CA", in: iot.RegisterCertificateInput{CertificatePem: aws.String(dev), Status: types.CertificateStatusActive},
			wantCA: activeID, wantMode: types.CertificateModeDefault, wantStatus: types.CertificateStatusActive},
		{name: "twice", in: iot.RegisterCertificateInput{CertificatePem: aws.String(dev)}, wantErr: "ResourceAlreadyExistsException", wantHTTP: 409},
		{name: "CA not registered", in: iot.RegisterCertificateInput{CertificatePem: aws.String(unregistered.issue(t, "d", idKey(t, "p256").Public()))},
			wantErr: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificatePem names an unregistered CA", in: iot.RegisterCertificateInput{CertificatePem: aws.String(unregistered.issue(t, "d", idKey(t, "p256").Public())), CaCertificatePem: aws.String(unregistered.pem)},
			wantErr: "CertificateValidationException", wantHTTP: 400},
		{name: "CA is INACTIVE", in: iot.RegisterCertificateInput{CertificatePem: aws.String(inactive.issue(t, "d", idKey(t, "p256").Public()))},
			wantErr: "CertificateStateException", wantHTTP: 406},
		{name: "two registered CAs share subject and key", in: iot.RegisterCertificateInput{CertificatePem: aws.String(twinDev)},
			wantErr: "CertificateConflictException", wantHTTP: 409},
		{name: "caCertificatePem resolves the ambiguity", in: iot.RegisterCertificateInput{CertificatePem: aws.String(twinDev), CaCertificatePem: aws.String(twin2.pem), SetAsActive: aws.Bool(true)},
			wantCA: twin2ID, wantMode: types.CertificateModeDefault, wantStatus: types.CertificateStatusActive},
		{name: "takes the CA's SNI_ONLY mode", in: iot.RegisterCertificateInput{CertificatePem: aws.String(sniCA.issue(t, "sni-dev", idKey(t, "p256").Public()))},
			wantCA: aws.ToString(sniOut.CertificateId), wantMode: types.CertificateModeSniOnly, wantStatus: types.CertificateStatusInactive},
		{name: "RSA 1024 device key", in: iot.RegisterCertificateInput{CertificatePem: aws.String(active.issue(t, "weak", idKey(t, "rsa1024").Public()))},
			wantErr: "CertificateValidationException", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listCertIDs(t, c)
			out, err := c.RegisterCertificate(ctx, &tt.in)
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				if got := listCertIDs(t, c); len(got) != len(before) {
					t.Fatalf("certificates after a refused registration: got %d, want %d", len(got), len(before))
				}
				return
			}
			mustOK(t, err)
			d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
			mustOK(t, err)
			cd := d.CertificateDescription
			if aws.ToString(cd.CaCertificateId) != tt.wantCA || cd.CertificateMode != tt.wantMode || cd.Status != tt.wantStatus {
				t.Fatalf("got CA %s mode %s status %s, want %s %s %s", aws.ToString(cd.CaCertificateId), cd.CertificateMode, cd.Status, tt.wantCA, tt.wantMode, tt.wantStatus)
			}
		})
	}
	t.Run("ListCertificatesByCA", func(t *testing.T) {
		out, err := c.ListCertificatesByCA(ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(activeID)})
		mustOK(t, err)
		if len(out.Certificates) != 1 {
			t.Fatalf("got %d certificates, want the one registered under the CA", len(out.Certificates))
		}
		none, err := c.ListCertificatesByCA(ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(strings.Repeat("e", 64))})
		mustOK(t, err)
		if len(none.Certificates) != 0 {
			t.Fatalf("unknown CA: got %d certificates, want none", len(none.Certificates))
		}
	})
}

func TestIdentityUpdateAndDeleteCACertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	ca := newThirdPartyCA(t, "Lab CA")
	caID := registerCA(t, c, ca, true)
	devOut, err := c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(ca.issue(t, "dev", idKey(t, "p256").Public()))})
	mustOK(t, err)
	unknown := strings.Repeat("c", 64)
	steps := []struct {
		name     string
		call     func() error
		wantErr  string
		wantHTTP int
	}{
		{"delete while ACTIVE", func() error {
			return errOf(c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)}))
		}, "CertificateStateException", 406},
		{"bad status", func() error {
			return errOf(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: "REVOKED"}))
		}, "InvalidRequestException", 400},
		{"update unknown", func() error {
			return errOf(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(unknown), NewStatus: types.CACertificateStatusInactive}))
		}, "ResourceNotFoundException", 404},
		{"deactivate, enable auto-registration", func() error {
			return errOf(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID),
				NewStatus: types.CACertificateStatusInactive, NewAutoRegistrationStatus: types.AutoRegistrationStatusEnable}))
		}, "", 200},
		{"delete while a device certificate is registered with it", func() error {
			return errOf(c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)}))
		}, "CertificateStateException", 406},
		{"delete the device certificate", func() error {
			return errOf(c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: devOut.CertificateId}))
		}, "", 200},
		{"delete", func() error {
			return errOf(c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)}))
		}, "", 200},
		{"describe after delete", func() error {
			return errOf(c.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)}))
		}, "ResourceNotFoundException", 404},
		{"delete unknown", func() error {
			return errOf(c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(unknown)}))
		}, "ResourceNotFoundException", 404},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.call()
			if st.wantErr != "" {
				wantAPIError(t, err, st.wantErr, st.wantHTTP)
				return
			}
			mustOK(t, err)
			if st.name == "deactivate, enable auto-registration" {
				d, err := c.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})
				mustOK(t, err)
				cd := d.CertificateDescription
				if cd.Status != types.CACertificateStatusInactive || cd.AutoRegistrationStatus != types.AutoRegistrationStatusEnable || aws.ToInt32(cd.CustomerVersion) != 2 {
					t.Fatalf("got status %s autoRegistration %s customerVersion %d, want INACTIVE ENABLE 2", cd.Status, cd.AutoRegistrationStatus, aws.ToInt32(cd.CustomerVersion))
				}
			}
		})
	}
}
