package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerAttachments() {
	s.handle("iot", "AttachPolicy", op(s.attachPolicy))
	s.handle("iot", "DetachPolicy", op(s.detachPolicy))
	s.handle("iot", "ListAttachedPolicies", op(s.listAttachedPolicies))
	s.handle("iot", "ListTargetsForPolicy", op(s.listTargetsForPolicy))
	s.handle("iot", "GetEffectivePolicies", op(s.getEffectivePolicies))
	s.handle("iot", "AttachThingPrincipal", op(s.attachThingPrincipal))
	s.handle("iot", "DetachThingPrincipal", op(s.detachThingPrincipal))
	s.handle("iot", "ListThingPrincipals", op(s.listThingPrincipals))
	s.handle("iot", "ListThingPrincipalsV2", op(s.listThingPrincipalsV2))
	s.handle("iot", "ListPrincipalThings", op(s.listPrincipalThings))
	s.handle("iot", "ListPrincipalThingsV2", op(s.listPrincipalThingsV2))
	s.handle("iot", "TestAuthorization", op(s.testAuthorization))
	s.handle("iot", "AttachPrincipalPolicy", op(s.attachPrincipalPolicy))
	s.handle("iot", "DetachPrincipalPolicy", op(s.detachPrincipalPolicy))
	s.handle("iot", "ListPrincipalPolicies", op(s.listPrincipalPolicies))
	s.handle("iot", "ListPolicyPrincipals", op(s.listPolicyPrincipals))
}

// AWS: API_AttachPolicy
func (s *Server) attachPolicy(r *Request, in *iotmodel.AttachPolicyRequest) (*noOutput, error) {
	if in.Target == "" {
		return nil, required("target")
	}
	return nil, s.cfg.Registry.AttachPolicy(r.Scope, in.PolicyName, in.Target)
}

// AWS: API_DetachPolicy
func (s *Server) detachPolicy(r *Request, in *iotmodel.DetachPolicyRequest) (*noOutput, error) {
	if in.Target == "" {
		return nil, required("target")
	}
	return nil, s.cfg.Registry.DetachPolicy(r.Scope, in.PolicyName, in.Target)
}

// AWS: API_AttachPrincipalPolicy (deprecated: AttachPolicy)
func (s *Server) attachPrincipalPolicy(r *Request, in *iotmodel.AttachPrincipalPolicyRequest) (*noOutput, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	return nil, s.cfg.Registry.AttachPolicy(r.Scope, in.PolicyName, in.Principal)
}

// AWS: API_DetachPrincipalPolicy (deprecated: DetachPolicy)
func (s *Server) detachPrincipalPolicy(r *Request, in *iotmodel.DetachPrincipalPolicyRequest) (*noOutput, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	return nil, s.cfg.Registry.DetachPolicy(r.Scope, in.PolicyName, in.Principal)
}

// AWS: API_ListAttachedPolicies
func (s *Server) listAttachedPolicies(r *Request, in *iotmodel.ListAttachedPoliciesRequest) (*policyList, error) {
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Registry.ListAttachedPolicies(r.Scope, in.Target, deref(in.Recursive), p)
	if err != nil {
		return nil, err
	}
	return policyRefs(r, names, next), nil
}

// AWS: API_ListPrincipalPolicies (deprecated: ListAttachedPolicies)
func (s *Server) listPrincipalPolicies(r *Request, in *iotmodel.ListPrincipalPoliciesRequest) (*policyList, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Registry.ListPrincipalPolicies(r.Scope, in.Principal, deref(in.AscendingOrder), p)
	if err != nil {
		return nil, err
	}
	return policyRefs(r, names, next), nil
}

// targetList sends "targets": [] when there are none.
type targetList struct {
	NextMarker string   `json:"nextMarker,omitempty"`
	Targets    []string `json:"targets"`
}

// AWS: API_ListTargetsForPolicy
func (s *Server) listTargetsForPolicy(r *Request, in *iotmodel.ListTargetsForPolicyRequest) (*targetList, error) {
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.cfg.Registry.ListTargetsForPolicy(r.Scope, in.PolicyName, p)
	if err != nil {
		return nil, err
	}
	return &targetList{NextMarker: next, Targets: nonNil(ts)}, nil
}

