package registry

import (
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/store"
)

// regClock is a settable clock for the registry's Now.
type regClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *regClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *regClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// regFixture is a registry on a real bbolt store, with a fixed clock and seeded randomness.
type regFixture struct {
	reg   *Registry
	store *store.Faulty
	clock *regClock
	sc    Scope
}

func newRegFixture(t *testing.T) *regFixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &regFixture{
		store: &store.Faulty{Store: st},
		clock: &regClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		sc:    Scope{Account: "123456789012", Region: "eu-west-1"},
	}
	f.reg = f.open(t)
	return f
}

// open opens a (new) registry on the fixture's store, as a restart does.
func (f *regFixture) open(t *testing.T) *Registry {
	t.Helper()
	r, err := Open(Options{Store: f.store, Now: f.clock.Now, Rand: mrand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails the test unless err is an AWS error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got error %v, want %s", err, code)
	}
}

// dump is the registry-owned state of a scope as JSON, to compare states before and after.
func dump(t *testing.T, r *Registry, sc Scope) string {
	t.Helper()
	var b []byte
	_ = r.view(sc, func(s *state) error {
		var err error
		b, err = json.Marshal(map[string]any{
			"things": s.things, "thingTypes": s.thingTypes, "thingGroups": s.thingGroups,
			"billingGroups": s.billingGroups, "tags": s.tags, "policies": s.policies,
		})
		return err
	})
	return string(b)
}

// populate creates one of everything, with memberships and tags.
func populate(t *testing.T, r *Registry, sc Scope) {
	t.Helper()
	_, err := r.CreateBillingGroup(sc, "bg", "billing", []Tag{{"cost", "lab"}})
	must(t, err)
	_, err = r.CreateThingType(sc, ThingTypeInput{Name: "sensor", Description: "a sensor", SearchableAttributes: []string{"room"},
		Propagating: []PropagatingAttribute{{UserPropertyKey: "room", ThingAttribute: "room"}}, Tags: []Tag{{"k", "v"}}})
	must(t, err)
	_, err = r.CreateThingGroup(sc, CreateThingGroupInput{Name: "site", Description: "top", Attributes: map[string]string{"city": "Lyon"}})
	must(t, err)
	_, err = r.CreateThingGroup(sc, CreateThingGroupInput{Name: "floor1", Parent: "site", Tags: []Tag{{"floor", "1"}}})
	must(t, err)
	_, err = r.CreateThing(sc, CreateThingInput{Name: "t1", TypeName: "sensor", Attributes: map[string]string{"room": "r1"}, BillingGroup: "bg"})
	must(t, err)
	_, err = r.CreateThing(sc, CreateThingInput{Name: "t2"})
	must(t, err)
	must(t, r.AddThingToThingGroup(sc, "t1", "floor1"))
	must(t, r.DeprecateThingType(sc, "sensor", false))
}

func TestRegistryStateSurvivesRestart(t *testing.T) {
	f := newRegFixture(t)
	populate(t, f.reg, f.sc)
	before := dump(t, f.reg, f.sc)
	after := dump(t, f.open(t), f.sc)
	if after != before {
		t.Fatalf("state after reopening differs:\n got %s\nwant %s", after, before)
	}
}

// TestRegistryFailedWriteChangesNothing runs every mutation against a store that refuses writes (disk
// full): each must answer InternalFailureException and leave memory and disk as they were.
func TestRegistryFailedWriteChangesNothing(t *testing.T) {
	sc := Scope{Account: "123456789012", Region: "eu-west-1"}
	thingGroupARN := "arn:aws:iot:eu-west-1:123456789012:thinggroup/site"
	tests := []struct {
		name string
		op   func(r *Registry) error
	}{
		{"CreateThing", func(r *Registry) error { _, err := r.CreateThing(sc, CreateThingInput{Name: "new"}); return err }},
		{"UpdateThing", func(r *Registry) error {
			_, err := r.UpdateThing(sc, UpdateThingInput{Name: "t2", SetAttributes: true, Attributes: map[string]string{"a": "b"}})
			return err
		}},
		{"DeleteThing", func(r *Registry) error { return r.DeleteThing(sc, "t1", nil) }},
		{"CreateThingType", func(r *Registry) error { _, err := r.CreateThingType(sc, ThingTypeInput{Name: "new"}); return err }},
		{"DeprecateThingType undo", func(r *Registry) error { return r.DeprecateThingType(sc, "sensor", true) }},
		{"CreateThingGroup", func(r *Registry) error {
			_, err := r.CreateThingGroup(sc, CreateThingGroupInput{Name: "new", Tags: []Tag{{"a", "b"}}})
			return err
		}},
		{"UpdateThingGroup", func(r *Registry) error {
			_, err := r.UpdateThingGroup(sc, UpdateThingGroupInput{Name: "site", Description: "x"})
			return err
		}},
		{"DeleteThingGroup", func(r *Registry) error { return r.DeleteThingGroup(sc, "floor1", nil) }},
		{"AddThingToThingGroup", func(r *Registry) error { return r.AddThingToThingGroup(sc, "t2", "site") }},
		{"RemoveThingFromThingGroup", func(r *Registry) error { return r.RemoveThingFromThingGroup(sc, "t1", "floor1") }},
		{"UpdateThingGroupsForThing", func(r *Registry) error {
			return r.UpdateThingGroupsForThing(sc, "t1", []string{"site"}, []string{"floor1"})
		}},
		{"CreateBillingGroup", func(r *Registry) error { _, err := r.CreateBillingGroup(sc, "new", "", nil); return err }},
		{"UpdateBillingGroup", func(r *Registry) error { _, err := r.UpdateBillingGroup(sc, "bg", "new", nil); return err }},
		{"DeleteBillingGroup", func(r *Registry) error { return r.DeleteBillingGroup(sc, "bg", nil) }},
		{"AddThingToBillingGroup", func(r *Registry) error { return r.AddThingToBillingGroup(sc, "t2", "bg") }},
		{"RemoveThingFromBillingGroup", func(r *Registry) error { return r.RemoveThingFromBillingGroup(sc, "t1", "bg") }},
		{"TagResource", func(r *Registry) error { return r.TagResource(sc, thingGroupARN, []Tag{{"x", "y"}}) }},
		{"UntagResource", func(r *Registry) error {
			return r.UntagResource(sc, "arn:aws:iot:eu-west-1:123456789012:thinggroup/floor1", []string{"floor"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRegFixture(t)
			populate(t, f.reg, sc)
			before := dump(t, f.reg, sc)
			f.store.FailWrites(syscall.ENOSPC)
			err := tt.op(f.reg)
			f.store.FailWrites(nil)
			wantCode(t, err, awserr.InternalFailure)
			if got := dump(t, f.reg, sc); got != before {
				t.Fatalf("memory changed by a failed write:\n got %s\nwant %s", got, before)
			}
			if got := dump(t, f.open(t), sc); got != before {
				t.Fatalf("disk changed by a failed write:\n got %s\nwant %s", got, before)
			}
			// The same operation succeeds once the disk recovers, so the failure was the write's.
			if err := tt.op(f.reg); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestDeleteThingRefusedWhilePrincipalsAttached(t *testing.T) {
	f := newRegFixture(t)
	_, err := f.reg.CreateThing(f.sc, CreateThingInput{Name: "door"})
	must(t, err)
	// Attach a principal the way AttachThingPrincipal records it.
	must(t, f.reg.update(f.sc, func(tx *txn) error {
		th := cloneThing(tx.s.things["door"])
		th.Principals = []ThingPrincipal{{Principal: "arn:aws:iot:eu-west-1:123456789012:cert/abc", Type: "NON_EXCLUSIVE_THING"}}
		tx.put("thing", "door", th, func() { tx.s.things["door"] = th })
		return nil
	}))
	err = f.reg.DeleteThing(f.sc, "door", nil)
	wantCode(t, err, awserr.InvalidRequest)
	if got, want := err.(*awserr.Error).Message, "Cannot delete. Thing door is still attached to one or more principals"; got != want {
		t.Fatalf("message: got %q, want %q", got, want)
	}
	if _, err := f.reg.DescribeThing(f.sc, "door"); err != nil {
		t.Fatalf("thing gone after a refused delete: %v", err)
	}
}

func TestMergeAttributes(t *testing.T) {
	old := map[string]string{"a": "1", "b": "2"}
	tests := []struct {
		name    string
		payload map[string]string
		merge   bool
		want    map[string]string
	}{
		{"merge adds and replaces", map[string]string{"b": "3", "c": "4"}, true, map[string]string{"a": "1", "b": "3", "c": "4"}},
		{"merge empty value removes", map[string]string{"a": ""}, true, map[string]string{"b": "2"}},
		{"merge removing all", map[string]string{"a": "", "b": ""}, true, nil},
		{"replace", map[string]string{"c": "4"}, false, map[string]string{"c": "4"}},
		{"replace with nothing clears", nil, false, nil},
		{"replace drops empty values", map[string]string{"c": "", "d": "5"}, false, map[string]string{"d": "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeAttributes(old, tt.payload, tt.merge)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(tt.want)
			if string(gb) != string(wb) {
				t.Fatalf("got %s, want %s", gb, wb)
			}
		})
	}
	if len(old) != 2 {
		t.Fatalf("mergeAttributes changed its input: %v", old)
	}
}

func TestDescribeReturnsCopies(t *testing.T) {
	f := newRegFixture(t)
	populate(t, f.reg, f.sc)
	before := dump(t, f.reg, f.sc)
	th, err := f.reg.DescribeThing(f.sc, "t1")
	must(t, err)
	th.Attributes["room"] = "changed"
	th.Groups[0] = "changed"
	g, path, err := f.reg.DescribeThingGroup(f.sc, "floor1")
	must(t, err)
	g.Parent, path[0] = "changed", "changed"
	tt, err := f.reg.DescribeThingType(f.sc, "sensor")
	must(t, err)
	tt.SearchableAttributes[0] = "changed"
	*tt.DeprecationDate = time.Time{}
	if got := dump(t, f.reg, f.sc); got != before {
		t.Fatalf("a caller's change to a returned record reached the registry")
	}
}

func TestScopesAreSeparate(t *testing.T) {
	f := newRegFixture(t)
	populate(t, f.reg, f.sc)
	other := Scope{Account: f.sc.Account, Region: "us-east-1"}
	things, _, err := f.reg.ListThings(other, ListThingsInput{})
	must(t, err)
	if len(things) != 0 {
		t.Fatalf("got %d things in another region, want 0", len(things))
	}
	_, err = f.reg.DescribeThing(other, "t1")
	wantCode(t, err, awserr.ResourceNotFound)
}
