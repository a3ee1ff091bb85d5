package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/policy"
)

// Policy limits. AWS: API_CreatePolicy, API_CreatePolicyVersion, iot-policies
const (
	maxPolicyNameLen  = 128
	maxPolicyVersions = 5      // "A managed policy can have up to five versions."
	maxPolicyDocLen   = 404600 // the model's PolicyDocument max; the 2048 non-whitespace limit is policy.Parse's
)

// rePolicyName is the model's PolicyName pattern, anchored (\w is ASCII in Go as in Java).
var rePolicyName = regexp.MustCompile(`^[\w+=,.@-]+$`)

// PolicyARN is arn:aws:iot:<region>:<account>:policy/<name>.
func PolicyARN(sc Scope, name string) string { return arn.IoT(sc.Region, sc.Account, "policy", name) }

// UnmarshalJSON loads a stored version and compiles its document, so evaluation never parses. A
// document today's parser rejects (stored by another iotlab version) loads uncompiled and grants
// nothing, rather than making the whole state unreadable.
func (v *PolicyVersion) UnmarshalJSON(b []byte) error {
	type plain PolicyVersion // without this method
	if err := json.Unmarshal(b, (*plain)(v)); err != nil {
		return err
	}
	v.compiled, _ = policy.Parse(v.Document)
	return nil
}

// Compiled returns the parsed document (nil if it could not be parsed).
func (v *PolicyVersion) Compiled() *policy.Compiled { return v.compiled }

func checkPolicyName(member, name string) error {
	switch {
	case name == "":
		return invalid(name, member, "Member must have length greater than or equal to 1")
	case len(name) > maxPolicyNameLen:
		return invalid(name, member, fmt.Sprintf("Member must have length less than or equal to %d", maxPolicyNameLen))
	case !rePolicyName.MatchString(name):
		return invalid(name, member, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return nil
}

// compileDocument validates a policy document as CreatePolicy does: MalformedPolicyException with the
// parser's message. AWS: API_CreatePolicy
func compileDocument(doc string) (*policy.Compiled, error) {
	if utf8.RuneCountInString(doc) > maxPolicyDocLen {
		return nil, invalid("…", "policyDocument", fmt.Sprintf("Member must have length less than or equal to %d", maxPolicyDocLen))
	}
	c, err := policy.Parse(doc)
	if err != nil {
		var me *policy.MalformedError
		if errors.As(err, &me) {
			return nil, awserr.New(awserr.MalformedPolicy, "%s", me.Message)
		}
		return nil, awserr.New(awserr.MalformedPolicy, "Policy document is Malformed: %v", err)
	}
	return c, nil
}

func policyNotFound() error {
	// As AWS answers GetPolicy for an unknown name.
	return awserr.NotFound("Policy not found")
}

// copyPolicy returns a copy whose slices the caller may keep; versions themselves are immutable.
func copyPolicy(p *Policy) Policy {
	c := *p
	c.Versions = slices.Clone(p.Versions)
	c.Targets = slices.Clone(p.Targets)
	return c
}

// DefaultVersion returns the version in force.
func (p *Policy) DefaultVersion() *PolicyVersion {
	return p.Version(p.Default)
}

// Version returns the version with that id, nil when there is none.
func (p *Policy) Version(id string) *PolicyVersion {
	for _, v := range p.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// CreatePolicy creates a policy whose version 1 is the default. AWS: API_CreatePolicy
func (r *Registry) CreatePolicy(sc Scope, name, doc string, tags []Tag) (Policy, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return Policy{}, err
	}
	if err := checkTags(tags); err != nil {
		return Policy{}, err
	}
	compiled, err := compileDocument(doc)
	if err != nil {
		return Policy{}, err
	}
	now := r.now().UTC()
	p := &Policy{
		Name:        name,
		Versions:    []*PolicyVersion{{ID: "1", Document: doc, Created: now, compiled: compiled}},
		Default:     "1",
		NextVersion: 2,
		Created:     now,
		Modified:    now,
		Generation:  r.randHex(32),
	}
	err = r.update(sc, func(t *txn) error {
		if old := t.s.policies[name]; old != nil {
			// moto's text for the real error.
			return alreadyExists(fmt.Sprintf("Policy cannot be created - name already exists (name=%s)", name), name, PolicyARN(sc, name))
		}
		if err := t.createTags(PolicyARN(sc, name), tags); err != nil {
			return err
		}
		s := t.s
		t.put("policy", name, p, func() { s.policies[name] = p })
		return nil
	})
	if err != nil {
		return Policy{}, err
	}
	return copyPolicy(p), nil
}

// GetPolicy returns a policy with all its versions. AWS: API_GetPolicy
func (r *Registry) GetPolicy(sc Scope, name string) (Policy, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return Policy{}, err
	}
	var out Policy
	err := r.view(sc, func(s *state) error {
		p := s.policies[name]
		if p == nil {
			return policyNotFound()
		}
		out = copyPolicy(p)
		return nil
	})
	return out, err
}

// ListPolicies returns a page of policies in creation order, descending unless ascending.
// AWS: API_ListPolicies ("If true, the results are returned in ascending creation order.")
func (r *Registry) ListPolicies(sc Scope, ascending bool, p Page) ([]Policy, string, error) {
	var (
		out  []Policy
		next string
	)
	err := r.view(sc, func(s *state) error {
		byKey := map[string]*Policy{}
		for _, pol := range s.policies {
			byKey[creationKey(pol.Created, pol.Name, ascending)] = pol
		}
		keys, nt, err := pageOf(byKey, nil, markerPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, copyPolicy(byKey[k]))
		}
		next = nt
		return nil
	})
	return out, next, err
}

