package policy

import (
	"strconv"
	"strings"
)

// Effect is the outcome of an authorization check. The zero value is ImplicitDeny, so a Decision
// nobody filled in denies.
type Effect int

const (
	// ImplicitDeny: no statement allows the request (the default).
	ImplicitDeny Effect = iota
	// ExplicitDeny: a Deny statement matches; it wins over every Allow.
	ExplicitDeny
	// Allowed: an Allow statement matches and no Deny statement does.
	Allowed
)

// String returns TestAuthorization's names: "ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY".
func (e Effect) String() string {
	switch e {
	case Allowed:
		return "ALLOWED"
	case ExplicitDeny:
		return "EXPLICIT_DENY"
	case ImplicitDeny:
		return "IMPLICIT_DENY"
	}
	return "Effect(" + strconv.Itoa(int(e)) + ")"
}

// Policy is one policy version in force for a principal.
type Policy struct {
	Name    string
	Version string // policy version id: "1", "2", …
	Doc     *Compiled
}

// PolicyRef names a policy version.
type PolicyRef struct {
	Name, Version string
}

// Request is one authorization check.
type Request struct {
	// Action is the IoT policy action, e.g. "iot:Publish"; compared case-insensitively.
	Action string
	// Resource is the full ARN, e.g. "arn:aws:iot:eu-west-1:123456789012:topic/home/hall/temp".
	Resource string
	// Policies are the principal's effective policies (certificate, then thing groups), in a stable
	// order; the order decides which statement a Decision names.
	Policies []Policy
	// Context supplies policy variables and condition keys; nil when nothing is known.
	Context *Context
}

// Decision is the result of Evaluate.
type Decision struct {
	Effect Effect
	// The statement that decided: the first matching Deny for ExplicitDeny, the first matching Allow
	// for Allowed (in Policies order, then document order); empty for ImplicitDeny. Statement is
	// 1-based, 0 when no statement decided.
	Policy, Version string
	Statement       int
	Sid             string
	// Allowing and Denying list every policy with a matching Allow / Deny statement, in Policies
	// order (TestAuthorization's allowed.policies and denied.explicitDeny.policies). Nil from Decide.
	Allowing, Denying []PolicyRef
	// Action and Resource repeat the request, for Explain.
	Action, Resource string

	noPolicies bool // the request had no policy at all
}

// Evaluate decides a request with IAM's logic: default deny, an explicit Deny in any policy wins over
// every Allow, otherwise one Allow suffices.
// AWS: iot-policies ("AWS IoT Core policies follow the same policy evaluation logic as IAM policies")
//
// It allocates only the Allowing/Denying lists (one allocation when some statement matched); use Decide
// when those are not needed.
func Evaluate(req Request) Decision {
	return evaluate(&req, true)
}

// Decide is Evaluate without the Allowing and Denying lists. It stops at the first matching Deny and
// does not allocate: use it on hot paths (every PUBLISH, every delivery).
func Decide(req Request) Decision {
	return evaluate(&req, false)
}

const (
	markAllow uint8 = 1 << iota
	markDeny
)

func evaluate(req *Request, lists bool) Decision {
	d := Decision{Action: req.Action, Resource: req.Resource, noPolicies: len(req.Policies) == 0}
	var small [16]uint8
	var marks []uint8 // per policy: markAllow | markDeny
	if lists {
		if len(req.Policies) <= len(small) {
			marks = small[:len(req.Policies)]
		} else {
			marks = make([]uint8, len(req.Policies))
		}
	}
	action := knownAction(req.Action)
	allowP, allowS := -1, -1
	denyP, denyS := -1, -1
	for pi := range req.Policies {
		doc := req.Policies[pi].Doc
		if doc == nil {
			continue
		}
		for si := range doc.statements {
			st := &doc.statements[si]
			if !st.matches(req, action) {
				continue
			}
			if st.deny {
				if denyP < 0 {
					denyP, denyS = pi, si
					if !lists {
						return d.decided(ExplicitDeny, req, denyP, denyS)
					}
				}
				if lists {
					marks[pi] |= markDeny
				}
			} else {
				if allowP < 0 {
					allowP, allowS = pi, si
				}
				if lists {
					marks[pi] |= markAllow
				}
			}
		}
	}
	switch {
	case denyP >= 0:
		d = d.decided(ExplicitDeny, req, denyP, denyS)
	case allowP >= 0:
		d = d.decided(Allowed, req, allowP, allowS)
	}
	if lists && (allowP >= 0 || denyP >= 0) {
		var na, nd int
		for _, m := range marks {
			if m&markAllow != 0 {
				na++
			}
			if m&markDeny != 0 {
				nd++
			}
		}
		refs := make([]PolicyRef, na+nd)
		a, dn := refs[:0:na], refs[na:na]
		for pi, m := range marks {
			ref := PolicyRef{Name: req.Policies[pi].Name, Version: req.Policies[pi].Version}
			if m&markAllow != 0 {
				a = append(a, ref)
			}
			if m&markDeny != 0 {
				dn = append(dn, ref)
			}
		}
		if na > 0 {
			d.Allowing = a
		}
		if nd > 0 {
			d.Denying = dn
		}
	}
	return d
}

