package awsapi

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/registry"
)

func TestIdentityCreateKeysAndCertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	tests := []struct {
		name       string
		active     bool
		wantStatus types.CertificateStatus
	}{
		{"default is inactive", false, types.CertificateStatusInactive},
		{"setAsActive", true, types.CertificateStatusActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			out, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: tt.active})
			mustOK(t, err)
			cert, err := certs.ParseCertificatePEM(aws.ToString(out.CertificatePem))
			mustOK(t, err)
			sum := sha256.Sum256(cert.Raw)
			id := aws.ToString(out.CertificateId)
			if got, want := id, hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("certificateId: got %s, want the hex SHA-256 of the DER %s", got, want)
			}
			if got, want := aws.ToString(out.CertificateArn), "arn:aws:iot:eu-west-1:123456789012:cert/"+id; got != want {
				t.Fatalf("certificateArn: got %s, want %s", got, want)
			}
			key, err := certs.ParsePrivateKeyPEM(aws.ToString(out.KeyPair.PrivateKey))
			mustOK(t, err)
			if !strings.HasPrefix(aws.ToString(out.KeyPair.PrivateKey), "-----BEGIN RSA PRIVATE KEY-----") {
				t.Fatalf("private key: got %.40q, want an RSA PRIVATE KEY block", aws.ToString(out.KeyPair.PrivateKey))
			}
			if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
				t.Fatalf("private key %T does not match the certificate's public key", key)
			}
			if !strings.HasPrefix(aws.ToString(out.KeyPair.PublicKey), "-----BEGIN PUBLIC KEY-----") {
				t.Fatalf("public key: got %.40q, want a PUBLIC KEY block", aws.ToString(out.KeyPair.PublicKey))
			}
			if err := cert.CheckSignatureFrom(e.Srv.cfg.CA.DeviceCA()); err != nil {
				t.Fatalf("certificate not issued by the local CA: %v", err)
			}
			d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
			mustOK(t, err)
			cd := d.CertificateDescription
			if got := cd.Status; got != tt.wantStatus {
				t.Fatalf("status: got %s, want %s", got, tt.wantStatus)
			}
			checks := []struct{ field, got, want string }{
				{"certificateId", aws.ToString(cd.CertificateId), id},
				{"certificateArn", aws.ToString(cd.CertificateArn), aws.ToString(out.CertificateArn)},
				{"certificatePem", aws.ToString(cd.CertificatePem), aws.ToString(out.CertificatePem)},
				{"ownedBy", aws.ToString(cd.OwnedBy), "123456789012"},
				{"certificateMode", string(cd.CertificateMode), "DEFAULT"},
				{"caCertificateId", aws.ToString(cd.CaCertificateId), ""},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s: got %q, want %q", ck.field, ck.got, ck.want)
				}
			}
			if aws.ToString(cd.GenerationId) == "" || aws.ToInt32(cd.CustomerVersion) != 1 {
				t.Errorf("generationId %q customerVersion %d: want set and 1", aws.ToString(cd.GenerationId), aws.ToInt32(cd.CustomerVersion))
			}
			if cd.CreationDate == nil || cd.CreationDate.Before(before) || cd.LastModifiedDate == nil {
				t.Errorf("creationDate %v lastModifiedDate %v: want both, after %v", cd.CreationDate, cd.LastModifiedDate, before)
			}
			if got, want := cd.Validity.NotAfter.UTC(), time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC); !got.Equal(want) {
				t.Errorf("validity.notAfter: got %v, want %v (AWS-issued certificates)", got, want)
			}
			if got, want := cd.Validity.NotBefore.UTC(), cert.NotBefore.UTC(); !got.Equal(want) {
				t.Errorf("validity.notBefore: got %v, want %v", got, want)
			}
		})
	}
}

