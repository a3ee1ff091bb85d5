package registry

import (
	"slices"
	"strings"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Thing-principal attachment types. AWS: API_AttachThingPrincipal
const (
	ThingPrincipalExclusive    = "EXCLUSIVE_THING"     // the thing is the only thing attached to the principal
	ThingPrincipalNonExclusive = "NON_EXCLUSIVE_THING" // the default
)

// Attachment limits.
const (
	// AWS: iot-core quotas — "Maximum number of policies that can be attached to a certificate": 10
	// (legacy limits table, research §3.5). AttachPolicy over it → LimitExceededException (410).
	maxPoliciesPerCert = 10
	// AWS: thing-groups — "You can attach a maximum number of two policies to a group." (research §3.5)
	maxPoliciesPerGroup = 2
)

// Target kinds a policy attaches to.
const (
	targetCert       = "cert"
	targetThingGroup = "thinggroup"
)

// resolveTarget turns an AttachPolicy target (or a principal) into its canonical ARN and kind: a
// certificate ARN of this scope (id lower-cased) or a static thing group ARN. Both must exist.
// Cognito identities ("<region>:<uuid>") are not emulated.
func resolveTarget(sc Scope, s *state, target string) (canon, kind string, err error) {
	if target == "" {
		return "", "", invalid("null", "target", "Member must not be null")
	}
	a, perr := arn.Parse(target)
	if perr != nil {
		if strings.Count(target, ":") == 1 {
			return "", "", awserr.InvalidReq("iotlab does not emulate Amazon Cognito identities: %s", target)
		}
		return "", "", awserr.InvalidReq("Invalid principal or target: %s is not a certificate ARN or a thing group ARN", target)
	}
	if a.Service != "iot" || (a.Type != targetCert && a.Type != targetThingGroup) {
		return "", "", awserr.InvalidReq("Invalid principal or target: %s is not a certificate ARN or a thing group ARN", target)
	}
	if a.Account != sc.Account || a.Region != sc.Region {
		return "", "", awserr.NotFound("%s cannot be found in account %s, region %s", target, sc.Account, sc.Region)
	}
	switch a.Type {
	case targetCert:
		c, ok := certOfARN(sc, s, target)
		if !ok {
			return "", "", awserr.NotFound("The certificate %s does not exist", a.Name)
		}
		return CertificateARN(sc, c.ID), targetCert, nil
	default:
		if s.thingGroups[a.Name] == nil {
			return "", "", awserr.NotFound("No thing group with ARN %s exists", target)
		}
		return arn.IoT(sc.Region, sc.Account, targetThingGroup, a.Name), targetThingGroup, nil
	}
}

// policiesOf returns the names of the policies attached to a canonical target, sorted.
func policiesOf(s *state, target string) []string {
	var names []string
	for name, p := range s.policies {
		if slices.Contains(p.Targets, target) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// policiesOfTarget is policiesOf inside a transaction.
func (t *txn) policiesOfTarget(target string) []string { return policiesOf(t.s, target) }

// detachAllPolicies stages the detachment of every policy from target (a canonical ARN). Owners of
// other targets call it when the target goes away: DeleteCertificate with forceDelete, and
// DeleteThingGroup (a deleted group's policies must not reach a new group of the same name).
func (t *txn) detachAllPolicies(target string) {
	for _, name := range policiesOf(t.s, target) {
		p := copyPolicy(t.s.policies[name])
		p.Targets = slices.DeleteFunc(p.Targets, func(x string) bool { return x == target })
		t.putPolicyAttachments(&p)
	}
	t.emit(Event{Kind: "attachment", Name: target})
}

// putPolicyAttachments stages a policy whose targets changed. Attachments are not policy changes: the
// modification date and generation stay.
func (t *txn) putPolicyAttachments(p *Policy) {
	s, name := t.s, p.Name
	t.put("policy", name, p, func() { s.policies[name] = p })
}

// PrincipalThing is one thing-principal attachment seen from either side.
type PrincipalThing struct {
	Thing     string // thing name
	Principal string // principal ARN
	Type      string // EXCLUSIVE_THING or NON_EXCLUSIVE_THING
}

// thingsOf returns the things a principal is attached to, sorted by thing name.
func thingsOf(s *state, principal string) []PrincipalThing {
	var out []PrincipalThing
	for name, th := range s.things {
		for _, tp := range th.Principals {
			if tp.Principal == principal {
				out = append(out, PrincipalThing{Thing: name, Principal: principal, Type: principalType(tp.Type)})
			}
		}
	}
	slices.SortFunc(out, func(a, b PrincipalThing) int { return strings.Compare(a.Thing, b.Thing) })
	return out
}

func principalType(t string) string {
	if t == "" {
		return ThingPrincipalNonExclusive
	}
	return t
}

// thingsOfPrincipal is thingsOf inside a transaction.
func (t *txn) thingsOfPrincipal(principal string) []PrincipalThing { return thingsOf(t.s, principal) }

// AttachPolicy attaches a policy to a certificate or a static thing group; attaching twice is a no-op.
// Live connections re-evaluate (Event "attachment"). AWS: API_AttachPolicy
func (r *Registry) AttachPolicy(sc Scope, name, target string) error {
	if err := checkPolicyName("policyName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		old := t.s.policies[name]
		if old == nil {
			return policyNotFound()
		}
		canon, kind, err := resolveTarget(t.sc, t.s, target)
		if err != nil {
			return err
		}
		if slices.Contains(old.Targets, canon) {
			return nil
		}
		limit := maxPoliciesPerCert
		if kind == targetThingGroup {
			limit = maxPoliciesPerGroup
		}
		if n := len(policiesOf(t.s, canon)); n >= limit {
			return awserr.New(awserr.LimitExceeded, "%s already has %d policies attached, the maximum for a %s", target, n, describeTarget(kind))
		}
		p := copyPolicy(old)
		p.Targets = append(p.Targets, canon)
		slices.Sort(p.Targets)
		t.putPolicyAttachments(&p)
		t.emit(Event{Kind: "attachment", Name: canon})
		return nil
	})
}

// DetachPolicy detaches a policy; detaching what is not attached is a no-op. AWS: API_DetachPolicy
func (r *Registry) DetachPolicy(sc Scope, name, target string) error {
	if err := checkPolicyName("policyName", name); err != nil {
		return err
	}
	if target == "" {
		return invalid("null", "target", "Member must not be null")
	}
	return r.update(sc, func(t *txn) error {
		old := t.s.policies[name]
		if old == nil {
			return policyNotFound()
		}
		canon := target
		if !slices.Contains(old.Targets, canon) {
			c, _, err := resolveTarget(t.sc, t.s, target)
			if err != nil {
				return err
			}
			if canon = c; !slices.Contains(old.Targets, canon) {
				return nil
			}
		}
		p := copyPolicy(old)
		p.Targets = slices.DeleteFunc(p.Targets, func(x string) bool { return x == canon })
		t.putPolicyAttachments(&p)
		t.emit(Event{Kind: "attachment", Name: canon})
		return nil
	})
}

// groupChain returns a thing group and its ancestors, nearest first; missing groups end the chain.
func groupChain(s *state, name string) []string {
	var chain []string
	for name != "" && len(chain) <= maxGroupDepth {
		g := s.thingGroups[name]
		if g == nil || slices.Contains(chain, name) {
			break
		}
		chain = append(chain, name)
		name = g.Parent
	}
	return chain
}

// thingGroupPolicies returns the policies a thing inherits from its static groups and their ancestors:
// for each direct group (sorted), the group's then its ancestors' policies, each policy once.
// AWS: thing-groups ("policies attached to a group apply to member things and descendants")
func thingGroupPolicies(sc Scope, s *state, th *Thing) []string {
	var out []string
	groups := slices.Clone(th.Groups)
	slices.Sort(groups)
	for _, g := range groups {
		for _, gn := range groupChain(s, g) {
			for _, p := range policiesOf(s, arn.IoT(sc.Region, sc.Account, targetThingGroup, gn)) {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// ListAttachedPolicies returns a page of the names of the policies attached to a target; recursive adds,
// for a thing group, the policies of its ancestors. AWS: API_ListAttachedPolicies
func (r *Registry) ListAttachedPolicies(sc Scope, target string, recursive bool, p Page) ([]string, string, error) {
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		canon, kind, err := resolveTarget(sc, s, target)
		if err != nil {
			return err
		}
		names := policiesOf(s, canon)
		if recursive && kind == targetThingGroup {
			a, _ := arn.Parse(canon)
			for _, gn := range groupChain(s, a.Name) {
				names = append(names, policiesOf(s, arn.IoT(sc.Region, sc.Account, targetThingGroup, gn))...)
			}
			names = sortedSet(names)
		}
		out, next, err = paginate(names, markerPage(p))
		return err
	})
	return out, next, err
}

// ListTargetsForPolicy returns a page of the targets a policy is attached to, sorted.
// AWS: API_ListTargetsForPolicy
func (r *Registry) ListTargetsForPolicy(sc Scope, name string, p Page) ([]string, string, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return nil, "", err
	}
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		pol := s.policies[name]
		if pol == nil {
			return policyNotFound()
		}
		var err error
		out, next, err = paginate(slices.Sorted(slices.Values(pol.Targets)), markerPage(p))
		return err
	})
	return out, next, err
}

// nameOrderKey orders names ascending or descending as plain ascending strings (for paginate): a
// descending key complements each byte and ends with 0xff, so that "ab" sorts after "abc".
func nameOrderKey(name string, ascending bool) string {
	if ascending {
		return name
	}
	b := make([]byte, len(name)+1)
	for i := 0; i < len(name); i++ {
		b[i] = ^name[i]
	}
	b[len(name)] = 0xff
	return string(b)
}

// ListPrincipalPolicies is the legacy ListAttachedPolicies for a principal, with an order by name.
// AWS: API_ListPrincipalPolicies
func (r *Registry) ListPrincipalPolicies(sc Scope, principal string, ascending bool, p Page) ([]string, string, error) {
	return r.listOrdered(sc, p, ascending, func(s *state) ([]string, error) {
		canon, _, err := resolveTarget(sc, s, principal)
		if err != nil {
			return nil, err
		}
		return policiesOf(s, canon), nil
	})
}

// ListPolicyPrincipals is the legacy ListTargetsForPolicy, with an order. AWS: API_ListPolicyPrincipals
func (r *Registry) ListPolicyPrincipals(sc Scope, name string, ascending bool, p Page) ([]string, string, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return nil, "", err
	}
	return r.listOrdered(sc, p, ascending, func(s *state) ([]string, error) {
		pol := s.policies[name]
		if pol == nil {
			return nil, policyNotFound()
		}
		return pol.Targets, nil
	})
}

