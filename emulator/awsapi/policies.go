package awsapi

import (
	"slices"

	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerPolicies() {
	s.handle("iot", "CreatePolicy", op(s.createPolicy))
	s.handle("iot", "GetPolicy", op(s.getPolicy))
	s.handle("iot", "ListPolicies", op(s.listPolicies))
	s.handle("iot", "DeletePolicy", op(s.deletePolicy))
	s.handle("iot", "CreatePolicyVersion", op(s.createPolicyVersion))
	s.handle("iot", "GetPolicyVersion", op(s.getPolicyVersion))
	s.handle("iot", "ListPolicyVersions", op(s.listPolicyVersions))
	s.handle("iot", "SetDefaultPolicyVersion", op(s.setDefaultPolicyVersion))
	s.handle("iot", "DeletePolicyVersion", op(s.deletePolicyVersion))
}

// AWS: API_CreatePolicy
func (s *Server) createPolicy(r *Request, in *iotmodel.CreatePolicyRequest) (*iotmodel.CreatePolicyResponse, error) {
	p, err := s.cfg.Registry.CreatePolicy(r.Scope, in.PolicyName, in.PolicyDocument, tagsIn(in.Tags))
	if err != nil {
		return nil, err
	}
	v := p.DefaultVersion()
	return &iotmodel.CreatePolicyResponse{
		PolicyArn:       registry.PolicyARN(r.Scope, p.Name),
		PolicyDocument:  v.Document,
		PolicyName:      p.Name,
		PolicyVersionId: v.ID,
	}, nil
}

// AWS: API_GetPolicy — the default version's document.
func (s *Server) getPolicy(r *Request, in *iotmodel.GetPolicyRequest) (*iotmodel.GetPolicyResponse, error) {
	p, err := s.cfg.Registry.GetPolicy(r.Scope, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &iotmodel.GetPolicyResponse{
		CreationDate:     wire.NewTimestamp(p.Created),
		DefaultVersionId: p.Default,
		GenerationId:     p.Generation,
		LastModifiedDate: wire.NewTimestamp(p.Modified),
		PolicyArn:        registry.PolicyARN(r.Scope, p.Name),
		PolicyDocument:   p.DefaultVersion().Document,
		PolicyName:       p.Name,
	}, nil
}

// policyList is the shape of ListPolicies, ListAttachedPolicies and ListPrincipalPolicies, with
// "policies": [] sent when there are none, as AWS does.
type policyList struct {
	NextMarker string            `json:"nextMarker,omitempty"`
	Policies   []iotmodel.Policy `json:"policies"`
}

func policyRefs(r *Request, names []string, next string) *policyList {
	out := &policyList{NextMarker: next, Policies: []iotmodel.Policy{}}
	for _, n := range names {
		out.Policies = append(out.Policies, iotmodel.Policy{PolicyName: n, PolicyArn: registry.PolicyARN(r.Scope, n)})
	}
	return out
}

// AWS: API_ListPolicies — by creation date, newest first unless isAscendingOrder.
func (s *Server) listPolicies(r *Request, in *iotmodel.ListPoliciesRequest) (*policyList, error) {
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	ps, next, err := s.cfg.Registry.ListPolicies(r.Scope, deref(in.AscendingOrder), p)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return policyRefs(r, names, next), nil
}

// AWS: API_DeletePolicy
func (s *Server) deletePolicy(r *Request, in *iotmodel.DeletePolicyRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.DeletePolicy(r.Scope, in.PolicyName)
}

// AWS: API_CreatePolicyVersion
func (s *Server) createPolicyVersion(r *Request, in *iotmodel.CreatePolicyVersionRequest) (*iotmodel.CreatePolicyVersionResponse, error) {
	p, v, err := s.cfg.Registry.CreatePolicyVersion(r.Scope, in.PolicyName, in.PolicyDocument, deref(in.SetAsDefault))
	if err != nil {
		return nil, err
	}
	return &iotmodel.CreatePolicyVersionResponse{
		IsDefaultVersion: ptr(p.Default == v.ID),
		PolicyArn:        registry.PolicyARN(r.Scope, p.Name),
		PolicyDocument:   v.Document,
		PolicyVersionId:  v.ID,
	}, nil
}

// AWS: API_GetPolicyVersion
func (s *Server) getPolicyVersion(r *Request, in *iotmodel.GetPolicyVersionRequest) (*iotmodel.GetPolicyVersionResponse, error) {
	p, v, err := s.cfg.Registry.GetPolicyVersion(r.Scope, in.PolicyName, in.PolicyVersionId)
	if err != nil {
		return nil, err
	}
	return &iotmodel.GetPolicyVersionResponse{
		CreationDate:     wire.NewTimestamp(v.Created),
		GenerationId:     p.Generation,
		IsDefaultVersion: ptr(p.Default == v.ID),
		LastModifiedDate: wire.NewTimestamp(p.Modified),
		PolicyArn:        registry.PolicyARN(r.Scope, p.Name),
		PolicyDocument:   v.Document,
		PolicyName:       p.Name,
		PolicyVersionId:  v.ID,
	}, nil
}

// policyVersionList sends "policyVersions" even when (impossibly) empty.
type policyVersionList struct {
	PolicyVersions []iotmodel.PolicyVersion `json:"policyVersions"`
}

// AWS: API_ListPolicyVersions — newest version first, as IAM lists them.
func (s *Server) listPolicyVersions(r *Request, in *iotmodel.ListPolicyVersionsRequest) (*policyVersionList, error) {
	p, err := s.cfg.Registry.GetPolicy(r.Scope, in.PolicyName)
	if err != nil {
		return nil, err
	}
	out := &policyVersionList{PolicyVersions: []iotmodel.PolicyVersion{}}
	for _, v := range slices.Backward(p.Versions) {
		out.PolicyVersions = append(out.PolicyVersions, iotmodel.PolicyVersion{
			CreateDate:       wire.NewTimestamp(v.Created),
			IsDefaultVersion: ptr(p.Default == v.ID),
			VersionId:        v.ID,
		})
	}
	return out, nil
}

// AWS: API_SetDefaultPolicyVersion
func (s *Server) setDefaultPolicyVersion(r *Request, in *iotmodel.SetDefaultPolicyVersionRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.SetDefaultPolicyVersion(r.Scope, in.PolicyName, in.PolicyVersionId)
}

// AWS: API_DeletePolicyVersion
func (s *Server) deletePolicyVersion(r *Request, in *iotmodel.DeletePolicyVersionRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.DeletePolicyVersion(r.Scope, in.PolicyName, in.PolicyVersionId)
}
