package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerGroups() {
	s.handle("iot", "CreateThingGroup", op(s.createThingGroup))
	s.handle("iot", "DescribeThingGroup", op(s.describeThingGroup))
	s.handle("iot", "UpdateThingGroup", op(s.updateThingGroup))
	s.handle("iot", "DeleteThingGroup", op(s.deleteThingGroup))
	s.handle("iot", "ListThingGroups", op(s.listThingGroups))
	s.handle("iot", "AddThingToThingGroup", op(s.addThingToThingGroup))
	s.handle("iot", "RemoveThingFromThingGroup", op(s.removeThingFromThingGroup))
	s.handle("iot", "UpdateThingGroupsForThing", op(s.updateThingGroupsForThing))
	s.handle("iot", "ListThingGroupsForThing", op(s.listThingGroupsForThing))

	s.handle("iot", "CreateBillingGroup", op(s.createBillingGroup))
	s.handle("iot", "DescribeBillingGroup", op(s.describeBillingGroup))
	s.handle("iot", "UpdateBillingGroup", op(s.updateBillingGroup))
	s.handle("iot", "DeleteBillingGroup", op(s.deleteBillingGroup))
	s.handle("iot", "ListBillingGroups", op(s.listBillingGroups))
	s.handle("iot", "AddThingToBillingGroup", op(s.addThingToBillingGroup))
	s.handle("iot", "RemoveThingFromBillingGroup", op(s.removeThingFromBillingGroup))
}

// groupList is the shape of ListThingGroupsResponse and ListThingGroupsForThingResponse, with
// "thingGroups": [] sent when there are none.
type groupList struct {
	NextToken   string                     `json:"nextToken,omitempty"`
	ThingGroups []iotmodel.GroupNameAndArn `json:"thingGroups"`
}

// groupRefs names groups with their ARNs.
func groupRefs(r *Request, typ string, names []string) []iotmodel.GroupNameAndArn {
	out := []iotmodel.GroupNameAndArn{}
	for _, n := range names {
		out = append(out, iotmodel.GroupNameAndArn{GroupName: n, GroupArn: iotARN(r, typ, n)})
	}
	return out
}

// AWS: API_CreateThingGroup
func (s *Server) createThingGroup(r *Request, in *iotmodel.CreateThingGroupRequest) (*iotmodel.CreateThingGroupResponse, error) {
	ci := registry.CreateThingGroupInput{Name: in.ThingGroupName, Parent: in.ParentGroupName, Tags: tagsIn(in.Tags)}
	if p := in.ThingGroupProperties; p != nil {
		ci.Description = p.ThingGroupDescription
		if p.AttributePayload != nil {
			ci.Attributes = p.AttributePayload.Attributes
		}
	}
	g, err := s.cfg.Registry.CreateThingGroup(r.Scope, ci)
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateThingGroupResponse{ThingGroupName: g.Name, ThingGroupId: g.ID, ThingGroupArn: iotARN(r, "thinggroup", g.Name)}, nil
}

// describeThingGroup answers a static group: no index, query or status. AWS: API_DescribeThingGroup
func (s *Server) describeThingGroup(r *Request, in *iotmodel.DescribeThingGroupRequest) (*iotmodel.DescribeThingGroupResponse, error) {
	g, rootToParent, err := s.cfg.Registry.DescribeThingGroup(r.Scope, in.ThingGroupName)
	if err != nil {
		return nil, err
	}
	props := &iotmodel.ThingGroupProperties{ThingGroupDescription: g.Description}
	if len(g.Attributes) > 0 {
		props.AttributePayload = &iotmodel.AttributePayload{Attributes: g.Attributes}
	}
	md := &iotmodel.ThingGroupMetadata{CreationDate: wire.NewTimestamp(g.Created), ParentGroupName: g.Parent}
	if len(rootToParent) > 0 {
		md.RootToParentThingGroups = groupRefs(r, "thinggroup", rootToParent)
	}
	return &iotmodel.DescribeThingGroupResponse{
		ThingGroupName:       g.Name,
		ThingGroupId:         g.ID,
		ThingGroupArn:        iotARN(r, "thinggroup", g.Name),
		Version:              ptr(g.Version),
		ThingGroupProperties: props,
		ThingGroupMetadata:   md,
	}, nil
}

