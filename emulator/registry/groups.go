package registry

import (
	"maps"
	"slices"
	"strings"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Static thing groups: a forest of groups, each with at most one parent fixed at creation. Memberships
// are kept on the thing records (Thing.Groups, the groups a thing was added to directly), so deleting a
// thing takes them with it. Dynamic thing groups (fleet indexing) are not emulated. AWS: thing-groups

// CreateThingGroupInput is CreateThingGroup's input. AWS: API_CreateThingGroup
type CreateThingGroupInput struct {
	Name        string
	Parent      string // optional, fixed for the group's life
	Description string
	Attributes  map[string]string
	Tags        []Tag
}

// UpdateThingGroupInput is UpdateThingGroup's input. An empty description leaves it as it is; attributes
// work as UpdateThing's. AWS: API_UpdateThingGroup
type UpdateThingGroupInput struct {
	Name            string
	Description     string
	SetAttributes   bool
	Attributes      map[string]string
	Merge           bool
	ExpectedVersion *int64
}

// ListThingGroupsInput filters ListThingGroups. AWS: API_ListThingGroups
type ListThingGroupsInput struct {
	Parent     string // only the parent's children (with Recursive, all its descendants)
	NamePrefix string
	// Recursive, when set, decides whether child groups are listed: without Parent, false lists only root
	// groups; with Parent, true lists all descendants rather than direct children.
	Recursive *bool
	Page      Page
}

func cloneGroup(g *ThingGroup) *ThingGroup {
	c := *g
	c.Attributes = maps.Clone(g.Attributes)
	return &c
}

func thingGroupNotFound(name string) error {
	return awserr.NotFound("Thing group %s cannot be found.", name)
}

// ancestors returns a group's ancestors from the root down to its parent.
func ancestors(s *state, name string) []string {
	var out []string
	for g := s.thingGroups[name]; g != nil && g.Parent != ""; g = s.thingGroups[g.Parent] {
		out = append(out, g.Parent)
		if len(out) > maxGroupDepth { // a corrupt cycle must not hang the registry
			break
		}
	}
	slices.Reverse(out)
	return out
}

// root is the top group of name's hierarchy.
func root(s *state, name string) string {
	if a := ancestors(s, name); len(a) > 0 {
		return a[0]
	}
	return name
}

// children returns the names of a group's direct children, sorted.
func children(s *state, name string) []string {
	return sortedKeys(s.thingGroups, func(_ string, g *ThingGroup) bool { return g.Parent == name })
}

// descendants returns the names of all groups below name.
func descendants(s *state, name string) []string {
	var out []string
	queue := children(s, name)
	for len(queue) > 0 && len(out) <= len(s.thingGroups) {
		g := queue[0]
		queue = queue[1:]
		out = append(out, g)
		queue = append(queue, children(s, g)...)
	}
	return out
}

// CreateThingGroup creates a static thing group, or returns the existing one when name and properties
// are identical (AWS: API_CreateThingGroup "If the ThingGroup that you create has the exact same
// attributes as an existing ThingGroup, you will get a 200 success response."). Tags of a repeated call
// are ignored.
func (r *Registry) CreateThingGroup(sc Scope, in CreateThingGroupInput) (*ThingGroup, error) {
	if err := checkName("thingGroupName", in.Name); err != nil {
		return nil, err
	}
	if err := checkOptionalName("parentGroupName", in.Parent); err != nil {
		return nil, err
	}
	if err := checkDescription("thingGroupProperties.thingGroupDescription", in.Description); err != nil {
		return nil, err
	}
	if err := checkGroupAttributes(in.Name, in.Attributes); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	var out *ThingGroup
	err := r.update(sc, func(t *txn) error {
		s := t.s
		groupARN := arn.IoT(sc.Region, sc.Account, "thinggroup", in.Name)
		if old := s.thingGroups[in.Name]; old != nil {
			if old.Parent == in.Parent && old.Description == in.Description && maps.Equal(old.Attributes, in.Attributes) {
				out = cloneGroup(old)
				return nil
			}
			// AWS's text, as the aws CLI prints it (github.com/getmoto/moto/pull/5316).
			return alreadyExists("Thing Group "+in.Name+" already exists in current account with different properties", old.ID, groupARN)
		}
		if in.Parent != "" {
			if s.thingGroups[in.Parent] == nil {
				return thingGroupNotFound(in.Parent)
			}
			if d := len(ancestors(s, in.Parent)) + 2; d > maxGroupDepth {
				return awserr.InvalidReq("Cannot create thing group %s: the maximum depth of a thing group hierarchy is %d", in.Name, maxGroupDepth)
			}
			if n := len(children(s, in.Parent)); n >= maxChildGroups {
				return awserr.InvalidReq("Cannot create thing group %s: thing group %s already has the maximum of %d child groups", in.Name, in.Parent, maxChildGroups)
			}
		}
		g := &ThingGroup{
			Name:        in.Name,
			ID:          r.newUUID(),
			Parent:      in.Parent,
			Description: in.Description,
			Attributes:  maps.Clone(in.Attributes),
			Version:     1,
			Created:     r.now().UTC(),
		}
		if len(g.Attributes) == 0 {
			g.Attributes = nil
		}
		if err := t.createTags(groupARN, in.Tags); err != nil {
			return err
		}
		t.put("thinggroup", g.Name, g, func() { s.thingGroups[g.Name] = g })
		out = cloneGroup(g)
		return nil
	})
	return out, err
}

func checkGroupAttributes(group string, attrs map[string]string) error {
	if err := checkAttributes("thingGroupProperties.attributePayload.attributes", attrs); err != nil {
		return err
	}
	if len(attrs) > maxGroupAttrs {
		return awserr.InvalidReq("Thing group %s can have at most %d attributes, got %d", group, maxGroupAttrs, len(attrs))
	}
	return nil
}

// DescribeThingGroup returns a copy of a group and its ancestors from the root down to its parent.
// AWS: API_DescribeThingGroup
func (r *Registry) DescribeThingGroup(sc Scope, name string) (g *ThingGroup, rootToParent []string, err error) {
	if err := checkName("thingGroupName", name); err != nil {
		return nil, nil, err
	}
	err = r.view(sc, func(s *state) error {
		old := s.thingGroups[name]
		if old == nil {
			return thingGroupNotFound(name)
		}
		g, rootToParent = cloneGroup(old), ancestors(s, name)
		return nil
	})
	return g, rootToParent, err
}

// UpdateThingGroup changes a group's description and attributes and returns its new version.
// AWS: API_UpdateThingGroup
func (r *Registry) UpdateThingGroup(sc Scope, in UpdateThingGroupInput) (int64, error) {
	if err := checkName("thingGroupName", in.Name); err != nil {
		return 0, err
	}
	if err := checkDescription("thingGroupProperties.thingGroupDescription", in.Description); err != nil {
		return 0, err
	}
	if err := checkAttributes("thingGroupProperties.attributePayload.attributes", in.Attributes); err != nil {
		return 0, err
	}
	var version int64
	err := r.update(sc, func(t *txn) error {
		s := t.s
		old := s.thingGroups[in.Name]
		if old == nil {
			return thingGroupNotFound(in.Name)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != old.Version {
			return versionConflict("thing group", in.Name)
		}
		g := cloneGroup(old)
		if in.Description != "" {
			g.Description = in.Description
		}
		if in.SetAttributes {
			g.Attributes = mergeAttributes(g.Attributes, in.Attributes, in.Merge)
		}
		if err := checkGroupAttributes(g.Name, g.Attributes); err != nil {
			return err
		}
		g.Version++
		t.put("thinggroup", g.Name, g, func() { s.thingGroups[g.Name] = g })
		version = g.Version
		return nil
	})
	return version, err
}

// DeleteThingGroup deletes a group without child groups; its things lose the membership, and policies
// attached to it are detached. Deleting a group that doesn't exist succeeds. AWS: API_DeleteThingGroup,
// thing-groups ("You can delete a group that has child things")
func (r *Registry) DeleteThingGroup(sc Scope, name string, expectedVersion *int64) error {
	if err := checkName("thingGroupName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		s := t.s
		g := s.thingGroups[name]
		if g == nil {
			return nil
		}
		if expectedVersion != nil && *expectedVersion != g.Version {
			return versionConflict("thing group", name)
		}
		if len(children(s, name)) > 0 {
			// AWS's text. AWS: thing-groups (delete-thing-group)
			return awserr.InvalidReq("Cannot delete thing group : %s when there are still child groups attached to it.", name)
		}
		for _, tn := range sortedKeys(s.things, func(_ string, th *Thing) bool { return slices.Contains(th.Groups, name) }) {
			th := cloneThing(s.things[tn])
			th.Groups = slices.DeleteFunc(th.Groups, func(g string) bool { return g == name })
			t.put("thing", tn, th, func() { s.things[tn] = th })
			t.emit(Event{Kind: "thing", Name: tn})
		}
		groupARN := arn.IoT(sc.Region, sc.Account, "thinggroup", name)
		t.detachAllPolicies(groupARN) // a new group of the same name must not inherit them
		t.del("thinggroup", name, func() { delete(s.thingGroups, name) })
		t.setTags(groupARN, nil)
		t.emit(Event{Kind: "thinggroup", Name: name})
		return nil
	})
}

// ListThingGroups returns a page of groups sorted by name. AWS: API_ListThingGroups
func (r *Registry) ListThingGroups(sc Scope, in ListThingGroupsInput) ([]*ThingGroup, string, error) {
	if err := checkOptionalName("parentGroup", in.Parent); err != nil {
		return nil, "", err
	}
	if err := checkOptionalName("namePrefixFilter", in.NamePrefix); err != nil {
		return nil, "", err
	}
	var (
		out  []*ThingGroup
		next string
	)
	err := r.view(sc, func(s *state) error {
		var names []string
		switch {
		case in.Parent != "":
			if s.thingGroups[in.Parent] == nil {
				return thingGroupNotFound(in.Parent)
			}
			names = children(s, in.Parent)
			if in.Recursive != nil && *in.Recursive {
				names = sortedSet(descendants(s, in.Parent))
			}
		case in.Recursive != nil && !*in.Recursive:
			names = sortedKeys(s.thingGroups, func(_ string, g *ThingGroup) bool { return g.Parent == "" })
		default:
			names = sortedKeys(s.thingGroups, nil)
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, in.NamePrefix) })
		page, nt, err := paginate(names, listPage(in.Page))
		if err != nil {
			return err
		}
		for _, n := range page {
			out = append(out, cloneGroup(s.thingGroups[n]))
		}
		next = nt
		return nil
	})
	return out, next, err
}

