package awsapi

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"

	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

// The topic rule operations. A rule that does not exist is answered with UnauthorizedException (401)
// by every operation that names one, as AWS does (research §9.1, checklist 78); the registry decides.
// Every change reaches the rules engine through a registry Event of kind "rule".
func (s *Server) registerRules() {
	s.handle("iot", "CreateTopicRule", op(s.createTopicRule))
	s.handle("iot", "GetTopicRule", op(s.getTopicRule))
	s.handle("iot", "ListTopicRules", op(s.listTopicRules))
	s.handle("iot", "ReplaceTopicRule", op(s.replaceTopicRule))
	s.handle("iot", "DeleteTopicRule", op(s.deleteTopicRule))
	s.handle("iot", "EnableTopicRule", op(s.enableTopicRule))
	s.handle("iot", "DisableTopicRule", op(s.disableTopicRule))
}

// ruleInput translates a topicRulePayload. Each Action is a union: exactly one member must be set.
func ruleInput(name string, p *iotmodel.TopicRulePayload) (registry.TopicRuleInput, error) {
	if p == nil {
		return registry.TopicRuleInput{}, required("topicRulePayload")
	}
	in := registry.TopicRuleInput{
		Name:        name,
		SQL:         p.Sql,
		Description: p.Description,
		SQLVersion:  p.AwsIotSqlVersion,
		Disabled:    deref(p.RuleDisabled),
	}
	if p.Actions == nil {
		// Required by the model (an empty list is fine).
		return in, required("topicRulePayload.actions")
	}
	for i, a := range p.Actions {
		ra, err := actionIn("topicRulePayload.actions."+strconv.Itoa(i+1)+".member", a)
		if err != nil {
			return in, err
		}
		in.Actions = append(in.Actions, ra)
	}
	if p.ErrorAction != nil {
		ra, err := actionIn("topicRulePayload.errorAction", *p.ErrorAction)
		if err != nil {
			return in, err
		}
		in.ErrorAction = &ra
	}
	return in, nil
}

// actionIn turns one Action union into the registry's type and parameters.
func actionIn(path string, a iotmodel.Action) (registry.RuleAction, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return registry.RuleAction{}, awserr.InvalidReq("%s: %v", path, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return registry.RuleAction{}, awserr.InvalidReq("%s: %v", path, err)
	}
	if len(members) != 1 {
		names := make([]string, 0, len(members))
		for k := range members {
			names = append(names, k)
		}
		sort.Strings(names)
		return registry.RuleAction{}, awserr.InvalidReq("%s must set exactly one action type, got %d %v", path, len(members), names)
	}
	for typ, params := range members {
		return registry.RuleAction{Type: typ, Params: params}, nil
	}
	panic("unreachable")
}

// actionOut turns a stored action back into the Action union.
func actionOut(a registry.RuleAction) iotmodel.Action {
	var out iotmodel.Action
	b, _ := json.Marshal(map[string]json.RawMessage{a.Type: a.Params})
	_ = json.Unmarshal(b, &out) // stored by actionIn from the same shape
	return out
}