// DeletePolicy deletes a policy that is attached to nothing and has no version but the default.
// AWS: API_DeletePolicy
func (r *Registry) DeletePolicy(sc Scope, name string) error {
	if err := checkPolicyName("policyName", name); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		p := t.s.policies[name]
		switch {
		case p == nil:
			return policyNotFound()
		case len(p.Targets) > 0:
			// Exact text observed from AWS (research §4.3).
			return awserr.New(awserr.DeleteConflict, "The policy cannot be deleted as the policy is attached to one or more principals (name=%s)", name)
		case len(p.Versions) > 1:
			// Text observed from AWS, typo included (github.com/rebuy-de/aws-nuke/pull/320).
			return awserr.New(awserr.DeleteConflict, "The policy cannot be deleted as versions other than than default version exist (name=%s)", name)
		}
		t.setTags(PolicyARN(t.sc, name), nil)
		s := t.s
		t.del("policy", name, func() { delete(s.policies, name) })
		return nil
	})
}

// putPolicy stages a changed copy of a policy, stamping its modification.
func (t *txn) putPolicy(p *Policy) {
	p.Modified = t.r.now().UTC()
	p.Generation = t.r.randHex(32)
	s, name := t.s, p.Name
	t.put("policy", name, p, func() { s.policies[name] = p })
}

// CreatePolicyVersion adds a version (ids count up and are never reused); setAsDefault makes it the
// one in force, which live connections see on their next check (Event "policy"). At most five versions.
// AWS: API_CreatePolicyVersion
func (r *Registry) CreatePolicyVersion(sc Scope, name, doc string, setAsDefault bool) (Policy, *PolicyVersion, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return Policy{}, nil, err
	}
	compiled, err := compileDocument(doc)
	if err != nil {
		return Policy{}, nil, err
	}
	var (
		out Policy
		v   *PolicyVersion
	)
	err = r.update(sc, func(t *txn) error {
		old := t.s.policies[name]
		if old == nil {
			return policyNotFound()
		}
		if len(old.Versions) >= maxPolicyVersions {
			// Text observed from AWS (github.com/pulumi/pulumi-aws-native/issues/792).
			return awserr.New(awserr.VersionsLimitExceeded, "The policy %s already has the maximum number of versions (%d)", name, maxPolicyVersions)
		}
		p := copyPolicy(old)
		v = &PolicyVersion{ID: strconv.Itoa(p.NextVersion), Document: doc, Created: t.r.now().UTC(), compiled: compiled}
		p.NextVersion++
		p.Versions = append(p.Versions, v)
		if setAsDefault {
			p.Default = v.ID
			t.emit(Event{Kind: "policy", Name: name})
		}
		t.putPolicy(&p)
		out = copyPolicy(&p)
		return nil
	})
	if err != nil {
		return Policy{}, nil, err
	}
	return out, v, nil
}

func checkVersionID(id string) error {
	if id == "" {
		return invalid("null", "policyVersionId", "Member must not be null")
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return invalid(id, "policyVersionId", "Member must satisfy regular expression pattern: [0-9]+")
		}
	}
	return nil
}

func versionNotFound(name, id string) error {
	return awserr.NotFound("Policy version %s of policy %s does not exist", id, name)
}

// GetPolicyVersion returns a policy and one of its versions. AWS: API_GetPolicyVersion
func (r *Registry) GetPolicyVersion(sc Scope, name, id string) (Policy, *PolicyVersion, error) {
	if err := checkPolicyName("policyName", name); err != nil {
		return Policy{}, nil, err
	}
	if err := checkVersionID(id); err != nil {
		return Policy{}, nil, err
	}
	p, err := r.GetPolicy(sc, name)
	if err != nil {
		return Policy{}, nil, err
	}
	v := p.Version(id)
	if v == nil {
		return Policy{}, nil, versionNotFound(name, id)
	}
	return p, v, nil
}

// SetDefaultPolicyVersion puts another version in force; connected clients see it on their next
// check (Event "policy"), they are not disconnected. AWS: API_SetDefaultPolicyVersion
func (r *Registry) SetDefaultPolicyVersion(sc Scope, name, id string) error {
	if err := checkPolicyName("policyName", name); err != nil {
		return err
	}
	if err := checkVersionID(id); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		old := t.s.policies[name]
		switch {
		case old == nil:
			return policyNotFound()
		case old.Version(id) == nil:
			return versionNotFound(name, id)
		case old.Default == id:
			return nil
		}
		p := copyPolicy(old)
		p.Default = id
		t.putPolicy(&p)
		t.emit(Event{Kind: "policy", Name: name})
		return nil
	})
}

// DeletePolicyVersion deletes a version that is not the default. AWS: API_DeletePolicyVersion
func (r *Registry) DeletePolicyVersion(sc Scope, name, id string) error {
	if err := checkPolicyName("policyName", name); err != nil {
		return err
	}
	if err := checkVersionID(id); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		old := t.s.policies[name]
		switch {
		case old == nil:
			return policyNotFound()
		case old.Version(id) == nil:
			return versionNotFound(name, id)
		case old.Default == id:
			// IAM's and moto's text for the same rule.
			return awserr.New(awserr.DeleteConflict, "Cannot delete the default version of a policy")
		}
		p := copyPolicy(old)
		p.Versions = slices.DeleteFunc(p.Versions, func(v *PolicyVersion) bool { return v.ID == id })
		t.putPolicy(&p)
		return nil
	})
}
