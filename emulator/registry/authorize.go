package registry

import (
	"maps"
	"slices"
	"strconv"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/policy"
)

// The broker's contract. The broker reaches the registry through interfaces it declares itself; these
// are the methods it binds them to:
//
//	CertificateByID(sc, id) (Certificate, bool)
//	    The device certificate whose id is the hex SHA-256 of the DER the client presented. Only
//	    Status ACTIVE may connect (AWS: API_UpdateCertificate). CAID, when set, names the registered
//	    CA (see CACertificateByID); what AWS does with a device whose CA was made INACTIVE afterwards
//	    is not documented (unverified; refusing it is the cautious reading).
//	CACertificateByID(sc, id) (CACertificate, bool)
//	Principal(sc, certID, clientID) (policies []policy.Policy, thing *policy.Thing, err error)
//	    The effective policies of the certificate for a connection with that client ID, in evaluation
//	    order, and the thing the connection is identified as (nil when none); see Principal.
//	Watch(func(Event))
//	    Called after every committed change. Kind "cert" (Name = certificate id, CertStatus = the new
//	    status, "" when deleted): a certificate that is no longer ACTIVE must be disconnected. Kind
//	    "cacert" (Name = CA id, CertStatus): same for the devices of a CA. Kinds "policy" (a default
//	    version changed; Name = policy name), "attachment" (policies or thing principals attached or
//	    detached; Name = the certificate or thing group ARN, or the policy name when a thing group is
//	    deleted), "thing" and "thinggroup": call Principal again before the next check; nothing is
//	    disconnected (research §3.6). Names are informational: re-reading every connection is correct.
//
// Building the policy.Context for a check, as TestAuthorization does it here:
//
//	&policy.Context{Region: sc.Region, Account: sc.Account,
//	    ClientID: clientID, HasClientID: true, Thing: thing,
//	    Cert: policy.FromX509(theClientCertificate),
//	    SourceIP: …, DomainName: <the SNI host>, ConnectAttributes: …}   // what only the broker knows

// Principal returns the policies in force for a certificate connecting with clientID, and the thing the
// connection is identified as.
//
// The thing is resolved AWS's way (AWS: thing-policy-variables, exclusive-thing): a certificate with an
// EXCLUSIVE_THING attachment is always that thing (IsAttached true), whatever the client ID; otherwise the
// client ID must be the name of a thing — IsAttached says whether the certificate is attached to it
// (NON_EXCLUSIVE_THING), and a client ID that names no thing gives a nil thing.
//
// The policies are the certificate's own, sorted by name, then — only when the thing is identified
// (IsAttached) — those of the thing's static groups and their ancestors (research §3.5), each policy once,
// each at its default version. An unknown certificate is a ResourceNotFoundException.
func (r *Registry) Principal(sc Scope, certID, clientID string) (policies []policy.Policy, thing *policy.Thing, err error) {
	err = r.view(sc, func(s *state) error {
		c := s.certs[normalizeCertID(certID)]
		if c == nil {
			return certNotFound(certID)
		}
		policies, thing = principalOf(sc, s, CertificateARN(sc, c.ID), clientID)
		return nil
	})
	return policies, thing, err
}

