package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/policy"
)

// idSelfSigned makes a fresh P-256 self-signed certificate.
func idSelfSigned(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	idMust(t, err)
	c, err := certs.NewSelfSigned(cn, k, certs.Options{})
	idMust(t, err)
	return c
}

const (
	idAllowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
	idPubThing = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish",
		"Resource":"arn:aws:iot:eu-west-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"}]}`
)

// idMust fails the test or benchmark on err.
func idMust(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// identityDump is the identity state of a scope as JSON: certificates, CAs, policies (versions,
// defaults, targets), thing principals and the registration code.
func identityDump(t *testing.T, r *Registry, sc Scope) string {
	t.Helper()
	var b []byte
	_ = r.view(sc, func(s *state) error {
		principals := map[string][]ThingPrincipal{}
		for n, th := range s.things {
			principals[n] = th.Principals
		}
		var err error
		b, err = json.Marshal(map[string]any{
			"certs": s.certs, "caCerts": s.caCerts, "policies": s.policies, "principals": principals,
			"regcode": storedRegistrationCode(s), "tags": s.tags,
		})
		return err
	})
	return string(b)
}

// identityWorld is a registry with one of every identity resource.
type identityWorld struct {
	certID, certARN, caID, devID string
}

func populateIdentity(t testing.TB, r *Registry, sc Scope) identityWorld {
	t.Helper()
	var w identityWorld
	c, err := r.CreateCertificate(sc, idSelfSigned(t, "dev"), true)
	idMust(t, err)
	w.certID, w.certARN = c.ID, CertificateARN(sc, c.ID)
	ca, caKey, err := certs.NewCA("Lab CA", certs.Options{})
	idMust(t, err)
	code, err := r.RegistrationCode(sc)
	idMust(t, err)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := certs.IssueLeaf(ca, caKey, code, k.Public(), certs.Options{})
	idMust(t, err)
	rc, err := r.RegisterCACertificate(sc, RegisterCAInput{CAPEM: certs.EncodeCertificatePEM(ca.Raw), VerificationPEM: certs.EncodeCertificatePEM(v.Raw),
		SetAsActive: true, Config: &RegistrationConfig{TemplateName: "jitp"}, Tags: []Tag{{"k", "v"}}})
	idMust(t, err)
	w.caID = rc.ID
	dev, err := certs.IssueLeaf(ca, caKey, "ca-dev", k.Public(), certs.Options{})
	idMust(t, err)
	d, err := r.RegisterCertificate(sc, RegisterCertificateInput{PEM: certs.EncodeCertificatePEM(dev.Raw), Status: CertInactive})
	idMust(t, err)
	w.devID = d.ID
	_, err = r.CreatePolicy(sc, "pub", idPubThing, []Tag{{"team", "lab"}})
	idMust(t, err)
	_, _, err = r.CreatePolicyVersion(sc, "pub", idAllowAll, false)
	idMust(t, err)
	_, err = r.CreatePolicy(sc, "all", idAllowAll, nil)
	idMust(t, err)
	_, _, err = r.CreatePolicyVersion(sc, "all", idPubThing, true)
	idMust(t, err)
	_, err = r.CreateThing(sc, CreateThingInput{Name: "lamp", Attributes: map[string]string{"room": "r1"}})
	idMust(t, err)
	_, err = r.CreateThing(sc, CreateThingInput{Name: "desk"})
	idMust(t, err)
	_, err = r.CreateThingGroup(sc, CreateThingGroupInput{Name: "site"})
	idMust(t, err)
	_, err = r.CreateThingGroup(sc, CreateThingGroupInput{Name: "floor", Parent: "site"})
	idMust(t, err)
	idMust(t, r.AddThingToThingGroup(sc, "lamp", "floor"))
	idMust(t, r.AttachPolicy(sc, "pub", w.certARN))
	idMust(t, r.AttachPolicy(sc, "all", "arn:aws:iot:eu-west-1:123456789012:thinggroup/site"))
	idMust(t, r.AttachThingPrincipal(sc, "lamp", w.certARN, ""))
	return w
}

// TestIdentityStateSurvivesRestart: certificates, CAs, policies with their versions, attachments and
// the registration code reload from the store, and reloaded policies are compiled.
func TestIdentityStateSurvivesRestart(t *testing.T) {
	f := newRegFixture(t)
	w := populateIdentity(t, f.reg, f.sc)
	before := identityDump(t, f.reg, f.sc)
	r2 := f.open(t)
	if after := identityDump(t, r2, f.sc); after != before {
		t.Fatalf("identity state after reopening differs:\n got %s\nwant %s", after, before)
	}
	p, err := r2.GetPolicy(f.sc, "all")
	must(t, err)
	if p.Default != "2" || len(p.Versions) != 2 {
		t.Fatalf("policy all: default %s, %d versions; want 2 and 2", p.Default, len(p.Versions))
	}
	for _, v := range p.Versions {
		if v.Compiled() == nil {
			t.Fatalf("version %s not compiled after reload", v.ID)
		}
	}
	pols, thing, err := r2.Principal(f.sc, w.certID, "lamp")
	must(t, err)
	var names []string
	for _, p := range pols {
		names = append(names, p.Name+"@"+p.Version)
	}
	if got, want := strings.Join(names, ","), "pub@1,all@2"; got != want || thing == nil || !thing.IsAttached {
		t.Fatalf("Principal after reload: got %s, thing %+v; want %s and lamp attached", got, thing, want)
	}
	d := policy.Evaluate(policy.Request{Action: "iot:Publish", Resource: "arn:aws:iot:eu-west-1:123456789012:topic/lamp/t", Policies: pols,
		Context: &policy.Context{ClientID: "lamp", HasClientID: true, Thing: thing}})
	if d.Effect != policy.Allowed {
		t.Fatalf("reloaded policies: %s, want ALLOWED", d.Explain())
	}
	code, err := r2.RegistrationCode(f.sc)
	must(t, err)
	code1, _ := f.reg.RegistrationCode(f.sc)
	if code != code1 {
		t.Fatalf("registration code changed on reload: %s, want %s", code, code1)
	}
	if c, ok := r2.CACertificateByID(f.sc, w.caID); !ok || c.TemplateName != "jitp" || c.Status != CertActive {
		t.Fatalf("CA after reload: %+v %v", c, ok)
	}
	if c, ok := r2.CertificateByID(f.sc, strings.ToUpper(w.devID)); !ok || c.CAID != w.caID {
		t.Fatalf("device certificate after reload: %+v %v, want CA %s", c, ok, w.caID)
	}
}

// TestIdentityRegistryFailedWriteChangesNothing runs every identity mutation against a store that
// refuses writes: InternalFailureException, memory and disk unchanged, and success once the disk recovers.
func TestIdentityRegistryFailedWriteChangesNothing(t *testing.T) {
	var w identityWorld
	tests := []struct {
		name string
		op   func(r *Registry, sc Scope) error
	}{
		{"CreateCertificate", func(r *Registry, sc Scope) error {
			_, err := r.CreateCertificate(sc, idSelfSigned(t, "x"), false)
			return err
		}},
		{"RegisterCertificateWithoutCA", func(r *Registry, sc Scope) error {
			_, err := r.RegisterCertificate(sc, RegisterCertificateInput{PEM: certs.EncodeCertificatePEM(idSelfSigned(t, "y").Raw), WithoutCA: true})
			return err
		}},
		{"UpdateCertificate", func(r *Registry, sc Scope) error { return r.UpdateCertificate(sc, w.certID, CertInactive) }},
		{"DeleteCertificate force", func(r *Registry, sc Scope) error { return r.DeleteCertificate(sc, w.devID, true) }},
		{"UpdateCACertificate", func(r *Registry, sc Scope) error {
			return r.UpdateCACertificate(sc, w.caID, UpdateCAInput{NewStatus: CertInactive})
		}},
		{"CreatePolicy", func(r *Registry, sc Scope) error {
			_, err := r.CreatePolicy(sc, "new", idAllowAll, []Tag{{"a", "b"}})
			return err
		}},
		{"CreatePolicyVersion", func(r *Registry, sc Scope) error {
			_, _, err := r.CreatePolicyVersion(sc, "pub", idAllowAll, true)
			return err
		}},
		{"SetDefaultPolicyVersion", func(r *Registry, sc Scope) error { return r.SetDefaultPolicyVersion(sc, "pub", "2") }},
		{"DeletePolicyVersion", func(r *Registry, sc Scope) error { return r.DeletePolicyVersion(sc, "pub", "2") }},
		{"AttachPolicy", func(r *Registry, sc Scope) error { return r.AttachPolicy(sc, "all", w.certARN) }},
		{"DetachPolicy", func(r *Registry, sc Scope) error { return r.DetachPolicy(sc, "pub", w.certARN) }},
		{"AttachThingPrincipal", func(r *Registry, sc Scope) error { return r.AttachThingPrincipal(sc, "desk", w.certARN, "") }},
		{"DetachThingPrincipal", func(r *Registry, sc Scope) error { return r.DetachThingPrincipal(sc, "lamp", w.certARN) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRegFixture(t)
			w = populateIdentity(t, f.reg, f.sc)
			must(t, f.reg.UpdateCertificate(f.sc, w.devID, CertInactive))
			before := identityDump(t, f.reg, f.sc)
			f.store.FailWrites(syscall.ENOSPC)
			err := tt.op(f.reg, f.sc)
			f.store.FailWrites(nil)
			wantCode(t, err, awserr.InternalFailure)
			if got := identityDump(t, f.reg, f.sc); got != before {
				t.Fatalf("memory changed by a failed write:\n got %s\nwant %s", got, before)
			}
			if got := identityDump(t, f.open(t), f.sc); got != before {
				t.Fatalf("disk changed by a failed write:\n got %s\nwant %s", got, before)
			}
			must(t, tt.op(f.reg, f.sc))
		})
	}
}

// TestOrderKeys checks the keys that let paginate (ascending only) list newest-first and Z-to-A.
func TestOrderKeys(t *testing.T) {
	names := []string{"ab", "abc", "b", "a", "B", "a-1"}
	tests := []struct {
		name      string
		ascending bool
	}{{"ascending", true}, {"descending", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byKey := map[string]string{}
			for _, n := range names {
				byKey[nameOrderKey(n, tt.ascending)] = n
			}
			keys := sortedKeys(byKey, nil)
			var got []string
			for _, k := range keys {
				got = append(got, byKey[k])
			}
			want := slices.Clone(names)
			sort.Strings(want)
			if !tt.ascending {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if !(creationKey(t0, "x", true) < creationKey(t0.Add(1), "x", true)) || !(creationKey(t0.Add(1), "x", false) < creationKey(t0, "x", false)) {
		t.Fatal("creationKey does not order by time")
	}
}