// joinGroup adds group to th.Groups (th is the caller's copy), enforcing AWS's membership rules: at most
// 10 groups, and at most one group of a hierarchy. AWS: thing-groups ("You can add a thing to a maximum of
// 10 groups. But you cannot add a thing to more than one group in the same hierarchy.")
func joinGroup(s *state, th *Thing, group string) error {
	if slices.Contains(th.Groups, group) {
		return nil
	}
	top := root(s, group)
	for _, g := range th.Groups {
		if root(s, g) == top {
			return awserr.InvalidReq("Cannot add thing %s to thing group %s: it is already in thing group %s of the same hierarchy", th.Name, group, g)
		}
	}
	if len(th.Groups) >= maxGroupsPerThing {
		return awserr.InvalidReq("Cannot add thing %s to thing group %s: a thing can be in at most %d thing groups", th.Name, group, maxGroupsPerThing)
	}
	th.Groups = append(th.Groups, group)
	slices.Sort(th.Groups)
	return nil
}

// memberChange applies fn to a copy of the thing and stages it when the groups changed.
func (t *txn) memberChange(thing string, fn func(th *Thing) error) error {
	s := t.s
	old := s.things[thing]
	if old == nil {
		return thingNotFound(thing)
	}
	th := cloneThing(old)
	if err := fn(th); err != nil {
		return err
	}
	if slices.Equal(th.Groups, old.Groups) {
		return nil
	}
	t.put("thing", thing, th, func() { s.things[thing] = th })
	t.emit(Event{Kind: "thing", Name: thing})
	return nil
}