// principalOf is Principal for a canonical certificate ARN.
func principalOf(sc Scope, s *state, certARN, clientID string) ([]policy.Policy, *policy.Thing) {
	var rec *Thing
	attached := false
	links := thingsOf(s, certARN)
	for _, pt := range links {
		if pt.Type == ThingPrincipalExclusive {
			rec, attached = s.things[pt.Thing], true
			break
		}
	}
	if rec == nil && clientID != "" {
		if rec = s.things[clientID]; rec != nil {
			attached = slices.ContainsFunc(links, func(pt PrincipalThing) bool { return pt.Thing == clientID })
		}
	}
	names := policiesOf(s, certARN)
	var thing *policy.Thing
	if rec != nil {
		thing = &policy.Thing{Name: rec.Name, TypeName: rec.TypeName, Attributes: maps.Clone(rec.Attributes), IsAttached: attached}
		if attached {
			for _, n := range thingGroupPolicies(sc, s, rec) {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	return inForce(s, names), thing
}

// inForce returns the default versions of the named policies, compiled.
func inForce(s *state, names []string) []policy.Policy {
	out := make([]policy.Policy, 0, len(names))
	for _, n := range names {
		p := s.policies[n]
		if p == nil {
			continue
		}
		if v := p.DefaultVersion(); v != nil {
			out = append(out, policy.Policy{Name: n, Version: v.ID, Doc: v.compiled})
		}
	}
	return out
}

// TestAuthorization action types and the policy actions they check. AWS: API_AuthInfo
var authActions = map[string]string{
	"PUBLISH":   "iot:Publish",
	"SUBSCRIBE": "iot:Subscribe",
	"RECEIVE":   "iot:Receive",
	"CONNECT":   "iot:Connect",
	// iotlab extension: AWS's ActionType enum has no RETAIN, but iot:RetainPublish is checked on every
	// retained PUBLISH (research §3.2), so a learner can test it here too.
	"RETAIN": "iot:RetainPublish",
}

const maxAuthInfos = 10 // AWS: API_TestAuthorization (authInfos 1–10)

// AuthCheck is one authInfo of TestAuthorization: an action type and the full resource ARNs.
type AuthCheck struct {
	ActionType string
	Resources  []string
}

// TestAuthInput is TestAuthorization's request.
type TestAuthInput struct {
	Principal string // certificate or thing group ARN; "" evaluates only PolicyNamesToAdd
	ClientID  string // the MQTT client ID to evaluate with ("" for none)
	Checks    []AuthCheck
	Add, Skip []string // policyNamesToAdd, policyNamesToSkip
}

// AuthOutcome is one authResult: the decision and the policies behind it (names; the API adds ARNs).
type AuthOutcome struct {
	Check    AuthCheck
	Decision policy.Effect
	// Allowed lists the policies that allow (ALLOWED); ExplicitDeny those with a matching Deny
	// (EXPLICIT_DENY); ImplicitDeny every policy evaluated, none of which matched (IMPLICIT_DENY).
	Allowed, ExplicitDeny, ImplicitDeny []string
}

// TestAuthorization evaluates each check against the principal's effective policies exactly as the
// broker will for a connection with that client ID (see Principal), with the certificate's fields for
// ${iot:Certificate.*}. With several resources, a check is ALLOWED only when every resource is, and
// EXPLICIT_DENY when any is denied. AWS: API_TestAuthorization
func (r *Registry) TestAuthorization(sc Scope, in TestAuthInput) ([]AuthOutcome, error) {
	switch {
	case len(in.Checks) == 0:
		return nil, invalid("[]", "authInfos", "Member must have length greater than or equal to 1")
	case len(in.Checks) > maxAuthInfos:
		return nil, invalid("[…]", "authInfos", "Member must have length less than or equal to 10")
	}
	for i, c := range in.Checks {
		if _, ok := authActions[c.ActionType]; !ok {
			return nil, invalid(c.ActionType, "authInfos."+strconv.Itoa(i+1)+".member.actionType", "Member must satisfy enum value set: [PUBLISH, SUBSCRIBE, RECEIVE, CONNECT]")
		}
		if len(c.Resources) == 0 {
			return nil, awserr.InvalidReq("authInfos %d has no resources: give the full ARNs to check, e.g. arn:aws:iot:%s:%s:topic/my/topic", i+1, sc.Region, sc.Account)
		}
		for _, res := range c.Resources {
			if len(res) > 2048 {
				return nil, invalid(res, "authInfos."+strconv.Itoa(i+1)+".member.resources.member", "Member must have length less than or equal to 2048")
			}
		}
	}
	var (
		pols []policy.Policy
		ctx  = &policy.Context{Region: sc.Region, Account: sc.Account, ClientID: in.ClientID, HasClientID: in.ClientID != ""}
	)
	err := r.view(sc, func(s *state) error {
		if in.Principal != "" {
			canon, kind, err := resolveTarget(sc, s, in.Principal)
			if err != nil {
				return err
			}
			if kind == targetThingGroup {
				// The group's policies and its ancestors', as for a member thing; no certificate, no thing.
				a, _ := arn.Parse(canon)
				var names []string
				for _, gn := range groupChain(s, a.Name) {
					names = append(names, policiesOf(s, arn.IoT(sc.Region, sc.Account, targetThingGroup, gn))...)
				}
				pols = inForce(s, names)
			} else {
				pols, ctx.Thing = principalOf(sc, s, canon, in.ClientID)
				if c, ok := certOfARN(sc, s, canon); ok {
					if x, err := certs.ParseCertificatePEM(c.PEM); err == nil {
						ctx.Cert = policy.FromX509(x)
					}
				}
			}
		}
		pols = slices.DeleteFunc(pols, func(p policy.Policy) bool { return slices.Contains(in.Skip, p.Name) })
		for _, n := range in.Add {
			if s.policies[n] == nil {
				return awserr.NotFound("Policy not found: %s (policyNamesToAdd)", n)
			}
			if !slices.ContainsFunc(pols, func(p policy.Policy) bool { return p.Name == n }) {
				pols = append(pols, inForce(s, []string{n})...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]AuthOutcome, len(in.Checks))
	for i, c := range in.Checks {
		out[i] = decide(c, pols, ctx)
	}
	return out, nil
}

// decide evaluates one check over all its resources.
func decide(c AuthCheck, pols []policy.Policy, ctx *policy.Context) AuthOutcome {
	o := AuthOutcome{Check: c, Decision: policy.Allowed}
	var allowing, denying []string
	for _, res := range c.Resources {
		d := policy.Evaluate(policy.Request{Action: authActions[c.ActionType], Resource: res, Policies: pols, Context: ctx})
		for _, ref := range d.Allowing {
			allowing = appendNew(allowing, ref.Name)
		}
		for _, ref := range d.Denying {
			denying = appendNew(denying, ref.Name)
		}
		switch {
		case d.Effect == policy.ExplicitDeny:
			o.Decision = policy.ExplicitDeny
		case d.Effect == policy.ImplicitDeny && o.Decision == policy.Allowed:
			o.Decision = policy.ImplicitDeny
		}
	}
	switch o.Decision {
	case policy.Allowed:
		o.Allowed = allowing
	case policy.ExplicitDeny:
		o.ExplicitDeny = denying
	default:
		for _, p := range pols {
			o.ImplicitDeny = appendNew(o.ImplicitDeny, p.Name)
		}
	}
	return o
}

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}
