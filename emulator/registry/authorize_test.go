package registry

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/store"
)

// TestPrincipalResolvesThingAWSWay pins the broker's contract: which thing a connection is, and which
// policies apply.
func TestPrincipalResolvesThingAWSWay(t *testing.T) {
	f := newRegFixture(t)
	w := populateIdentity(t, f.reg, f.sc)
	excl, err := f.reg.CreateCertificate(f.sc, idSelfSigned(t, "excl"), true)
	must(t, err)
	exclARN := CertificateARN(f.sc, excl.ID)
	must(t, f.reg.AttachThingPrincipal(f.sc, "desk", exclARN, ThingPrincipalExclusive))
	must(t, f.reg.AttachPolicy(f.sc, "pub", exclARN))
	_, err = f.reg.CreateThingGroup(f.sc, CreateThingGroupInput{Name: "office"})
	must(t, err)
	must(t, f.reg.AddThingToThingGroup(f.sc, "desk", "office"))
	must(t, f.reg.AttachPolicy(f.sc, "all", "arn:aws:iot:eu-west-1:123456789012:thinggroup/office"))
	tests := []struct {
		name, cert, clientID string
		wantThing            string // name, "" for none
		wantAttached         bool
		wantPolicies         string
	}{
		{"client ID = attached thing", w.certID, "lamp", "lamp", true, "pub,all"},
		{"client ID = a thing not attached", w.certID, "desk", "desk", false, "pub"},
		{"client ID names no thing", w.certID, "client-7", "", false, "pub"},
		{"no client ID", w.certID, "", "", false, "pub"},
		{"exclusive thing whatever the client ID", excl.ID, "anything", "desk", true, "pub,all"},
		{"exclusive thing, client ID of another thing", excl.ID, "lamp", "desk", true, "pub,all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pols, thing, err := f.reg.Principal(f.sc, tt.cert, tt.clientID)
			must(t, err)
			var names []string
			for _, p := range pols {
				if p.Doc == nil {
					t.Fatalf("policy %s not compiled", p.Name)
				}
				names = append(names, p.Name)
			}
			if got := strings.Join(names, ","); got != tt.wantPolicies {
				t.Fatalf("policies: got %s, want %s", got, tt.wantPolicies)
			}
			switch {
			case tt.wantThing == "" && thing != nil:
				t.Fatalf("thing: got %+v, want none", thing)
			case tt.wantThing != "" && (thing == nil || thing.Name != tt.wantThing || thing.IsAttached != tt.wantAttached):
				t.Fatalf("thing: got %+v, want %s attached=%v", thing, tt.wantThing, tt.wantAttached)
			}
			if thing != nil && thing.Name == "lamp" && thing.Attributes["room"] != "r1" {
				t.Fatalf("thing attributes: got %v, want room=r1", thing.Attributes)
			}
		})
	}
	if _, _, err := f.reg.Principal(f.sc, strings.Repeat("0", 64), "lamp"); !awserr.HasCode(err, awserr.ResourceNotFound) {
		t.Fatalf("unknown certificate: got %v, want ResourceNotFoundException", err)
	}
}

// TestIdentityEvents: the broker is told about what changes live connections, after the commit.
func TestIdentityEvents(t *testing.T) {
	f := newRegFixture(t)
	w := populateIdentity(t, f.reg, f.sc)
	var got []string
	f.reg.Watch(func(e Event) { got = append(got, e.Kind+":"+e.Name+":"+e.CertStatus) })
	steps := []func() error{
		func() error { return f.reg.UpdateCertificate(f.sc, w.certID, CertInactive) },
		func() error { return f.reg.SetDefaultPolicyVersion(f.sc, "pub", "2") },
		func() error { _, _, err := f.reg.CreatePolicyVersion(f.sc, "pub", idAllowAll, false); return err }, // not default: no event
		func() error { return f.reg.DetachPolicy(f.sc, "pub", w.certARN) },
		func() error { return f.reg.DetachThingPrincipal(f.sc, "lamp", w.certARN) },
		func() error { return f.reg.UpdateCACertificate(f.sc, w.caID, UpdateCAInput{NewStatus: CertInactive}) },
		func() error { return f.reg.DeleteCertificate(f.sc, w.certID, false) },
	}
	for _, s := range steps {
		must(t, s())
	}
	want := []string{"cert:" + w.certID + ":INACTIVE", "policy:pub:", "attachment:" + w.certARN + ":", "attachment:" + w.certARN + ":",
		"cacert:" + w.caID + ":INACTIVE", "cert:" + w.certID + ":"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n got %v\nwant %v", got, want)
	}
}

// BenchmarkPrincipal measures the broker's per-CONNECT lookup in a registry of 1000 things and 100
// policies (it scans things and policies: attachments are stored on them, not indexed).
func BenchmarkPrincipal(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "state.db"))
	idMust(b, err)
	b.Cleanup(func() { st.Close() })
	r, err := Open(Options{Store: st})
	idMust(b, err)
	sc := Scope{Account: "123456789012", Region: "eu-west-1"}
	w := populateIdentity(b, r, sc)
	for i := range 1000 {
		_, err := r.CreateThing(sc, CreateThingInput{Name: "thing-" + strconv.Itoa(i)})
		idMust(b, err)
	}
	for i := range 100 {
		_, err := r.CreatePolicy(sc, "p-"+strconv.Itoa(i), idAllowAll, nil)
		idMust(b, err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := r.Principal(sc, w.certID, "lamp"); err != nil {
			b.Fatal(err)
		}
	}
}