// principalList sends "principals": [] when there are none.
type principalList struct {
	NextMarker string   `json:"nextMarker,omitempty"`
	Principals []string `json:"principals"`
}

// AWS: API_ListPolicyPrincipals (deprecated: ListTargetsForPolicy)
func (s *Server) listPolicyPrincipals(r *Request, in *iotmodel.ListPolicyPrincipalsRequest) (*principalList, error) {
	if in.PolicyName == "" {
		return nil, required("policyName")
	}
	p, err := markerPage(in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	ps, next, err := s.cfg.Registry.ListPolicyPrincipals(r.Scope, in.PolicyName, deref(in.AscendingOrder), p)
	if err != nil {
		return nil, err
	}
	return &principalList{NextMarker: next, Principals: nonNil(ps)}, nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// effectivePolicyList sends "effectivePolicies": [] when there are none.
type effectivePolicyList struct {
	EffectivePolicies []iotmodel.EffectivePolicy `json:"effectivePolicies"`
}

// AWS: API_GetEffectivePolicies
func (s *Server) getEffectivePolicies(r *Request, in *iotmodel.GetEffectivePoliciesRequest) (*effectivePolicyList, error) {
	eps, err := s.cfg.Registry.GetEffectivePolicies(r.Scope, in.Principal, in.ThingName)
	if err != nil {
		return nil, err
	}
	out := &effectivePolicyList{EffectivePolicies: []iotmodel.EffectivePolicy{}}
	for _, ep := range eps {
		out.EffectivePolicies = append(out.EffectivePolicies, iotmodel.EffectivePolicy{
			PolicyName: ep.Name, PolicyArn: registry.PolicyARN(r.Scope, ep.Name), PolicyDocument: ep.Document,
		})
	}
	return out, nil
}

// AWS: API_AttachThingPrincipal
func (s *Server) attachThingPrincipal(r *Request, in *iotmodel.AttachThingPrincipalRequest) (*iotmodel.AttachThingPrincipalResponse, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	return nil, s.cfg.Registry.AttachThingPrincipal(r.Scope, in.ThingName, in.Principal, in.ThingPrincipalType)
}

// AWS: API_DetachThingPrincipal
func (s *Server) detachThingPrincipal(r *Request, in *iotmodel.DetachThingPrincipalRequest) (*iotmodel.DetachThingPrincipalResponse, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	return nil, s.cfg.Registry.DetachThingPrincipal(r.Scope, in.ThingName, in.Principal)
}

// thingPrincipalList sends "principals": [] when there are none.
type thingPrincipalList struct {
	NextToken  string   `json:"nextToken,omitempty"`
	Principals []string `json:"principals"`
}

// AWS: API_ListThingPrincipals
func (s *Server) listThingPrincipals(r *Request, in *iotmodel.ListThingPrincipalsRequest) (*thingPrincipalList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	pts, next, err := s.cfg.Registry.ListThingPrincipals(r.Scope, in.ThingName, "", p)
	if err != nil {
		return nil, err
	}
	out := &thingPrincipalList{NextToken: next, Principals: []string{}}
	for _, pt := range pts {
		out.Principals = append(out.Principals, pt.Principal)
	}
	return out, nil
}

// thingPrincipalObjects sends "thingPrincipalObjects": [] when there are none.
type thingPrincipalObjects struct {
	NextToken             string                          `json:"nextToken,omitempty"`
	ThingPrincipalObjects []iotmodel.ThingPrincipalObject `json:"thingPrincipalObjects"`
}

// AWS: API_ListThingPrincipalsV2
func (s *Server) listThingPrincipalsV2(r *Request, in *iotmodel.ListThingPrincipalsV2Request) (*thingPrincipalObjects, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	pts, next, err := s.cfg.Registry.ListThingPrincipals(r.Scope, in.ThingName, in.ThingPrincipalType, p)
	if err != nil {
		return nil, err
	}
	out := &thingPrincipalObjects{NextToken: next, ThingPrincipalObjects: []iotmodel.ThingPrincipalObject{}}
	for _, pt := range pts {
		out.ThingPrincipalObjects = append(out.ThingPrincipalObjects, iotmodel.ThingPrincipalObject{Principal: pt.Principal, ThingPrincipalType: pt.Type})
	}
	return out, nil
}

// AWS: API_ListPrincipalThings
func (s *Server) listPrincipalThings(r *Request, in *iotmodel.ListPrincipalThingsRequest) (*nameList, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	pts, next, err := s.cfg.Registry.ListPrincipalThings(r.Scope, in.Principal, "", p)
	if err != nil {
		return nil, err
	}
	out := &nameList{NextToken: next, Things: []string{}}
	for _, pt := range pts {
		out.Things = append(out.Things, pt.Thing)
	}
	return out, nil
}

// principalThingObjects sends "principalThingObjects": [] when there are none.
type principalThingObjects struct {
	NextToken             string                          `json:"nextToken,omitempty"`
	PrincipalThingObjects []iotmodel.PrincipalThingObject `json:"principalThingObjects"`
}

// AWS: API_ListPrincipalThingsV2
func (s *Server) listPrincipalThingsV2(r *Request, in *iotmodel.ListPrincipalThingsV2Request) (*principalThingObjects, error) {
	if in.Principal == "" {
		return nil, required("principal")
	}
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	pts, next, err := s.cfg.Registry.ListPrincipalThings(r.Scope, in.Principal, in.ThingPrincipalType, p)
	if err != nil {
		return nil, err
	}
	out := &principalThingObjects{NextToken: next, PrincipalThingObjects: []iotmodel.PrincipalThingObject{}}
	for _, pt := range pts {
		out.PrincipalThingObjects = append(out.PrincipalThingObjects, iotmodel.PrincipalThingObject{ThingName: pt.Thing, ThingPrincipalType: pt.Type})
	}
	return out, nil
}

// The TestAuthorization result, with every list present (empty when nothing is in it) so that callers
// can index allowed.policies and denied.explicitDeny.policies whatever the decision.
type (
	authResults struct {
		AuthResults []authResult `json:"authResults"`
	}
	authResult struct {
		AuthInfo             iotmodel.AuthInfo `json:"authInfo"`
		Allowed              policyRefList     `json:"allowed"`
		Denied               denied            `json:"denied"`
		AuthDecision         string            `json:"authDecision"`
		MissingContextValues []string          `json:"missingContextValues"`
	}
	denied struct {
		ImplicitDeny policyRefList `json:"implicitDeny"`
		ExplicitDeny policyRefList `json:"explicitDeny"`
	}
	policyRefList struct {
		Policies []iotmodel.Policy `json:"policies"`
	}
)

func refList(r *Request, names []string) policyRefList {
	return policyRefList{Policies: policyRefs(r, names, "").Policies}
}

// AWS: API_TestAuthorization
func (s *Server) testAuthorization(r *Request, in *iotmodel.TestAuthorizationRequest) (*authResults, error) {
	ti := registry.TestAuthInput{Principal: in.Principal, ClientID: in.ClientId, Add: in.PolicyNamesToAdd, Skip: in.PolicyNamesToSkip}
	for _, ai := range in.AuthInfos {
		ti.Checks = append(ti.Checks, registry.AuthCheck{ActionType: ai.ActionType, Resources: ai.Resources})
	}
	outs, err := s.cfg.Registry.TestAuthorization(r.Scope, ti)
	if err != nil {
		return nil, err
	}
	res := &authResults{AuthResults: []authResult{}}
	for _, o := range outs {
		res.AuthResults = append(res.AuthResults, authResult{
			AuthInfo:             iotmodel.AuthInfo{ActionType: o.Check.ActionType, Resources: o.Check.Resources},
			Allowed:              refList(r, o.Allowed),
			Denied:               denied{ImplicitDeny: refList(r, o.ImplicitDeny), ExplicitDeny: refList(r, o.ExplicitDeny)},
			AuthDecision:         o.Decision.String(),
			MissingContextValues: []string{},
		})
	}
	return res, nil
}
