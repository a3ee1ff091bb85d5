package registry

import (
	"fmt"
	"slices"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

// chain creates groups g1 ⊃ g2 ⊃ … ⊃ gn.
func chain(t *testing.T, r *Registry, sc Scope, prefix string, n int) {
	t.Helper()
	parent := ""
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s%d", prefix, i)
		_, err := r.CreateThingGroup(sc, CreateThingGroupInput{Name: name, Parent: parent})
		must(t, err)
		parent = name
	}
}

func TestThingGroupHierarchyLimits(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	chain(t, f.reg, sc, "d", maxGroupDepth)
	_, err := f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "d8", Parent: "d7"})
	wantCode(t, err, awserr.InvalidRequest)

	_, path, err := f.reg.DescribeThingGroup(sc, "d7")
	must(t, err)
	if want := []string{"d1", "d2", "d3", "d4", "d5", "d6"}; !slices.Equal(path, want) {
		t.Fatalf("rootToParent: got %v, want %v", path, want)
	}

	_, err = f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "parent"})
	must(t, err)
	for i := range maxChildGroups {
		_, err := f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: fmt.Sprintf("c%03d", i), Parent: "parent"})
		must(t, err)
	}
	_, err = f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "one-too-many", Parent: "parent"})
	wantCode(t, err, awserr.InvalidRequest)

	_, err = f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "orphan", Parent: "nope"})
	wantCode(t, err, awserr.ResourceNotFound)
}

func TestThingGroupMembershipRules(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	chain(t, f.reg, sc, "a", 3) // a1 ⊃ a2 ⊃ a3
	_, err := f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "a2b", Parent: "a1"})
	must(t, err)
	for i := range 11 {
		_, err := f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: fmt.Sprintf("r%02d", i)})
		must(t, err)
	}
	_, err = f.reg.CreateThing(sc, CreateThingInput{Name: "t"})
	must(t, err)

	must(t, f.reg.AddThingToThingGroup(sc, "t", "a3"))
	must(t, f.reg.AddThingToThingGroup(sc, "t", "a3")) // again: no change
	for _, g := range []string{"a1", "a2", "a2b"} {
		err := f.reg.AddThingToThingGroup(sc, "t", g)
		wantCode(t, err, awserr.InvalidRequest)
	}
	for i := range 9 {
		must(t, f.reg.AddThingToThingGroup(sc, "t", fmt.Sprintf("r%02d", i)))
	}
	wantCode(t, f.reg.AddThingToThingGroup(sc, "t", "r09"), awserr.InvalidRequest) // an 11th group

	// Swapping one group for another in one call stays within the limit.
	must(t, f.reg.UpdateThingGroupsForThing(sc, "t", []string{"r09"}, []string{"r00"}))
	// A failing call changes nothing.
	before := dump(t, f.reg, sc)
	err = f.reg.UpdateThingGroupsForThing(sc, "t", []string{"r00", "r10"}, []string{"r01"})
	wantCode(t, err, awserr.InvalidRequest)
	if got := dump(t, f.reg, sc); got != before {
		t.Fatalf("a refused UpdateThingGroupsForThing changed the state")
	}

	groups, _, err := f.reg.ListThingGroupsForThing(sc, "t", Page{})
	must(t, err)
	want := []string{"a1", "a2", "a3", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09"}
	if !slices.Equal(groups, want) {
		t.Fatalf("groups for thing: got %v, want %v", groups, want)
	}

	things, _, err := f.reg.ListThingsInThingGroup(sc, "a1", false, Page{})
	must(t, err)
	if len(things) != 0 {
		t.Fatalf("things directly in a1: got %v, want none", things)
	}
	things, _, err = f.reg.ListThingsInThingGroup(sc, "a1", true, Page{})
	must(t, err)
	if !slices.Equal(things, []string{"t"}) {
		t.Fatalf("things in a1, recursive: got %v, want [t]", things)
	}
}

func TestDeleteThingGroup(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	chain(t, f.reg, sc, "g", 2)
	_, err := f.reg.CreateThing(sc, CreateThingInput{Name: "t"})
	must(t, err)
	must(t, f.reg.AddThingToThingGroup(sc, "t", "g2"))

	err = f.reg.DeleteThingGroup(sc, "g1", nil)
	wantCode(t, err, awserr.InvalidRequest)
	if got, want := err.(*awserr.Error).Message, "Cannot delete thing group : g1 when there are still child groups attached to it."; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	stale := int64(7)
	wantCode(t, f.reg.DeleteThingGroup(sc, "g2", &stale), awserr.VersionConflict)
	one := int64(1)
	must(t, f.reg.DeleteThingGroup(sc, "g2", &one))
	must(t, f.reg.DeleteThingGroup(sc, "g2", nil)) // gone: still a success
	th, err := f.reg.DescribeThing(sc, "t")
	must(t, err)
	if len(th.Groups) != 0 {
		t.Fatalf("thing still in %v after its group was deleted", th.Groups)
	}
	must(t, f.reg.DeleteThingGroup(sc, "g1", nil))
}

func TestDeleteThingGroupDetachesPolicies(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	_, err := f.reg.CreateThingGroup(sc, CreateThingGroupInput{Name: "g"})
	must(t, err)
	groupARN := "arn:aws:iot:eu-west-1:123456789012:thinggroup/g"
	must(t, f.reg.update(sc, func(tx *txn) error {
		p := &Policy{Name: "p", Default: "1", Targets: []string{groupARN, "arn:aws:iot:eu-west-1:123456789012:cert/abc"}}
		tx.put("policy", "p", p, func() { tx.s.policies["p"] = p })
		return nil
	}))
	must(t, f.reg.DeleteThingGroup(sc, "g", nil))
	_ = f.reg.view(sc, func(s *state) error {
		if got, want := s.policies["p"].Targets, []string{"arn:aws:iot:eu-west-1:123456789012:cert/abc"}; !slices.Equal(got, want) {
			t.Fatalf("policy targets: got %v, want %v", got, want)
		}
		return nil
	})
}