func TestIdentityCreateCertificateFromCsr(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	tests := []struct {
		name    string
		csr     func(t *testing.T) string
		wantErr string
	}{
		{"RSA 2048", func(t *testing.T) string { return csrPEM(t, idKey(t, "rsa2048"), "rsa-thing") }, ""},
		{"EC P-256", func(t *testing.T) string { return csrPEM(t, idKey(t, "p256"), "p256-thing") }, ""},
		{"EC P-384", func(t *testing.T) string { return csrPEM(t, idKey(t, "p384"), "p384-thing") }, ""},
		{"RSA 1024 is too weak", func(t *testing.T) string { return csrPEM(t, idKey(t, "rsa1024"), "weak") }, "InvalidRequestException"},
		{"EC P-224 is not accepted", func(t *testing.T) string { return csrPEM(t, idKey(t, "p224"), "p224") }, "InvalidRequestException"},
		{"Ed25519 is not accepted", func(t *testing.T) string { return csrPEM(t, idKey(t, "ed25519"), "ed") }, "InvalidRequestException"},
		{"not a CSR", func(t *testing.T) string { return "hello" }, "InvalidRequestException"},
		{"a certificate instead of a CSR", func(t *testing.T) string { return selfSignedPEM(t, idKey(t, "p256"), "x") }, "InvalidRequestException"},
		{"empty", func(t *testing.T) string { return "" }, "InvalidRequestException"},
		{"longer than 4096 characters", func(t *testing.T) string {
			return csrPEM(t, idKey(t, "p256"), "x") + strings.Repeat("#", 4096)
		}, "InvalidRequestException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listCertIDs(t, c)
			csr := tt.csr(t)
			out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr), SetAsActive: true})
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, 400)
				if got := listCertIDs(t, c); len(got) != len(before) {
					t.Fatalf("certificates after a refused CSR: got %d, want %d", len(got), len(before))
				}
				return
			}
			mustOK(t, err)
			cert, err := certs.ParseCertificatePEM(aws.ToString(out.CertificatePem))
			mustOK(t, err)
			req, _ := certs.ParseCSRPEM(csr)
			if got, want := cert.Subject.CommonName, req.Subject.CommonName; got != want {
				t.Fatalf("subject CN: got %q, want the CSR's %q", got, want)
			}
			d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
			mustOK(t, err)
			if got := d.CertificateDescription.Status; got != types.CertificateStatusActive {
				t.Fatalf("status: got %s, want ACTIVE", got)
			}
		})
	}
	t.Run("same CSR twice gives two certificates", func(t *testing.T) {
		csr := csrPEM(t, idKey(t, "p256"), "twice")
		a, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
		mustOK(t, err)
		b, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
		mustOK(t, err)
		if aws.ToString(a.CertificateId) == aws.ToString(b.CertificateId) {
			t.Fatalf("both calls returned certificate %s", aws.ToString(a.CertificateId))
		}
	})
}

// listCertIDs lists every certificate id, following markers.
func listCertIDs(t *testing.T, c *iot.Client) []string {
	t.Helper()
	var ids []string
	p := iot.NewListCertificatesPaginator(c, &iot.ListCertificatesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		mustOK(t, err)
		for _, cd := range out.Certificates {
			ids = append(ids, aws.ToString(cd.CertificateId))
		}
	}
	return ids
}