// AWS: API_UpdateThingGroup
func (s *Server) updateThingGroup(r *Request, in *iotmodel.UpdateThingGroupRequest) (*iotmodel.UpdateThingGroupResponse, error) {
	ui := registry.UpdateThingGroupInput{Name: in.ThingGroupName, ExpectedVersion: in.ExpectedVersion}
	if p := in.ThingGroupProperties; p != nil {
		ui.Description = p.ThingGroupDescription
		if a := p.AttributePayload; a != nil {
			ui.SetAttributes, ui.Attributes, ui.Merge = true, a.Attributes, deref(a.Merge)
		}
	}
	v, err := s.cfg.Registry.UpdateThingGroup(r.Scope, ui)
	if err != nil {
		return nil, err
	}
	return &iotmodel.UpdateThingGroupResponse{Version: ptr(v)}, nil
}

// AWS: API_DeleteThingGroup
func (s *Server) deleteThingGroup(r *Request, in *iotmodel.DeleteThingGroupRequest) (*iotmodel.DeleteThingGroupResponse, error) {
	if err := s.cfg.Registry.DeleteThingGroup(r.Scope, in.ThingGroupName, in.ExpectedVersion); err != nil {
		return nil, err
	}
	return &iotmodel.DeleteThingGroupResponse{}, nil
}

// AWS: API_ListThingGroups
func (s *Server) listThingGroups(r *Request, in *iotmodel.ListThingGroupsRequest) (*groupList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	gs, next, err := s.cfg.Registry.ListThingGroups(r.Scope, registry.ListThingGroupsInput{
		Parent: in.ParentGroup, NamePrefix: in.NamePrefixFilter, Recursive: in.Recursive, Page: p,
	})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return &groupList{NextToken: next, ThingGroups: groupRefs(r, "thinggroup", names)}, nil
}

// memberNames resolves the thing and group of a membership call, each given by name or by ARN.
func memberNames(r *Request, groupType, groupName, groupARN, thingName, thingARN string) (group, thing string, err error) {
	what := "thingGroup"
	if groupType == "billinggroup" {
		what = "billingGroup"
	}
	if group, err = registry.ResolveName(r.Scope, groupType, groupName, groupARN, what); err != nil {
		return "", "", err
	}
	if thing, err = registry.ResolveName(r.Scope, "thing", thingName, thingARN, "thing"); err != nil {
		return "", "", err
	}
	return group, thing, nil
}

// addThingToThingGroup: overrideDynamicGroups has no effect, there being no dynamic groups.
// AWS: API_AddThingToThingGroup
func (s *Server) addThingToThingGroup(r *Request, in *iotmodel.AddThingToThingGroupRequest) (*iotmodel.AddThingToThingGroupResponse, error) {
	group, thing, err := memberNames(r, "thinggroup", in.ThingGroupName, in.ThingGroupArn, in.ThingName, in.ThingArn)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.AddThingToThingGroup(r.Scope, thing, group); err != nil {
		return nil, err
	}
	return &iotmodel.AddThingToThingGroupResponse{}, nil
}

// AWS: API_RemoveThingFromThingGroup
func (s *Server) removeThingFromThingGroup(r *Request, in *iotmodel.RemoveThingFromThingGroupRequest) (*iotmodel.RemoveThingFromThingGroupResponse, error) {
	group, thing, err := memberNames(r, "thinggroup", in.ThingGroupName, in.ThingGroupArn, in.ThingName, in.ThingArn)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.RemoveThingFromThingGroup(r.Scope, thing, group); err != nil {
		return nil, err
	}
	return &iotmodel.RemoveThingFromThingGroupResponse{}, nil
}

// AWS: API_UpdateThingGroupsForThing
func (s *Server) updateThingGroupsForThing(r *Request, in *iotmodel.UpdateThingGroupsForThingRequest) (*iotmodel.UpdateThingGroupsForThingResponse, error) {
	if err := s.cfg.Registry.UpdateThingGroupsForThing(r.Scope, in.ThingName, in.ThingGroupsToAdd, in.ThingGroupsToRemove); err != nil {
		return nil, err
	}
	return &iotmodel.UpdateThingGroupsForThingResponse{}, nil
}

// AWS: API_ListThingGroupsForThing
func (s *Server) listThingGroupsForThing(r *Request, in *iotmodel.ListThingGroupsForThingRequest) (*groupList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Registry.ListThingGroupsForThing(r.Scope, in.ThingName, p)
	if err != nil {
		return nil, err
	}
	return &groupList{NextToken: next, ThingGroups: groupRefs(r, "thinggroup", names)}, nil
}