// tagsHeader parses CreateTopicRule's x-amz-tagging header: "k1=v1&k2=v2", URL-encoded.
// AWS: API_CreateTopicRule ("For the CLI command-line parameter use format: --tags \"key1=value1&key2=value2...\"")
func tagsHeader(h string) ([]registry.Tag, error) {
	if h == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(h)
	if err != nil {
		return nil, awserr.InvalidReq("The tags are not in the form key1=value1&key2=value2: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]registry.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, registry.Tag{Key: k, Value: q[k][len(q[k])-1]})
	}
	return tags, nil
}

// AWS: API_CreateTopicRule — SQL is checked as the rules engine parses it: SqlParseException (400)
// with the parser's message. Actions are stored as given; the rules engine runs republish, lambda and
// http locally and logs the others as not executed.
func (s *Server) createTopicRule(r *Request, in *iotmodel.CreateTopicRuleRequest) (*noOutput, error) {
	ri, err := ruleInput(in.RuleName, in.TopicRulePayload)
	if err != nil {
		return nil, err
	}
	if ri.Tags, err = tagsHeader(in.Tags); err != nil {
		return nil, err
	}
	return nil, s.cfg.Registry.CreateTopicRule(r.Scope, ri)
}

// AWS: API_ReplaceTopicRule
func (s *Server) replaceTopicRule(r *Request, in *iotmodel.ReplaceTopicRuleRequest) (*noOutput, error) {
	ri, err := ruleInput(in.RuleName, in.TopicRulePayload)
	if err != nil {
		return nil, err
	}
	return nil, s.cfg.Registry.ReplaceTopicRule(r.Scope, ri)
}

// topicRuleOut is API_TopicRule with "actions" always present, as AWS sends it.
type topicRuleOut struct {
	iotmodel.TopicRule
	Actions []iotmodel.Action `json:"actions"`
}

type getTopicRuleResponse struct {
	Rule    *topicRuleOut `json:"rule,omitempty"`
	RuleArn string        `json:"ruleArn,omitempty"`
}

// AWS: API_GetTopicRule
func (s *Server) getTopicRule(r *Request, in *iotmodel.GetTopicRuleRequest) (*getTopicRuleResponse, error) {
	rule, err := s.cfg.Registry.GetTopicRule(r.Scope, in.RuleName)
	if err != nil {
		return nil, err
	}
	out := &topicRuleOut{
		TopicRule: iotmodel.TopicRule{
			RuleName:         rule.Name,
			Sql:              rule.SQL,
			Description:      rule.Description,
			CreatedAt:        wire.NewTimestamp(rule.Created),
			RuleDisabled:     ptr(rule.Disabled),
			AwsIotSqlVersion: rule.SQLVersion,
		},
		Actions: []iotmodel.Action{},
	}
	for _, a := range rule.Actions {
		out.Actions = append(out.Actions, actionOut(a))
	}
	if rule.ErrorAction != nil {
		ea := actionOut(*rule.ErrorAction)
		out.ErrorAction = &ea
	}
	return &getTopicRuleResponse{Rule: out, RuleArn: registry.RuleARN(r.Scope, rule.Name)}, nil
}

// listTopicRulesResponse sends "rules": [] when there are none.
type listTopicRulesResponse struct {
	NextToken string                       `json:"nextToken,omitempty"`
	Rules     []iotmodel.TopicRuleListItem `json:"rules"`
}

// AWS: API_ListTopicRules — maxResults 1–10000 (TopicRuleMaxResults).
func (s *Server) listTopicRules(r *Request, in *iotmodel.ListTopicRulesRequest) (*listTopicRulesResponse, error) {
	p := registry.Page{Token: in.NextToken}
	if in.MaxResults != nil {
		n := *in.MaxResults
		switch {
		case n < 1:
			return nil, awserr.InvalidReq("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		case n > 10000:
			return nil, awserr.InvalidReq("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10000", n)
		}
		p.Max = int(n)
	}
	rules, next, err := s.cfg.Registry.ListTopicRules(r.Scope, registry.ListTopicRulesInput{Topic: in.Topic, Disabled: in.RuleDisabled, Page: p})
	if err != nil {
		return nil, err
	}
	out := &listTopicRulesResponse{NextToken: next, Rules: []iotmodel.TopicRuleListItem{}}
	for _, rule := range rules {
		out.Rules = append(out.Rules, iotmodel.TopicRuleListItem{
			RuleName:     rule.Name,
			RuleArn:      registry.RuleARN(r.Scope, rule.Name),
			TopicPattern: rule.Topic,
			CreatedAt:    wire.NewTimestamp(rule.Created),
			RuleDisabled: ptr(rule.Disabled),
		})
	}
	return out, nil
}

// AWS: API_DeleteTopicRule
func (s *Server) deleteTopicRule(r *Request, in *iotmodel.DeleteTopicRuleRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.DeleteTopicRule(r.Scope, in.RuleName)
}

// AWS: API_EnableTopicRule
func (s *Server) enableTopicRule(r *Request, in *iotmodel.EnableTopicRuleRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.SetTopicRuleEnabled(r.Scope, in.RuleName, true)
}

// AWS: API_DisableTopicRule
func (s *Server) disableTopicRule(r *Request, in *iotmodel.DisableTopicRuleRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.SetTopicRuleEnabled(r.Scope, in.RuleName, false)
}