func TestIdentityRegisterCertificateWithoutCA(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	own := selfSignedPEM(t, idKey(t, "p256"), "own-device")
	expired, err := certs.NewSelfSigned("old", idKey(t, "p256"), certs.Options{Now: func() time.Time { return time.Now().AddDate(-2, 0, 0) }})
	mustOK(t, err)
	tpc := newThirdPartyCA(t, "Unregistered CA")
	issued, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csrPEM(t, idKey(t, "p256"), "aws-made"))})
	mustOK(t, err)
	tests := []struct {
		name       string
		pem        string
		status     types.CertificateStatus
		wantStatus types.CertificateStatus
		wantErr    string
		wantHTTP   int
	}{
		{"self-signed, default status", own, "", types.CertificateStatusInactive, "", 200},
		{"signed by an unregistered CA, ACTIVE", tpc.issue(t, "tp-device", idKey(t, "p384").Public()), types.CertificateStatusActive, types.CertificateStatusActive, "", 200},
		{"REVOKED", selfSignedPEM(t, idKey(t, "rsa2048"), "revoked-device"), types.CertificateStatusRevoked, types.CertificateStatusRevoked, "", 200},
		{"the same certificate again", own, "", "", "ResourceAlreadyExistsException", 409},
		{"an AWS-issued certificate", aws.ToString(issued.CertificatePem), "", "", "ResourceAlreadyExistsException", 409},
		{"RSA 1024", selfSignedPEM(t, idKey(t, "rsa1024"), "weak"), "", "", "CertificateValidationException", 400},
		{"EC P-224", selfSignedPEM(t, idKey(t, "p224"), "p224"), "", "", "CertificateValidationException", 400},
		{"Ed25519", selfSignedPEM(t, idKey(t, "ed25519"), "ed"), "", "", "CertificateValidationException", 400},
		{"expired", certs.EncodeCertificatePEM(expired.Raw), "", "", "CertificateValidationException", 400},
		{"not PEM", "garbage", "", "", "CertificateValidationException", 400},
		{"a CSR", csrPEM(t, idKey(t, "p256"), "csr"), "", "", "CertificateValidationException", 400},
		{"PENDING_ACTIVATION", selfSignedPEM(t, idKey(t, "p256"), "pa"), types.CertificateStatusPendingActivation, "", "InvalidRequestException", 400},
		{"unknown status", selfSignedPEM(t, idKey(t, "p256"), "bogus"), "BOGUS", "", "InvalidRequestException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listCertIDs(t, c)
			out, err := c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(tt.pem), Status: tt.status})
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				if got := listCertIDs(t, c); len(got) != len(before) {
					t.Fatalf("certificates after a refused registration: got %d, want %d", len(got), len(before))
				}
				var rae *types.ResourceAlreadyExistsException
				if errors.As(err, &rae) {
					x, _ := certs.ParseCertificatePEM(tt.pem)
					id := certs.CertificateID(x.Raw)
					if aws.ToString(rae.ResourceId) != id || aws.ToString(rae.ResourceArn) != registry.CertificateARN(registry.Scope{Account: "123456789012", Region: "eu-west-1"}, id) {
						t.Fatalf("ResourceAlreadyExists: resourceId %q resourceArn %q, want the existing certificate %s", aws.ToString(rae.ResourceId), aws.ToString(rae.ResourceArn), id)
					}
				}
				return
			}
			mustOK(t, err)
			d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
			mustOK(t, err)
			cd := d.CertificateDescription
			if cd.Status != tt.wantStatus || cd.CertificateMode != types.CertificateModeSniOnly || aws.ToString(cd.CaCertificateId) != "" {
				t.Fatalf("got status %s mode %s CA %q, want %s SNI_ONLY no CA", cd.Status, cd.CertificateMode, aws.ToString(cd.CaCertificateId), tt.wantStatus)
			}
		})
	}
}

func TestIdentityDescribeCertificateErrors(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	tests := []struct {
		name, id string
		wantErr  string
		wantHTTP int
	}{
		{"unknown id", strings.Repeat("ab", 32), "ResourceNotFoundException", 404},
		{"too short", "abc", "InvalidRequestException", 400},
		{"not hex", strings.Repeat("zz", 32), "InvalidRequestException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(tt.id)})
			wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
		})
	}
}