// AddThingToThingGroup adds a thing to a static group; adding it again is no change.
// overrideDynamicGroups has no effect, as no dynamic groups are emulated. AWS: API_AddThingToThingGroup
func (r *Registry) AddThingToThingGroup(sc Scope, thing, group string) error {
	if err := checkName("thingName", thing); err != nil {
		return err
	}
	if err := checkName("thingGroupName", group); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		if t.s.thingGroups[group] == nil {
			return thingGroupNotFound(group)
		}
		return t.memberChange(thing, func(th *Thing) error { return joinGroup(t.s, th, group) })
	})
}

// RemoveThingFromThingGroup removes a thing from a group; a thing that isn't in it is no change.
// AWS: API_RemoveThingFromThingGroup
func (r *Registry) RemoveThingFromThingGroup(sc Scope, thing, group string) error {
	if err := checkName("thingName", thing); err != nil {
		return err
	}
	if err := checkName("thingGroupName", group); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		if t.s.thingGroups[group] == nil {
			return thingGroupNotFound(group)
		}
		return t.memberChange(thing, func(th *Thing) error {
			th.Groups = slices.DeleteFunc(th.Groups, func(g string) bool { return g == group })
			return nil
		})
	})
}

// UpdateThingGroupsForThing removes a thing from some groups and adds it to others, all or nothing; the
// limits apply to the result. AWS: API_UpdateThingGroupsForThing
func (r *Registry) UpdateThingGroupsForThing(sc Scope, thing string, add, remove []string) error {
	if err := checkName("thingName", thing); err != nil {
		return err
	}
	for _, g := range slices.Concat(add, remove) {
		if err := checkName("thingGroupName", g); err != nil {
			return err
		}
	}
	return r.update(sc, func(t *txn) error {
		for _, g := range slices.Concat(add, remove) {
			if t.s.thingGroups[g] == nil {
				return thingGroupNotFound(g)
			}
		}
		return t.memberChange(thing, func(th *Thing) error {
			th.Groups = slices.DeleteFunc(th.Groups, func(g string) bool { return slices.Contains(remove, g) })
			for _, g := range add {
				if err := joinGroup(t.s, th, g); err != nil {
					return err
				}
			}
			if len(th.Groups) == 0 {
				th.Groups = nil
			}
			return nil
		})
	})
}

// ListThingGroupsForThing returns a page of the names of the groups a thing belongs to, including the
// ancestors of the groups it was added to (AWS: thing-groups, list-thing-groups-for-thing: "returns a
// list of the thing groups this thing belongs to, including any parent groups").
// AWS: API_ListThingGroupsForThing
func (r *Registry) ListThingGroupsForThing(sc Scope, thing string, p Page) ([]string, string, error) {
	if err := checkName("thingName", thing); err != nil {
		return nil, "", err
	}
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		th := s.things[thing]
		if th == nil {
			return thingNotFound(thing)
		}
		var all []string
		for _, g := range th.Groups {
			all = append(all, g)
			all = append(all, ancestors(s, g)...)
		}
		var err error
		out, next, err = paginate(sortedSet(all), listPage(p))
		return err
	})
	return out, next, err
}