// listOrdered pages through the strings items returns, by name ascending or descending.
func (r *Registry) listOrdered(sc Scope, p Page, ascending bool, items func(*state) ([]string, error)) ([]string, string, error) {
	var (
		out  []string
		next string
	)
	err := r.view(sc, func(s *state) error {
		names, err := items(s)
		if err != nil {
			return err
		}
		byKey := make(map[string]string, len(names))
		for _, n := range names {
			byKey[nameOrderKey(n, ascending)] = n
		}
		keys, nt, err := pageOf(byKey, nil, markerPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		next = nt
		return nil
	})
	return out, next, err
}

// EffectivePolicy is a policy in force for a principal, with its default version's document.
type EffectivePolicy struct {
	Name, Document string
}

// GetEffectivePolicies returns the policies in force for a principal (a certificate or thing group ARN)
// and, when thingName is given, those the thing inherits from its thing groups and their ancestors.
// AWS: API_GetEffectivePolicies
func (r *Registry) GetEffectivePolicies(sc Scope, principal, thingName string) ([]EffectivePolicy, error) {
	if principal == "" && thingName == "" {
		return nil, awserr.InvalidReq("Either principal or thingName must be specified")
	}
	var out []EffectivePolicy
	err := r.view(sc, func(s *state) error {
		var names []string
		if principal != "" {
			canon, kind, err := resolveTarget(sc, s, principal)
			if err != nil {
				return err
			}
			names = policiesOf(s, canon)
			if kind == targetThingGroup {
				a, _ := arn.Parse(canon)
				for _, gn := range groupChain(s, a.Name)[1:] {
					names = append(names, policiesOf(s, arn.IoT(sc.Region, sc.Account, targetThingGroup, gn))...)
				}
			}
		}
		if thingName != "" {
			th := s.things[thingName]
			if th == nil {
				return thingNotFound(thingName)
			}
			names = append(names, thingGroupPolicies(sc, s, th)...)
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			if v := s.policies[n].DefaultVersion(); v != nil {
				out = append(out, EffectivePolicy{Name: n, Document: v.Document})
			}
		}
		return nil
	})
	return out, err
}

// principalCert resolves a thing principal: a certificate ARN of this scope that exists.
func principalCert(sc Scope, s *state, principal string) (string, error) {
	if principal == "" {
		return "", invalid("null", "principal", "Member must not be null")
	}
	canon, kind, err := resolveTarget(sc, s, principal)
	if err != nil {
		return "", err
	}
	if kind != targetCert {
		return "", awserr.InvalidReq("Invalid principal %s: a thing's principal is a certificate", principal)
	}
	return canon, nil
}

// AttachThingPrincipal attaches a certificate to a thing. An EXCLUSIVE_THING attachment requires the
// certificate to be attached to no other thing, and keeps it from being attached to another one.
// Attaching again with the same type is a no-op; with the other type, it changes the type when the
// rule above allows. AWS: API_AttachThingPrincipal, exclusive-thing
func (r *Registry) AttachThingPrincipal(sc Scope, thingName, principal, typ string) error {
	if err := checkName("thingName", thingName); err != nil {
		return err
	}
	if typ == "" {
		typ = ThingPrincipalNonExclusive
	}
	if err := checkEnum("thingPrincipalType", typ, []string{ThingPrincipalExclusive, ThingPrincipalNonExclusive}); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		th := t.s.things[thingName]
		if th == nil {
			return thingNotFound(thingName)
		}
		canon, err := principalCert(t.sc, t.s, principal)
		if err != nil {
			return err
		}
		var others []string
		for _, pt := range thingsOf(t.s, canon) {
			if pt.Thing == thingName {
				continue
			}
			if pt.Type == ThingPrincipalExclusive {
				return awserr.InvalidReq("Principal %s is exclusively attached to thing %s (EXCLUSIVE_THING); detach it first", canon, pt.Thing)
			}
			others = append(others, pt.Thing)
		}
		if typ == ThingPrincipalExclusive && len(others) > 0 {
			return awserr.InvalidReq("Principal %s cannot be attached to thing %s as EXCLUSIVE_THING: it is attached to %s", canon, thingName, strings.Join(others, ", "))
		}
		nt := *th
		nt.Principals = nil
		for _, tp := range th.Principals {
			if tp.Principal == canon {
				if principalType(tp.Type) == typ {
					return nil
				}
				continue
			}
			nt.Principals = append(nt.Principals, tp)
		}
		nt.Principals = append(nt.Principals, ThingPrincipal{Principal: canon, Type: typ})
		s := t.s
		t.put("thing", thingName, &nt, func() { s.things[thingName] = &nt })
		t.emit(Event{Kind: "attachment", Name: canon})
		return nil
	})
}