func TestIdentityListCertificates(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	var created []string // oldest first
	for range 5 {
		id, _ := idCert(t, c, false)
		created = append(created, id)
	}
	reversed := make([]string, len(created))
	for i, id := range created {
		reversed[len(created)-1-i] = id
	}
	tests := []struct {
		name      string
		ascending bool
		pageSize  int32
		want      []string
	}{
		{"newest first by default", false, 2, reversed},
		{"ascending", true, 2, created},
		{"one page", true, 250, created},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			in := &iot.ListCertificatesInput{AscendingOrder: tt.ascending, PageSize: aws.Int32(tt.pageSize)}
			for {
				out, err := c.ListCertificates(ctx, in)
				mustOK(t, err)
				if len(out.Certificates) > int(tt.pageSize) {
					t.Fatalf("page of %d, want at most %d", len(out.Certificates), tt.pageSize)
				}
				for _, cd := range out.Certificates {
					got = append(got, aws.ToString(cd.CertificateId))
					if cd.Status != types.CertificateStatusInactive || cd.CertificateMode != types.CertificateModeDefault || cd.CreationDate == nil {
						t.Fatalf("entry %+v: want INACTIVE, DEFAULT, a creation date", cd)
					}
				}
				if out.NextMarker == nil {
					break
				}
				in.Marker = out.NextMarker
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, size := range []int32{0, 251} {
		_, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(size)})
		wantAPIError(t, err, "InvalidRequestException", 400)
	}
	_, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{Marker: aws.String("not a marker!")})
	wantAPIError(t, err, "InvalidRequestException", 400)
}

func TestIdentityUpdateCertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	var (
		mu     sync.Mutex // guards events, appended on the server's goroutines
		events []registry.Event
	)
	e.Reg.Watch(func(ev registry.Event) {
		if ev.Kind == "cert" {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	})
	id, _ := idCert(t, c, false)
	steps := []struct {
		name      string
		newStatus types.CertificateStatus
		wantErr   string
		wantHTTP  int
		want      types.CertificateStatus
		wantVer   int32
	}{
		{"activate", types.CertificateStatusActive, "", 200, types.CertificateStatusActive, 2},
		{"again is idempotent", types.CertificateStatusActive, "", 200, types.CertificateStatusActive, 2},
		{"deactivate", types.CertificateStatusInactive, "", 200, types.CertificateStatusInactive, 3},
		{"PENDING_TRANSFER is AWS-internal", types.CertificateStatusPendingTransfer, "InvalidRequestException", 400, types.CertificateStatusInactive, 3},
		{"PENDING_ACTIVATION is AWS-internal", types.CertificateStatusPendingActivation, "InvalidRequestException", 400, types.CertificateStatusInactive, 3},
		{"unknown status", "ENABLED", "InvalidRequestException", 400, types.CertificateStatusInactive, 3},
		{"revoke", types.CertificateStatusRevoked, "", 200, types.CertificateStatusRevoked, 4},
		{"a revoked certificate stays revoked", types.CertificateStatusActive, "CertificateStateException", 406, types.CertificateStatusRevoked, 4},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			_, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: st.newStatus})
			if st.wantErr != "" {
				wantAPIError(t, err, st.wantErr, st.wantHTTP)
			} else {
				mustOK(t, err)
			}
			d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
			mustOK(t, err)
			if got := d.CertificateDescription.Status; got != st.want {
				t.Fatalf("status: got %s, want %s", got, st.want)
			}
			if got := aws.ToInt32(d.CertificateDescription.CustomerVersion); got != st.wantVer {
				t.Fatalf("customerVersion: got %d, want %d", got, st.wantVer)
			}
		})
	}
	var got []string
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range events {
		got = append(got, ev.Name[:8]+":"+ev.CertStatus)
	}
	if want := id[:8] + ":ACTIVE," + id[:8] + ":INACTIVE," + id[:8] + ":REVOKED"; strings.Join(got, ",") != want {
		t.Fatalf("cert events: got %v, want %s", got, want)
	}
	_, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(strings.Repeat("0", 64)), NewStatus: types.CertificateStatusActive})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
}

