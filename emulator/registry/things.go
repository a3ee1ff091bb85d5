package registry

import (
	"maps"
	"slices"
	"strings"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Page sizes of the registry's List operations: the model allows 1–250 (RegistryMaxResults); AWS
// documents no default, 50 is what the emulator answers without maxResults.
const (
	defaultPageSize = 50
	maxPageSize     = 250
)

// listPage fills in the registry's page-size defaults.
func listPage(p Page) Page {
	if p.Default == 0 {
		p.Default = defaultPageSize
	}
	if p.Limit == 0 {
		p.Limit = maxPageSize
	}
	return p
}

// CreateThingInput is CreateThing's input. AWS: API_CreateThing
type CreateThingInput struct {
	Name         string
	TypeName     string            // optional; must exist and not be deprecated
	Attributes   map[string]string // optional
	BillingGroup string            // optional; must exist
}

// UpdateThingInput is UpdateThing's input. AWS: API_UpdateThing
type UpdateThingInput struct {
	Name       string
	TypeName   string // "" leaves the type alone
	RemoveType bool
	// SetAttributes says an attribute payload was sent: with Merge its attributes are merged into the
	// stored ones (an empty value removes that attribute), without Merge they replace them.
	SetAttributes   bool
	Attributes      map[string]string
	Merge           bool
	ExpectedVersion *int64
}

// ListThingsInput filters ListThings. AWS: API_ListThings
type ListThingsInput struct {
	AttributeName  string
	AttributeValue string
	UsePrefix      bool // attribute values that start with AttributeValue
	TypeName       string
	Page           Page
}

func cloneThing(t *Thing) *Thing {
	c := *t
	c.Attributes = maps.Clone(t.Attributes)
	c.Groups = slices.Clone(t.Groups)
	c.Principals = slices.Clone(t.Principals)
	return &c
}

func thingNotFound(name string) error { return awserr.NotFound("Thing %s cannot be found.", name) }

func versionConflict(what, name string) error {
	return awserr.New(awserr.VersionConflict, "The version for %s %s does not match the expected version.", what, name)
}

// attrLimit is how many attributes a thing may have. AWS: thing-types ("without a thing type … up to
// three attributes"; with one, up to 50).
func attrLimit(typeName string) int {
	if typeName == "" {
		return maxAttrsUntyped
	}
	return maxAttrsTyped
}

func checkAttrCount(thing, typeName string, n int) error {
	if lim := attrLimit(typeName); n > lim {
		if typeName == "" {
			return awserr.InvalidReq("Thing %s can have at most %d attributes without a thing type, got %d", thing, lim, n)
		}
		return awserr.InvalidReq("Thing %s can have at most %d attributes, got %d", thing, lim, n)
	}
	return nil
}

// usableType checks that a thing may be associated with the type now.
func usableType(s *state, name string) error {
	tt := s.thingTypes[name]
	if tt == nil {
		return thingTypeNotFound(name)
	}
	if tt.Deprecated {
		// AWS: API_DeprecateThingType ("You can not associate new things with deprecated thing type.")
		return awserr.InvalidReq("Can not create new thing with deprecated thing type: %s", name)
	}
	return nil
}

// CreateThing creates a thing, or returns the existing one when name and configuration are identical.
// AWS: API_CreateThing ("If this call is made with the same thing name but different configuration a
// ResourceAlreadyExistsException is thrown.")
func (r *Registry) CreateThing(sc Scope, in CreateThingInput) (*Thing, error) {
	if err := checkName("thingName", in.Name); err != nil {
		return nil, err
	}
	if err := checkOptionalName("thingTypeName", in.TypeName); err != nil {
		return nil, err
	}
	if err := checkOptionalName("billingGroupName", in.BillingGroup); err != nil {
		return nil, err
	}
	if err := checkAttributes("attributePayload.attributes", in.Attributes); err != nil {
		return nil, err
	}
	var out *Thing
	err := r.update(sc, func(t *txn) error {
		s := t.s
		if old := s.things[in.Name]; old != nil {
			if old.TypeName == in.TypeName && old.BillingGroup == in.BillingGroup && maps.Equal(old.Attributes, in.Attributes) {
				out = cloneThing(old)
				return nil
			}
			return alreadyExists("Thing "+in.Name+" already exists in account with different attributes",
				old.ID, arn.IoT(sc.Region, sc.Account, "thing", in.Name))
		}
		if in.TypeName != "" {
			if err := usableType(s, in.TypeName); err != nil {
				return err
			}
		}
		if err := checkAttrCount(in.Name, in.TypeName, len(in.Attributes)); err != nil {
			return err
		}
		if in.BillingGroup != "" && s.billingGroups[in.BillingGroup] == nil {
			return billingGroupNotFound(in.BillingGroup)
		}
		th := &Thing{
			Name:         in.Name,
			ID:           r.newUUID(),
			TypeName:     in.TypeName,
			Attributes:   maps.Clone(in.Attributes),
			Version:      1,
			BillingGroup: in.BillingGroup,
			Created:      r.now().UTC(),
		}
		t.put("thing", th.Name, th, func() { s.things[th.Name] = th })
		t.emit(Event{Kind: "thing", Name: th.Name})
		out = cloneThing(th)
		return nil
	})
	return out, err
}

// DescribeThing returns a copy of a thing. AWS: API_DescribeThing
func (r *Registry) DescribeThing(sc Scope, name string) (*Thing, error) {
	if err := checkName("thingName", name); err != nil {
		return nil, err
	}
	var out *Thing
	err := r.view(sc, func(s *state) error {
		th := s.things[name]
		if th == nil {
			return thingNotFound(name)
		}
		out = cloneThing(th)
		return nil
	})
	return out, err
}

// UpdateThing changes a thing's type and attributes and increments its version. AWS: API_UpdateThing
func (r *Registry) UpdateThing(sc Scope, in UpdateThingInput) (*Thing, error) {
	if err := checkName("thingName", in.Name); err != nil {
		return nil, err
	}
	if err := checkOptionalName("thingTypeName", in.TypeName); err != nil {
		return nil, err
	}
	if err := checkAttributes("attributePayload.attributes", in.Attributes); err != nil {
		return nil, err
	}
	if in.TypeName != "" && in.RemoveType {
		return nil, awserr.InvalidReq("Cannot specify both thingTypeName and removeThingType")
	}
	var out *Thing
	err := r.update(sc, func(t *txn) error {
		s := t.s
		old := s.things[in.Name]
		if old == nil {
			return thingNotFound(in.Name)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != old.Version {
			return versionConflict("thing", in.Name)
		}
		th := cloneThing(old)
		switch {
		case in.RemoveType:
			th.TypeName = ""
		case in.TypeName != "" && in.TypeName != old.TypeName:
			if err := usableType(s, in.TypeName); err != nil {
				return err
			}
			th.TypeName = in.TypeName
		}
		if in.SetAttributes {
			th.Attributes = mergeAttributes(th.Attributes, in.Attributes, in.Merge)
		}
		if err := checkAttrCount(th.Name, th.TypeName, len(th.Attributes)); err != nil {
			return err
		}
		th.Version++
		t.put("thing", th.Name, th, func() { s.things[th.Name] = th })
		t.emit(Event{Kind: "thing", Name: th.Name})
		out = cloneThing(th)
		return nil
	})
	return out, err
}

// mergeAttributes applies an attribute payload. With merge the payload is merged into old and an empty
// value removes that attribute; without it the payload replaces old. AWS: API_AttributePayload ("To remove
// an attribute, call UpdateThing with an empty attribute value.")
func mergeAttributes(old, payload map[string]string, merge bool) map[string]string {
	out := map[string]string{}
	if merge {
		maps.Copy(out, old)
	}
	for k, v := range payload {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DeleteThing deletes a thing, its group and billing group memberships and its tags. Deleting a thing that
// doesn't exist succeeds. AWS: API_DeleteThing
func (r *Registry) DeleteThing(sc Scope, name string, expectedVersion *int64) error {
	if err := checkName("thingName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		th := s.things[name]
		if th == nil {
			return nil
		}
		if expectedVersion != nil && *expectedVersion != th.Version {
			return versionConflict("thing", name)
		}
		if len(th.Principals) > 0 {
			// [OBS] github.com/rebuy-de/aws-nuke/issues/374: AWS's exact text.
			return awserr.InvalidReq("Cannot delete. Thing %s is still attached to one or more principals", name)
		}
		// Memberships live on the thing record, so they go with it.
		t.del("thing", name, func() { delete(s.things, name) })
		t.setTags(arn.IoT(sc.Region, sc.Account, "thing", name), nil)
		t.emit(Event{Kind: "thing", Name: name})
		return nil
	})
}

// ListThings returns a page of things, sorted by name. AWS: API_ListThings
func (r *Registry) ListThings(sc Scope, in ListThingsInput) ([]*Thing, string, error) {
	if in.AttributeName != "" {
		if err := checkAttributes("attributeName", map[string]string{in.AttributeName: in.AttributeValue}); err != nil {
			return nil, "", err
		}
	}
	if err := checkOptionalName("thingTypeName", in.TypeName); err != nil {
		return nil, "", err
	}
	keep := func(_ string, th *Thing) bool {
		if in.TypeName != "" && th.TypeName != in.TypeName {
			return false
		}
		if in.AttributeName == "" {
			return true
		}
		v, ok := th.Attributes[in.AttributeName]
		switch {
		case !ok:
			return false
		case in.AttributeValue == "":
			return true
		case in.UsePrefix:
			return strings.HasPrefix(v, in.AttributeValue)
		default:
			return v == in.AttributeValue
		}
	}
	var (
		out  []*Thing
		next string
	)
	err := r.view(sc, func(s *state) error {
		names, nt, err := pageOf(s.things, keep, listPage(in.Page))
		if err != nil {
			return err
		}
		for _, n := range names {
			out = append(out, cloneThing(s.things[n]))
		}
		next = nt
		return nil
	})
	return out, next, err
}

// ListThingsInThingGroup returns a page of the names of a group's things; with recursive, also of the
// things in its descendant groups. AWS: API_ListThingsInThingGroup
func (r *Registry) ListThingsInThingGroup(sc Scope, group string, recursive bool, p Page) ([]string, string, error) {
	if err := checkName("thingGroupName", group); err != nil {
		return nil, "", err
	}
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		if s.thingGroups[group] == nil {
			return thingGroupNotFound(group)
		}
		in := map[string]bool{group: true}
		if recursive {
			for _, g := range descendants(s, group) {
				in[g] = true
			}
		}
		names := sortedKeys(s.things, func(_ string, th *Thing) bool {
			return slices.ContainsFunc(th.Groups, func(g string) bool { return in[g] })
		})
		var err error
		out, next, err = paginate(names, listPage(p))
		return err
	})
	return out, next, err
}

// ListThingsInBillingGroup returns a page of the names of a billing group's things.
// AWS: API_ListThingsInBillingGroup
func (r *Registry) ListThingsInBillingGroup(sc Scope, group string, p Page) ([]string, string, error) {
	if err := checkName("billingGroupName", group); err != nil {
		return nil, "", err
	}
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		if s.billingGroups[group] == nil {
			return billingGroupNotFound(group)
		}
		names := sortedKeys(s.things, func(_ string, th *Thing) bool { return th.BillingGroup == group })
		var err error
		out, next, err = paginate(names, listPage(p))
		return err
	})
	return out, next, err
}
