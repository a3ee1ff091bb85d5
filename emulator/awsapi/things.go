package awsapi

import (
	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerThings() {
	s.handle("iot", "CreateThing", op(s.createThing))
	s.handle("iot", "DescribeThing", op(s.describeThing))
	s.handle("iot", "UpdateThing", op(s.updateThing))
	s.handle("iot", "DeleteThing", op(s.deleteThing))
	s.handle("iot", "ListThings", op(s.listThings))
	s.handle("iot", "ListThingsInThingGroup", op(s.listThingsInThingGroup))
	s.handle("iot", "ListThingsInBillingGroup", op(s.listThingsInBillingGroup))
}

// iotARN is the ARN of an IoT resource in the caller's scope.
func iotARN(r *Request, typ, name string) string {
	return arn.IoT(r.Scope.Region, r.Scope.Account, typ, name)
}

// page turns a List call's nextToken and maxResults into a registry page. maxResults is the model's
// RegistryMaxResults (1–250); AWS rejects values outside it with a validation error.
func page(token string, maxResults *int32) (registry.Page, error) {
	p := registry.Page{Token: token}
	if maxResults != nil {
		if n := *maxResults; n < 1 || n > 250 {
			bound := "greater than or equal to 1"
			if n > 250 {
				bound = "less than or equal to 250"
			}
			return p, awserr.InvalidReq("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value %s", n, bound)
		}
		p.Max = int(*maxResults)
	}
	return p, nil
}

// attrs returns m, or an empty map: AWS always sends "attributes", {} when there are none, and the
// generated shapes would drop an empty map.
func attrs(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// describeThingResponse sends attributes even when empty, as AWS does.
type describeThingResponse struct {
	iotmodel.DescribeThingResponse
	Attributes map[string]string `json:"attributes"`
}

// thingAttribute is a ListThings entry, attributes always present.
type thingAttribute struct {
	iotmodel.ThingAttribute
	Attributes map[string]string `json:"attributes"`
}

// listThingsResponse sends "things": [] when there are none, as AWS does (boto3 code indexes it).
type listThingsResponse struct {
	iotmodel.ListThingsResponse
	Things []thingAttribute `json:"things"`
}

// nameList is the shape of ListThingsInThingGroupResponse and ListThingsInBillingGroupResponse, with
// "things": [] sent when there are none.
type nameList struct {
	NextToken string   `json:"nextToken,omitempty"`
	Things    []string `json:"things"`
}

// AWS: API_CreateThing
func (s *Server) createThing(r *Request, in *iotmodel.CreateThingRequest) (*iotmodel.CreateThingResponse, error) {
	ci := registry.CreateThingInput{Name: in.ThingName, TypeName: in.ThingTypeName, BillingGroup: in.BillingGroupName}
	if in.AttributePayload != nil {
		ci.Attributes = in.AttributePayload.Attributes
	}
	th, err := s.cfg.Registry.CreateThing(r.Scope, ci)
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateThingResponse{ThingName: th.Name, ThingId: th.ID, ThingArn: iotARN(r, "thing", th.Name)}, nil
}

// describeThing: defaultClientId is the thing name, as AWS answers. AWS: API_DescribeThing
func (s *Server) describeThing(r *Request, in *iotmodel.DescribeThingRequest) (*describeThingResponse, error) {
	th, err := s.cfg.Registry.DescribeThing(r.Scope, in.ThingName)
	if err != nil {
		return nil, err
	}
	return &describeThingResponse{
		DescribeThingResponse: iotmodel.DescribeThingResponse{
			DefaultClientId:  th.Name,
			ThingName:        th.Name,
			ThingId:          th.ID,
			ThingArn:         iotARN(r, "thing", th.Name),
			ThingTypeName:    th.TypeName,
			BillingGroupName: th.BillingGroup,
			Version:          ptr(th.Version),
		},
		Attributes: attrs(th.Attributes),
	}, nil
}

// AWS: API_UpdateThing
func (s *Server) updateThing(r *Request, in *iotmodel.UpdateThingRequest) (*iotmodel.UpdateThingResponse, error) {
	ui := registry.UpdateThingInput{
		Name:            in.ThingName,
		TypeName:        in.ThingTypeName,
		RemoveType:      deref(in.RemoveThingType),
		ExpectedVersion: in.ExpectedVersion,
	}
	if p := in.AttributePayload; p != nil {
		ui.SetAttributes, ui.Attributes, ui.Merge = true, p.Attributes, deref(p.Merge)
	}
	if _, err := s.cfg.Registry.UpdateThing(r.Scope, ui); err != nil {
		return nil, err
	}
	return &iotmodel.UpdateThingResponse{}, nil
}

// AWS: API_DeleteThing
func (s *Server) deleteThing(r *Request, in *iotmodel.DeleteThingRequest) (*iotmodel.DeleteThingResponse, error) {
	if err := s.cfg.Registry.DeleteThing(r.Scope, in.ThingName, in.ExpectedVersion); err != nil {
		return nil, err
	}
	return &iotmodel.DeleteThingResponse{}, nil
}

// AWS: API_ListThings
func (s *Server) listThings(r *Request, in *iotmodel.ListThingsRequest) (*listThingsResponse, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	things, next, err := s.cfg.Registry.ListThings(r.Scope, registry.ListThingsInput{
		AttributeName:  in.AttributeName,
		AttributeValue: in.AttributeValue,
		UsePrefix:      deref(in.UsePrefixAttributeValue),
		TypeName:       in.ThingTypeName,
		Page:           p,
	})
	if err != nil {
		return nil, err
	}
	out := &listThingsResponse{Things: []thingAttribute{}}
	out.NextToken = next
	for _, th := range things {
		out.Things = append(out.Things, thingAttribute{
			ThingAttribute: iotmodel.ThingAttribute{
				ThingName:     th.Name,
				ThingTypeName: th.TypeName,
				ThingArn:      iotARN(r, "thing", th.Name),
				Version:       ptr(th.Version),
			},
			Attributes: attrs(th.Attributes),
		})
	}
	return out, nil
}

// AWS: API_ListThingsInThingGroup
func (s *Server) listThingsInThingGroup(r *Request, in *iotmodel.ListThingsInThingGroupRequest) (*nameList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Registry.ListThingsInThingGroup(r.Scope, in.ThingGroupName, deref(in.Recursive), p)
	if err != nil {
		return nil, err
	}
	return names2list(names, next), nil
}

// AWS: API_ListThingsInBillingGroup
func (s *Server) listThingsInBillingGroup(r *Request, in *iotmodel.ListThingsInBillingGroupRequest) (*nameList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Registry.ListThingsInBillingGroup(r.Scope, in.BillingGroupName, p)
	if err != nil {
		return nil, err
	}
	return names2list(names, next), nil
}

func names2list(names []string, next string) *nameList {
	if names == nil {
		names = []string{}
	}
	return &nameList{NextToken: next, Things: names}
}
