package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerThingTypes() {
	s.handle("iot", "CreateThingType", op(s.createThingType))
	s.handle("iot", "DescribeThingType", op(s.describeThingType))
	s.handle("iot", "ListThingTypes", op(s.listThingTypes))
	s.handle("iot", "DeprecateThingType", op(s.deprecateThingType))
	s.handle("iot", "UpdateThingType", op(s.updateThingType))
	s.handle("iot", "DeleteThingType", op(s.deleteThingType))
}

// tagsIn converts the wire's tag list.
func tagsIn(tags []iotmodel.Tag) []registry.Tag {
	var out []registry.Tag
	for _, t := range tags {
		out = append(out, registry.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

// thingTypePropsIn unpacks ThingTypeProperties (which may be absent).
func thingTypePropsIn(p *iotmodel.ThingTypeProperties) (desc string, searchable []string, pas []registry.PropagatingAttribute) {
	if p == nil {
		return "", nil, nil
	}
	if p.Mqtt5Configuration != nil {
		pas = []registry.PropagatingAttribute{}
		for _, pa := range p.Mqtt5Configuration.PropagatingAttributes {
			pas = append(pas, registry.PropagatingAttribute{
				UserPropertyKey:     pa.UserPropertyKey,
				ThingAttribute:      pa.ThingAttribute,
				ConnectionAttribute: pa.ConnectionAttribute,
			})
		}
	}
	return p.ThingTypeDescription, p.SearchableAttributes, pas
}

func thingTypeProps(tt *registry.ThingType) *iotmodel.ThingTypeProperties {
	p := &iotmodel.ThingTypeProperties{ThingTypeDescription: tt.Description, SearchableAttributes: tt.SearchableAttributes}
	if len(tt.Propagating) > 0 {
		p.Mqtt5Configuration = &iotmodel.Mqtt5Configuration{}
		for _, pa := range tt.Propagating {
			p.Mqtt5Configuration.PropagatingAttributes = append(p.Mqtt5Configuration.PropagatingAttributes, iotmodel.PropagatingAttribute{
				UserPropertyKey:     pa.UserPropertyKey,
				ThingAttribute:      pa.ThingAttribute,
				ConnectionAttribute: pa.ConnectionAttribute,
			})
		}
	}
	return p
}

func thingTypeMetadata(tt *registry.ThingType) *iotmodel.ThingTypeMetadata {
	m := &iotmodel.ThingTypeMetadata{Deprecated: ptr(tt.Deprecated), CreationDate: wire.NewTimestamp(tt.Created)}
	if tt.DeprecationDate != nil {
		m.DeprecationDate = wire.NewTimestamp(*tt.DeprecationDate)
	}
	return m
}

// AWS: API_CreateThingType
func (s *Server) createThingType(r *Request, in *iotmodel.CreateThingTypeRequest) (*iotmodel.CreateThingTypeResponse, error) {
	desc, searchable, pas := thingTypePropsIn(in.ThingTypeProperties)
	tt, err := s.cfg.Registry.CreateThingType(r.Scope, registry.ThingTypeInput{
		Name:                 in.ThingTypeName,
		Description:          desc,
		SearchableAttributes: searchable,
		Propagating:          pas,
		Tags:                 tagsIn(in.Tags),
	})
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreateThingTypeResponse{ThingTypeName: tt.Name, ThingTypeId: tt.ID, ThingTypeArn: iotARN(r, "thingtype", tt.Name)}, nil
}

// AWS: API_DescribeThingType
func (s *Server) describeThingType(r *Request, in *iotmodel.DescribeThingTypeRequest) (*iotmodel.DescribeThingTypeResponse, error) {
	tt, err := s.cfg.Registry.DescribeThingType(r.Scope, in.ThingTypeName)
	if err != nil {
		return nil, err
	}
	return &iotmodel.DescribeThingTypeResponse{
		ThingTypeName:       tt.Name,
		ThingTypeId:         tt.ID,
		ThingTypeArn:        iotARN(r, "thingtype", tt.Name),
		ThingTypeProperties: thingTypeProps(tt),
		ThingTypeMetadata:   thingTypeMetadata(tt),
	}, nil
}

// listThingTypesResponse sends "thingTypes": [] when there are none.
type listThingTypesResponse struct {
	iotmodel.ListThingTypesResponse
	ThingTypes []iotmodel.ThingTypeDefinition `json:"thingTypes"`
}

// AWS: API_ListThingTypes
func (s *Server) listThingTypes(r *Request, in *iotmodel.ListThingTypesRequest) (*listThingTypesResponse, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	tts, next, err := s.cfg.Registry.ListThingTypes(r.Scope, in.ThingTypeName, p)
	if err != nil {
		return nil, err
	}
	out := &listThingTypesResponse{ThingTypes: []iotmodel.ThingTypeDefinition{}}
	out.NextToken = next
	for _, tt := range tts {
		out.ThingTypes = append(out.ThingTypes, iotmodel.ThingTypeDefinition{
			ThingTypeName:       tt.Name,
			ThingTypeArn:        iotARN(r, "thingtype", tt.Name),
			ThingTypeProperties: thingTypeProps(tt),
			ThingTypeMetadata:   thingTypeMetadata(tt),
		})
	}
	return out, nil
}

// AWS: API_DeprecateThingType
func (s *Server) deprecateThingType(r *Request, in *iotmodel.DeprecateThingTypeRequest) (*iotmodel.DeprecateThingTypeResponse, error) {
	if err := s.cfg.Registry.DeprecateThingType(r.Scope, in.ThingTypeName, deref(in.UndoDeprecate)); err != nil {
		return nil, err
	}
	return &iotmodel.DeprecateThingTypeResponse{}, nil
}

// AWS: API_UpdateThingType
func (s *Server) updateThingType(r *Request, in *iotmodel.UpdateThingTypeRequest) (*iotmodel.UpdateThingTypeResponse, error) {
	desc, searchable, pas := thingTypePropsIn(in.ThingTypeProperties)
	err := s.cfg.Registry.UpdateThingType(r.Scope, registry.UpdateThingTypeInput{
		Name:                 in.ThingTypeName,
		Description:          desc,
		SearchableAttributes: searchable,
		Propagating:          pas,
	})
	if err != nil {
		return nil, err
	}
	return &iotmodel.UpdateThingTypeResponse{}, nil
}

// AWS: API_DeleteThingType
func (s *Server) deleteThingType(r *Request, in *iotmodel.DeleteThingTypeRequest) (*iotmodel.DeleteThingTypeResponse, error) {
	if err := s.cfg.Registry.DeleteThingType(r.Scope, in.ThingTypeName); err != nil {
		return nil, err
	}
	return &iotmodel.DeleteThingTypeResponse{}, nil
}