func (d Decision) decided(e Effect, req *Request, pi, si int) Decision {
	p := &req.Policies[pi]
	st := &p.Doc.statements[si]
	d.Effect, d.Policy, d.Version, d.Statement, d.Sid = e, p.Name, p.Version, st.index, st.sid
	return d
}

// matches reports whether the statement applies to the request: action, resource and conditions.
// action is knownAction(req.Action).
func (st *statement) matches(req *Request, action int) bool {
	var hit bool
	if action >= 0 {
		hit = st.actionMask&(1<<action) != 0
	} else {
		for i := range st.actions {
			if st.actions[i].match(req.Action) {
				hit = true
				break
			}
		}
	}
	if hit == st.notAction {
		return false
	}
	hit = false
	for i := range st.resources {
		if st.resources[i].match(req.Resource, req.Context, false) {
			hit = true
			break
		}
	}
	if hit == st.notResource {
		return false
	}
	for i := range st.conds {
		if !st.conds[i].eval(req.Context) {
			return false
		}
	}
	return true
}

// match compares an action case-insensitively, with '*' and '?' wildcards ("iot:*", "iot:Pub*").
func (a *actionPattern) match(action string) bool {
	if !a.wild {
		return strings.EqualFold(a.text, action)
	}
	p, s := a.text, action
	pi, si := 0, 0
	backPi, backSi := -1, 0
	for {
		if pi < len(p) {
			c := p[pi]
			if c == '*' {
				if pi == len(p)-1 {
					return true
				}
				backPi, backSi = pi+1, si
				pi++
				continue
			}
			if si < len(s) && (c == '?' || c == lowerASCII(s[si])) {
				pi++
				si++
				continue
			}
		} else if si == len(s) {
			return true
		}
		if backPi < 0 || backSi >= len(s) {
			return false
		}
		backSi++
		pi, si = backPi, backSi
	}
}

// knownActionNames lists the IoT data-plane actions. Parse records, per statement, which of them its
// Action patterns match, so that evaluating a known action is a bit test. AWS: iot-policy-actions
func knownActionNames() [16]string {
	return [16]string{
		"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:RetainPublish",
		"iot:GetRetainedMessage", "iot:ListRetainedMessages", "iot:GetThingShadow", "iot:UpdateThingShadow",
		"iot:DeleteThingShadow", "iot:ListNamedShadowsForThing", "iot:DescribeJobExecution",
		"iot:GetPendingJobExecutions", "iot:UpdateJobExecution", "iot:StartNextPendingJobExecution",
		"iot:AssumeRoleWithCertificate",
	}
}

// knownAction returns the index of action in knownActionNames, -1 for other actions.
func knownAction(action string) int {
	switch action { // the spelling callers use, without a loop
	case "iot:Connect":
		return 0
	case "iot:Publish":
		return 1
	case "iot:Subscribe":
		return 2
	case "iot:Receive":
		return 3
	}
	names := knownActionNames()
	for i, n := range names {
		if strings.EqualFold(n, action) {
			return i
		}
	}
	return -1
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Explain says in one line what decided, for learners:
//
//	ALLOWED by policy "p" v1 statement 2 (Sid "PubOwnTopics")
//	EXPLICIT_DENY by policy "p" v1 statement 3
//	IMPLICIT_DENY: no statement allows iot:Publish on topic/home/hall/temp
func (d Decision) Explain() string {
	var b strings.Builder
	b.WriteString(d.Effect.String())
	if d.Effect == ImplicitDeny {
		b.WriteString(": ")
		if d.noPolicies {
			b.WriteString("no policy is attached, so nothing allows ")
		} else {
			b.WriteString("no statement allows ")
		}
		b.WriteString(d.Action)
		b.WriteString(" on ")
		b.WriteString(shortResource(d.Resource))
		return b.String()
	}
	b.WriteString(" by policy ")
	b.WriteString(strconv.Quote(d.Policy))
	if d.Version != "" {
		b.WriteString(" v")
		b.WriteString(d.Version)
	}
	if d.Statement > 0 {
		b.WriteString(" statement ")
		b.WriteString(strconv.Itoa(d.Statement))
	}
	if d.Sid != "" {
		b.WriteString(" (Sid ")
		b.WriteString(strconv.Quote(d.Sid))
		b.WriteByte(')')
	}
	return b.String()
}

// shortResource drops "arn:partition:service:region:account:" from an ARN: "topic/home/hall/temp".
func shortResource(r string) string {
	if !strings.HasPrefix(r, "arn:") {
		return r
	}
	if parts, ok := arnParts(r); ok {
		return parts[5]
	}
	return r
}