func TestIdentityDeleteCertificate(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	idPolicy(t, c, "pol", allowAll)
	idThing(t, c, "door")

	active, _ := idCert(t, c, true)
	withPolicy, withPolicyARN := idCert(t, c, false)
	mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(withPolicyARN)})))
	withThing, withThingARN := idCert(t, c, false)
	mustOK(t, errOf(c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("door"), Principal: aws.String(withThingARN)})))
	mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(withThingARN)})))
	plain, _ := idCert(t, c, false)

	tests := []struct {
		name     string
		id       string
		force    bool
		wantErr  string
		wantHTTP int
		wantMsg  string
	}{
		{"ACTIVE", active, false, "CertificateStateException", 406, "Certificate must be deactivated (not ACTIVE) before deletion. Id: " + active},
		{"ACTIVE even with forceDelete", active, true, "CertificateStateException", 406, ""},
		{"attached policy", withPolicy, false, "DeleteConflictException", 409, "Certificate policies must be detached before deletion (arn: " + withPolicyARN + ")"},
		{"attached thing", withThing, true, "DeleteConflictException", 409, "Things must be detached before deletion (arn: " + withThingARN + ")"},
		{"unknown", strings.Repeat("1", 64), false, "ResourceNotFoundException", 404, ""},
		{"forceDelete detaches policies", withPolicy, true, "", 200, ""},
		{"inactive, nothing attached", plain, false, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(tt.id), ForceDelete: tt.force})
			_, derr := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(tt.id)})
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				if tt.wantMsg != "" {
					wantErrMessage(t, err, tt.wantMsg)
				}
				if tt.wantHTTP != 404 {
					mustOK(t, derr)
				}
				return
			}
			mustOK(t, err)
			wantAPIError(t, derr, "ResourceNotFoundException", 404)
		})
	}
	targets, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("pol")})
	mustOK(t, err)
	if got, want := strings.Join(targets.Targets, ","), withThingARN; got != want {
		t.Fatalf("policy targets after the deletes: got %s, want %s", got, want)
	}
}

// errOf drops a result, keeping its error.
func errOf[T any](_ T, err error) error { return err }

// TestIdentityFailedWriteChangesNothing: with the disk refusing writes each operation answers
// InternalFailureException (500) and nothing changes, as seen through the API.
func TestIdentityFailedWriteChangesNothing(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	idPolicy(t, c, "pol", allowAll)
	idThing(t, c, "door")
	id, certARN := idCert(t, c, false)
	snapshot := func() string {
		var b strings.Builder
		b.WriteString(strings.Join(listCertIDs(t, c), ","))
		d, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		mustOK(t, err)
		b.WriteString("|" + string(d.CertificateDescription.Status))
		ps, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{})
		mustOK(t, err)
		for _, p := range ps.Policies {
			b.WriteString("|" + aws.ToString(p.PolicyName))
		}
		v, err := c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("pol")})
		mustOK(t, err)
		fmt.Fprintf(&b, "|versions %d", len(v.PolicyVersions))
		ap, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)})
		mustOK(t, err)
		fmt.Fprintf(&b, "|attached %d", len(ap.Policies))
		tp, err := c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("door")})
		mustOK(t, err)
		b.WriteString("|principals " + strings.Join(tp.Principals, ","))
		return b.String()
	}
	ops := []struct {
		name string
		call func() error
	}{
		{"CreateCertificateFromCsr", func() error {
			return errOf(c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csrPEM(t, idKey(t, "p256"), "x"))}))
		}},
		{"RegisterCertificateWithoutCA", func() error {
			return errOf(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(selfSignedPEM(t, idKey(t, "p256"), "x"))}))
		}},
		{"UpdateCertificate", func() error {
			return errOf(c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusActive}))
		}},
		{"DeleteCertificate", func() error {
			return errOf(c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)}))
		}},
		{"CreatePolicy", func() error {
			return errOf(c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("new"), PolicyDocument: aws.String(allowAll)}))
		}},
		{"CreatePolicyVersion", func() error {
			return errOf(c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("pol"), PolicyDocument: aws.String(allowAll), SetAsDefault: true}))
		}},
		{"AttachPolicy", func() error {
			return errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(certARN)}))
		}},
		{"AttachThingPrincipal", func() error {
			return errOf(c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("door"), Principal: aws.String(certARN)}))
		}},
		{"DeletePolicy", func() error { return errOf(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("pol")})) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			before := snapshot()
			e.Store.FailWrites(syscall.ENOSPC)
			err := op.call()
			e.Store.FailWrites(nil)
			wantAPIError(t, err, "InternalFailureException", 500)
			if got := snapshot(); got != before {
				t.Fatalf("state changed by a failed write:\n got %s\nwant %s", got, before)
			}
		})
	}
}