// DetachThingPrincipal detaches a certificate from a thing; detaching what is not attached is a no-op.
// AWS: API_DetachThingPrincipal (asynchronous on AWS; immediate here)
func (r *Registry) DetachThingPrincipal(sc Scope, thingName, principal string) error {
	if err := checkName("thingName", thingName); err != nil {
		return err
	}
	if principal == "" {
		return invalid("null", "principal", "Member must not be null")
	}
	return r.update(sc, func(t *txn) error {
		th := t.s.things[thingName]
		if th == nil {
			return thingNotFound(thingName)
		}
		canon := principal
		if !slices.ContainsFunc(th.Principals, func(tp ThingPrincipal) bool { return tp.Principal == canon }) {
			c, err := principalCert(t.sc, t.s, principal)
			if err != nil {
				return err
			}
			canon = c
		}
		nt := *th
		nt.Principals = slices.DeleteFunc(slices.Clone(th.Principals), func(tp ThingPrincipal) bool { return tp.Principal == canon })
		if len(nt.Principals) == len(th.Principals) {
			return nil
		}
		if len(nt.Principals) == 0 {
			nt.Principals = nil
		}
		s := t.s
		t.put("thing", thingName, &nt, func() { s.things[thingName] = &nt })
		t.emit(Event{Kind: "attachment", Name: canon})
		return nil
	})
}

