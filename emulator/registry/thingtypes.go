package registry

import (
	"slices"
	"time"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// PropagatingAttribute adds a thing attribute or a connection attribute to the MQTT 5 messages of the
// type's things as a user property. AWS: API_PropagatingAttribute
type PropagatingAttribute struct {
	UserPropertyKey     string `json:"userPropertyKey"`
	ThingAttribute      string `json:"thingAttribute,omitempty"`
	ConnectionAttribute string `json:"connectionAttribute,omitempty"`
}

// ThingTypeInput is CreateThingType's input. AWS: API_CreateThingType
type ThingTypeInput struct {
	Name                 string
	Description          string
	SearchableAttributes []string
	Propagating          []PropagatingAttribute
	Tags                 []Tag
}

// UpdateThingTypeInput is UpdateThingType's input; nil slices and an empty description leave that
// property as it is. AWS: API_UpdateThingType
type UpdateThingTypeInput struct {
	Name                 string
	Description          string
	SearchableAttributes []string
	Propagating          []PropagatingAttribute
}

func cloneThingType(tt *ThingType) *ThingType {
	c := *tt
	c.SearchableAttributes = slices.Clone(tt.SearchableAttributes)
	c.Propagating = slices.Clone(tt.Propagating)
	if tt.DeprecationDate != nil {
		d := *tt.DeprecationDate
		c.DeprecationDate = &d
	}
	return &c
}

func thingTypeNotFound(name string) error {
	return awserr.NotFound("Thing type %s cannot be found.", name)
}

func checkThingTypeProps(description string, searchable []string, pas []PropagatingAttribute) error {
	if err := checkDescription("thingTypeProperties.thingTypeDescription", description); err != nil {
		return err
	}
	if err := checkSearchable(searchable); err != nil {
		return err
	}
	return checkPropagating(pas)
}

// sameSet compares two name lists as sets: AWS treats searchable attributes as unordered.
func sameSet(a, b []string) bool { return slices.Equal(sortedSet(a), sortedSet(b)) }

// CreateThingType creates a thing type, or returns the existing one when name and properties are
// identical. AWS: API_CreateThingType
func (r *Registry) CreateThingType(sc Scope, in ThingTypeInput) (*ThingType, error) {
	if err := checkName("thingTypeName", in.Name); err != nil {
		return nil, err
	}
	if err := checkThingTypeProps(in.Description, in.SearchableAttributes, in.Propagating); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	var out *ThingType
	err := r.update(sc, func(t *txn) error {
		s := t.s
		typeARN := arn.IoT(sc.Region, sc.Account, "thingtype", in.Name)
		if old := s.thingTypes[in.Name]; old != nil {
			if old.Description == in.Description && sameSet(old.SearchableAttributes, in.SearchableAttributes) &&
				slices.Equal(old.Propagating, in.Propagating) {
				out = cloneThingType(old)
				return nil
			}
			return alreadyExists("Thing Type "+in.Name+" already exists in current account with different properties", old.ID, typeARN)
		}
		tt := &ThingType{
			Name:                 in.Name,
			ID:                   r.newUUID(),
			Description:          in.Description,
			SearchableAttributes: sortedSet(in.SearchableAttributes),
			Propagating:          slices.Clone(in.Propagating),
			Created:              r.now().UTC(),
		}
		if len(tt.SearchableAttributes) == 0 {
			tt.SearchableAttributes = nil
		}
		if err := t.createTags(typeARN, in.Tags); err != nil {
			return err
		}
		t.put("thingtype", tt.Name, tt, func() { s.thingTypes[tt.Name] = tt })
		out = cloneThingType(tt)
		return nil
	})
	return out, err
}

// DescribeThingType returns a copy of a thing type. AWS: API_DescribeThingType
func (r *Registry) DescribeThingType(sc Scope, name string) (*ThingType, error) {
	if err := checkName("thingTypeName", name); err != nil {
		return nil, err
	}
	var out *ThingType
	err := r.view(sc, func(s *state) error {
		tt := s.thingTypes[name]
		if tt == nil {
			return thingTypeNotFound(name)
		}
		out = cloneThingType(tt)
		return nil
	})
	return out, err
}

// ListThingTypes returns a page of thing types sorted by name, optionally only the one named.
// AWS: API_ListThingTypes
func (r *Registry) ListThingTypes(sc Scope, name string, p Page) ([]*ThingType, string, error) {
	if err := checkOptionalName("thingTypeName", name); err != nil {
		return nil, "", err
	}
	var (
		out  []*ThingType
		next string
	)
	err := r.view(sc, func(s *state) error {
		names, nt, err := paginate(sortedKeys(s.thingTypes, func(n string, _ *ThingType) bool {
			return name == "" || n == name
		}), listPage(p))
		if err != nil {
			return err
		}
		for _, n := range names {
			out = append(out, cloneThingType(s.thingTypes[n]))
		}
		next = nt
		return nil
	})
	return out, next, err
}

// DeprecateThingType deprecates a thing type, or with undo makes it usable again. Things of the type keep
// it; no thing can be given it while deprecated. Deprecating twice keeps the first deprecation date, so
// the wait before deletion is not restarted. AWS: API_DeprecateThingType, deprecate-thing-type
func (r *Registry) DeprecateThingType(sc Scope, name string, undo bool) error {
	if err := checkName("thingTypeName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		old := s.thingTypes[name]
		if old == nil {
			return thingTypeNotFound(name)
		}
		if old.Deprecated == !undo {
			return nil
		}
		tt := cloneThingType(old)
		tt.Deprecated = !undo
		tt.DeprecationDate = nil
		if !undo {
			now := r.now().UTC()
			tt.DeprecationDate = &now
		}
		t.put("thingtype", name, tt, func() { s.thingTypes[name] = tt })
		return nil
	})
}

