package registry

import (
	"strings"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Billing groups: flat, tag-carrying groups for cost allocation. A thing is in at most one: its record
// holds a single billing group name, as DescribeThing reports one (AWS: API_DescribeThing
// "billingGroupName", tagging-iot-billing-groups). AWS: API_CreateBillingGroup

func cloneBilling(b *BillingGroup) *BillingGroup { c := *b; return &c }

func billingGroupNotFound(name string) error {
	return awserr.NotFound("Billing group %s cannot be found.", name)
}

// CreateBillingGroup creates a billing group, or returns the existing one when name and properties are
// identical; tags of a repeated call are ignored. AWS: API_CreateBillingGroup
func (r *Registry) CreateBillingGroup(sc Scope, name, description string, tags []Tag) (*BillingGroup, error) {
	if err := checkName("billingGroupName", name); err != nil {
		return nil, err
	}
	if err := checkDescription("billingGroupProperties.billingGroupDescription", description); err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	var out *BillingGroup
	err := r.update(sc, func(t *txn) error {
		s := t.s
		groupARN := arn.IoT(sc.Region, sc.Account, "billinggroup", name)
		if old := s.billingGroups[name]; old != nil {
			if old.Description == description {
				out = cloneBilling(old)
				return nil
			}
			return alreadyExists("Billing Group "+name+" already exists in current account with different properties", old.ID, groupARN)
		}
		b := &BillingGroup{Name: name, ID: r.newUUID(), Description: description, Version: 1, Created: r.now().UTC()}
		if err := t.createTags(groupARN, tags); err != nil {
			return err
		}
		t.put("billinggroup", name, b, func() { s.billingGroups[name] = b })
		out = cloneBilling(b)
		return nil
	})
	return out, err
}

// DescribeBillingGroup returns a copy of a billing group. AWS: API_DescribeBillingGroup
func (r *Registry) DescribeBillingGroup(sc Scope, name string) (*BillingGroup, error) {
	if err := checkName("billingGroupName", name); err != nil {
		return nil, err
	}
	var out *BillingGroup
	err := r.view(sc, func(s *state) error {
		b := s.billingGroups[name]
		if b == nil {
			return billingGroupNotFound(name)
		}
		out = cloneBilling(b)
		return nil
	})
	return out, err
}

// UpdateBillingGroup changes a billing group's description (an empty one leaves it) and returns its new
// version. AWS: API_UpdateBillingGroup
func (r *Registry) UpdateBillingGroup(sc Scope, name, description string, expectedVersion *int64) (int64, error) {
	if err := checkName("billingGroupName", name); err != nil {
		return 0, err
	}
	if err := checkDescription("billingGroupProperties.billingGroupDescription", description); err != nil {
		return 0, err
	}
	var version int64
	err := r.update(sc, func(t *txn) error {
		s := t.s
		old := s.billingGroups[name]
		if old == nil {
			return billingGroupNotFound(name)
		}
		if expectedVersion != nil && *expectedVersion != old.Version {
			return versionConflict("billing group", name)
		}
		b := cloneBilling(old)
		if description != "" {
			b.Description = description
		}
		b.Version++
		t.put("billinggroup", name, b, func() { s.billingGroups[name] = b })
		version = b.Version
		return nil
	})
	return version, err
}

// DeleteBillingGroup deletes a billing group; its things leave it. Deleting one that doesn't exist
// succeeds, as DeleteThingGroup does. AWS: API_DeleteBillingGroup
func (r *Registry) DeleteBillingGroup(sc Scope, name string, expectedVersion *int64) error {
	if err := checkName("billingGroupName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		b := s.billingGroups[name]
		if b == nil {
			return nil
		}
		if expectedVersion != nil && *expectedVersion != b.Version {
			return versionConflict("billing group", name)
		}
		for _, tn := range sortedKeys(s.things, func(_ string, th *Thing) bool { return th.BillingGroup == name }) {
			th := cloneThing(s.things[tn])
			th.BillingGroup = ""
			t.put("thing", tn, th, func() { s.things[tn] = th })
		}
		t.del("billinggroup", name, func() { delete(s.billingGroups, name) })
		t.setTags(arn.IoT(sc.Region, sc.Account, "billinggroup", name), nil)
		return nil
	})
}

// ListBillingGroups returns a page of billing groups sorted by name. AWS: API_ListBillingGroups
func (r *Registry) ListBillingGroups(sc Scope, namePrefix string, p Page) ([]*BillingGroup, string, error) {
	if err := checkOptionalName("namePrefixFilter", namePrefix); err != nil {
		return nil, "", err
	}
	var (
		out  []*BillingGroup
		next string
	)
	err := r.view(sc, func(s *state) error {
		names, nt, err := paginate(sortedKeys(s.billingGroups, func(n string, _ *BillingGroup) bool {
			return strings.HasPrefix(n, namePrefix)
		}), listPage(p))
		if err != nil {
			return err
		}
		for _, n := range names {
			out = append(out, cloneBilling(s.billingGroups[n]))
		}
		next = nt
		return nil
	})
	return out, next, err
}

// AddThingToBillingGroup puts a thing in a billing group. A thing already in another billing group moves:
// a thing has one billing group (DescribeThing's single billingGroupName), and AWS documents no error for
// this case. AWS: API_AddThingToBillingGroup
func (r *Registry) AddThingToBillingGroup(sc Scope, thing, group string) error {
	return r.setBillingGroup(sc, thing, group, true)
}

// RemoveThingFromBillingGroup takes a thing out of a billing group; a thing that isn't in it is no
// change. AWS: API_RemoveThingFromBillingGroup
func (r *Registry) RemoveThingFromBillingGroup(sc Scope, thing, group string) error {
	return r.setBillingGroup(sc, thing, group, false)
}

func (r *Registry) setBillingGroup(sc Scope, thing, group string, add bool) error {
	if err := checkName("thingName", thing); err != nil {
		return err
	}
	if err := checkName("billingGroupName", group); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		if s.billingGroups[group] == nil {
			return billingGroupNotFound(group)
		}
		old := s.things[thing]
		if old == nil {
			return thingNotFound(thing)
		}
		th := cloneThing(old)
		switch {
		case add:
			th.BillingGroup = group
		case th.BillingGroup == group:
			th.BillingGroup = ""
		}
		if th.BillingGroup == old.BillingGroup {
			return nil
		}
		t.put("thing", thing, th, func() { s.things[thing] = th })
		t.emit(Event{Kind: "thing", Name: thing})
		return nil
	})
}