// ListThingPrincipals returns a page of a thing's principals, sorted by ARN; typ, when set, keeps one
// attachment type. AWS: API_ListThingPrincipals, API_ListThingPrincipalsV2
func (r *Registry) ListThingPrincipals(sc Scope, thingName, typ string, p Page) ([]PrincipalThing, string, error) {
	if err := checkName("thingName", thingName); err != nil {
		return nil, "", err
	}
	if typ != "" {
		if err := checkEnum("thingPrincipalType", typ, []string{ThingPrincipalExclusive, ThingPrincipalNonExclusive}); err != nil {
			return nil, "", err
		}
	}
	var (
		out  []PrincipalThing
		next string
	)
	err := r.view(sc, func(s *state) error {
		th := s.things[thingName]
		if th == nil {
			// moto's text for the real error.
			return awserr.NotFound("Failed to list principals for thing %s because the thing does not exist in your account", thingName)
		}
		byARN := map[string]PrincipalThing{}
		for _, tp := range th.Principals {
			pt := PrincipalThing{Thing: thingName, Principal: tp.Principal, Type: principalType(tp.Type)}
			if typ == "" || pt.Type == typ {
				byARN[tp.Principal] = pt
			}
		}
		keys, nt, err := pageOf(byARN, nil, listPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, byARN[k])
		}
		next = nt
		return nil
	})
	return out, next, err
}

// ListPrincipalThings returns a page of the things a certificate is attached to, sorted by name; typ,
// when set, keeps one attachment type. AWS: API_ListPrincipalThings, API_ListPrincipalThingsV2
func (r *Registry) ListPrincipalThings(sc Scope, principal, typ string, p Page) ([]PrincipalThing, string, error) {
	if typ != "" {
		if err := checkEnum("thingPrincipalType", typ, []string{ThingPrincipalExclusive, ThingPrincipalNonExclusive}); err != nil {
			return nil, "", err
		}
	}
	var (
		out  []PrincipalThing
		next string
	)
	err := r.view(sc, func(s *state) error {
		canon, err := principalCert(sc, s, principal)
		if err != nil {
			return err
		}
		byName := map[string]PrincipalThing{}
		for _, pt := range thingsOf(s, canon) {
			if typ == "" || pt.Type == typ {
				byName[pt.Thing] = pt
			}
		}
		keys, nt, err := pageOf(byName, nil, listPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, byName[k])
		}
		next = nt
		return nil
	})
	return out, next, err
}

// describeTarget names a target for messages.
func describeTarget(kind string) string {
	if kind == targetThingGroup {
		return "thing group"
	}
	return "certificate"
}