// UpdateThingType changes a thing type's properties. A deprecated type can't be updated (AWS:
// CloudFormation AWS::IoT::ThingType "You cannot update ThingTypeProperties if the thing type is
// deprecated"). AWS: API_UpdateThingType
func (r *Registry) UpdateThingType(sc Scope, in UpdateThingTypeInput) error {
	if err := checkName("thingTypeName", in.Name); err != nil {
		return err
	}
	if err := checkThingTypeProps(in.Description, in.SearchableAttributes, in.Propagating); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		old := s.thingTypes[in.Name]
		if old == nil {
			return thingTypeNotFound(in.Name)
		}
		if old.Deprecated {
			return awserr.InvalidReq("Cannot update deprecated thing type : %s", in.Name)
		}
		tt := cloneThingType(old)
		if in.Description != "" {
			tt.Description = in.Description
		}
		if in.SearchableAttributes != nil {
			tt.SearchableAttributes = sortedSet(in.SearchableAttributes)
		}
		if in.Propagating != nil {
			tt.Propagating = slices.Clone(in.Propagating)
		}
		t.put("thingtype", tt.Name, tt, func() { s.thingTypes[tt.Name] = tt })
		return nil
	})
}

// DeleteThingType deletes a thing type that has been deprecated for at least the delete delay (AWS: five
// minutes) and that no thing has. AWS: API_DeleteThingType, delete-thing-types
func (r *Registry) DeleteThingType(sc Scope, name string) error {
	if err := checkName("thingTypeName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		tt := s.thingTypes[name]
		if tt == nil {
			return thingTypeNotFound(name)
		}
		if !tt.Deprecated || tt.DeprecationDate == nil {
			return awserr.InvalidReq("Cannot delete thing type : %s. Thing type must be deprecated before it can be deleted", name)
		}
		if r.typeDeleteDelay > 0 && r.now().Before(tt.DeprecationDate.Add(r.typeDeleteDelay)) {
			// AWS's text, as seen from the aws CLI, with AWS's delay of 5 minutes.
			wait := "5 minutes"
			if r.typeDeleteDelay != 5*time.Minute {
				wait = r.typeDeleteDelay.String()
			}
			return awserr.InvalidReq("Cannot delete thing type : %s. Please wait for %s after deprecation and then retry", name, wait)
		}
		for _, th := range s.things {
			if th.TypeName == name {
				return awserr.InvalidReq("Cannot delete thing type : %s. There are still things associated with it", name)
			}
		}
		t.del("thingtype", name, func() { delete(s.thingTypes, name) })
		t.setTags(arn.IoT(sc.Region, sc.Account, "thingtype", name), nil)
		return nil
	})
}