// AWS: API_CreateBillingGroup
func (s *Server) createBillingGroup(r *Request, in *iotmodel.CreateBillingGroupRequest) (*iotmodel.CreateBillingGroupResponse, error) {
	var desc string
	if in.BillingGroupProperties != nil {
		desc = in.BillingGroupProperties.BillingGroupDescription
	}
	b, err := s.cfg.Registry.CreateBillingGroup(r.Scope, in.BillingGroupName, desc, tagsIn(in.Tags))
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateBillingGroupResponse{BillingGroupName: b.Name, BillingGroupId: b.ID, BillingGroupArn: iotARN(r, "billinggroup", b.Name)}, nil
}

// AWS: API_DescribeBillingGroup
func (s *Server) describeBillingGroup(r *Request, in *iotmodel.DescribeBillingGroupRequest) (*iotmodel.DescribeBillingGroupResponse, error) {
	b, err := s.cfg.Registry.DescribeBillingGroup(r.Scope, in.BillingGroupName)
	if err != nil {
		return nil, err
	}
	return &iotmodel.DescribeBillingGroupResponse{
		BillingGroupName:       b.Name,
		BillingGroupId:         b.ID,
		BillingGroupArn:        iotARN(r, "billinggroup", b.Name),
		Version:                ptr(b.Version),
		BillingGroupProperties: &iotmodel.BillingGroupProperties{BillingGroupDescription: b.Description},
		BillingGroupMetadata:   &iotmodel.BillingGroupMetadata{CreationDate: wire.NewTimestamp(b.Created)},
	}, nil
}

// AWS: API_UpdateBillingGroup
func (s *Server) updateBillingGroup(r *Request, in *iotmodel.UpdateBillingGroupRequest) (*iotmodel.UpdateBillingGroupResponse, error) {
	var desc string
	if in.BillingGroupProperties != nil {
		desc = in.BillingGroupProperties.BillingGroupDescription
	}
	v, err := s.cfg.Registry.UpdateBillingGroup(r.Scope, in.BillingGroupName, desc, in.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	return &iotmodel.UpdateBillingGroupResponse{Version: ptr(v)}, nil
}

// AWS: API_DeleteBillingGroup
func (s *Server) deleteBillingGroup(r *Request, in *iotmodel.DeleteBillingGroupRequest) (*iotmodel.DeleteBillingGroupResponse, error) {
	if err := s.cfg.Registry.DeleteBillingGroup(r.Scope, in.BillingGroupName, in.ExpectedVersion); err != nil {
		return nil, err
	}
	return &iotmodel.DeleteBillingGroupResponse{}, nil
}

// listBillingGroupsResponse sends "billingGroups": [] when there are none.
type listBillingGroupsResponse struct {
	NextToken     string                     `json:"nextToken,omitempty"`
	BillingGroups []iotmodel.GroupNameAndArn `json:"billingGroups"`
}

// AWS: API_ListBillingGroups
func (s *Server) listBillingGroups(r *Request, in *iotmodel.ListBillingGroupsRequest) (*listBillingGroupsResponse, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	bs, next, err := s.cfg.Registry.ListBillingGroups(r.Scope, in.NamePrefixFilter, p)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	return &listBillingGroupsResponse{NextToken: next, BillingGroups: groupRefs(r, "billinggroup", names)}, nil
}

// AWS: API_AddThingToBillingGroup
func (s *Server) addThingToBillingGroup(r *Request, in *iotmodel.AddThingToBillingGroupRequest) (*iotmodel.AddThingToBillingGroupResponse, error) {
	group, thing, err := memberNames(r, "billinggroup", in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.AddThingToBillingGroup(r.Scope, thing, group); err != nil {
		return nil, err
	}
	return &iotmodel.AddThingToBillingGroupResponse{}, nil
}

// AWS: API_RemoveThingFromBillingGroup
func (s *Server) removeThingFromBillingGroup(r *Request, in *iotmodel.RemoveThingFromBillingGroupRequest) (*iotmodel.RemoveThingFromBillingGroupResponse, error) {
	group, thing, err := memberNames(r, "billinggroup", in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.RemoveThingFromBillingGroup(r.Scope, thing, group); err != nil {
		return nil, err
	}
	return &iotmodel.RemoveThingFromBillingGroupResponse{}, nil
}
