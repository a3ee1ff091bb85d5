package course

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/target"
)

// Plan is what the switch to AWS shows before anything is created: who, where, and every resource the
// chapters would create there.
type Plan struct {
	Account, Region, Endpoint, MQTTAddr, Caller string
	// Manifest is the file that will list what is created, for `iotlab aws cleanup`.
	Manifest string
	// Prefix starts every name ("iotlab-<run id>-").
	Prefix    string
	Resources []Planned
	// NotApplicable counts the steps that will not run on AWS (the lab listener, local logs, rules
	// without --rule-role-arn), by reason.
	NotApplicable map[string]int
}

// Planned is one resource a chapter would create.
type Planned struct {
	Chapter int
	Kind    string // a target.Kind* value
	Name    string
	// Tag is the tag it gets ("iotlab=exercise"), or "" where AWS takes no tags at creation (things,
	// certificates, attachments, shadows, retained messages): those carry the prefix only.
	Tag  string
	Note string
}

// ErrNoAWS is returned by ProbeAWS when the course was built without a way to reach AWS.
var ErrNoAWS = errors.New("course: no AWS target configured")

// ProbeAWS opens the AWS target — STS GetCallerIdentity and DescribeEndpoint, nothing created — and
// returns the plan to show. UseAWS switches to it.
func (c *Course) ProbeAWS(ctx context.Context) (Plan, error) {
	if c.opt.OpenAWS == nil {
		return Plan{}, ErrNoAWS
	}
	t, err := c.opt.OpenAWS(ctx)
	if err != nil {
		return Plan{}, err
	}
	c.mu.Lock()
	old := c.pending
	c.pending = t
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return c.plan(t), nil
}

// UseAWS makes the probed AWS target the one the chapters run on. The local runs stop (what they
// created stays); chapters start again, on AWS, with the same names.
func (c *Course) UseAWS(ctx context.Context) (Info, error) {
	c.mu.Lock()
	t := c.pending
	c.mu.Unlock()
	if t == nil {
		return Info{}, errors.New("course: no AWS target probed: ProbeAWS first")
	}
	err := c.closeRunners(ctx)
	c.mu.Lock()
	c.pending, c.t, c.mode = nil, t, "AWS account"
	c.attempts = map[int]int{}
	c.sessions = map[string]*Session{}
	c.mu.Unlock()
	return c.Info(), err
}

// plan lists what the chapters' applicable steps create on t, under this course's names.
func (c *Course) plan(t *target.Target) Plan {
	p := Plan{Account: t.Account, Region: t.Region, Endpoint: t.Endpoint, MQTTAddr: t.MQTTAddr, Caller: t.Caller,
		Prefix: c.RunPrefix(), NotApplicable: map[string]int{}}
	if t.Manifest != nil {
		p.Manifest = t.Manifest.Path()
	}
	seen := map[string]bool{}
	for _, sc := range c.chapters {
		names := exercises.Namer{Prefix: fmt.Sprintf("iotlab-%s-c%d-", c.opt.RunID, sc.Chapter), Account: t.Account, Region: t.Region}
		add := func(kind, name, tag, note string) {
			if seen[kind+"\x00"+name] {
				return
			}
			seen[kind+"\x00"+name] = true
			p.Resources = append(p.Resources, Planned{Chapter: sc.Chapter, Kind: kind, Name: name, Tag: tag, Note: note})
		}
	steps:
		for _, s := range sc.Steps {
			for _, cp := range s.Requires() {
				if !t.Has(cp) {
					p.NotApplicable[t.Why(cp)]++
					continue steps
				}
			}
			for _, a := range s.Actions {
				planAction(names, s, a, add)
			}
		}
	}
	return p
}

const exerciseTag = "iotlab=exercise"

func planAction(n exercises.Namer, s exercises.Step, a exercises.Action, add func(kind, name, tag, note string)) {
	x := n.Expand
	// A device is its thing and its certificate (named after the thing, as in the manifest), plus
	// the attachments between them and the policy, which cleanup detaches first.
	device := func(thing string, withThing bool, policy, how string) {
		if withThing {
			add(target.KindThing, thing, "", "")
		}
		note := how
		if policy != "" {
			note += ", policy " + policy
		}
		add(target.KindCertificate, thing, "", note)
	}
	switch a := a.(type) {
	case exercises.CreateBillingGroup:
		add(target.KindBillingGroup, x(a.Name), exerciseTag, "")
	case exercises.CreateThingType:
		add(target.KindThingType, x(a.Name), exerciseTag, "deprecated, then deleted 5 minutes later")
	case exercises.CreateThing:
		add(target.KindThing, x(a.Name), "", "")
	case exercises.CreateThingGroup:
		add(target.KindThingGroup, x(a.Name), exerciseTag, "")
	case exercises.CreatePolicy:
		add(target.KindPolicy, x(a.Name), exerciseTag, "")
	case exercises.Provision:
		thing := a.Thing
		if thing == "" {
			thing = "@{" + a.Device + "}"
		}
		how := "key made by AWS"
		if a.OwnKey {
			how = "own key, CSR"
		}
		device(x(thing), !a.NoThing, x(a.Policy), how)
	case exercises.CreateRule:
		add(target.KindRule, n.RuleName(a.Name), exerciseTag, "republish")
	case exercises.UpdateShadow:
		add(target.KindShadow, x(a.Thing), "", "classic shadow")
	case exercises.StartLock:
		add(target.KindShadow, x("@{"+a.Device+"}"), "", "reported by the simulated lock")
	case exercises.Publish:
		if a.Retain && a.Payload != "" && s.Listener == exercises.MTLS {
			add(target.KindRetained, x(a.Topic), "", "")
		}
	case exercises.StartFleet:
		policy := x("@{home-fleet}")
		add(target.KindPolicy, policy, "iotlab=fleet", "")
		things := make([]string, 0, len(a.Rooms)+2)
		for _, r := range a.Rooms {
			things = append(things, x("@{"+r+"-sensor}"))
		}
		things = append(things, x("@{hall-door}"), x("@{hall-lock}"))
		for _, th := range things {
			device(th, true, policy, "key made by AWS")
		}
		add(target.KindShadow, x("@{hall-lock}"), "", "reported by the simulated lock")
	}
}

// Kinds counts a plan's resources by kind, in the order they are listed.
func (p Plan) Kinds() []string {
	count := map[string]int{}
	var order []string
	for _, r := range p.Resources {
		if count[r.Kind] == 0 {
			order = append(order, r.Kind)
		}
		count[r.Kind]++
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		name := k
		if count[k] > 1 {
			name = plural(k)
		}
		out = append(out, fmt.Sprintf("%d %s", count[k], name))
	}
	return out
}

func plural(kind string) string {
	switch {
	case strings.HasSuffix(kind, "y"):
		return strings.TrimSuffix(kind, "y") + "ies"
	case strings.HasSuffix(kind, "s"):
		return kind
	}
	return kind + "s"
}

// Reasons lists the not-applicable reasons, sorted.
func (p Plan) Reasons() []string {
	var out []string
	for why, n := range p.NotApplicable {
		steps := "steps"
		if n == 1 {
			steps = "step"
		}
		out = append(out, fmt.Sprintf("%d %s: %s", n, steps, why))
	}
	slices.Sort(out)
	return out
}

// NoCredentials reports whether err says that no AWS credentials (or no region) were found: the case a
// learner without an account meets, told plainly.
func NoCredentials(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	for _, w := range []string{"no ec2 imds role", "failed to retrieve credentials", "failed to refresh cached credentials",
		"no valid credential", "nocredentialproviders", "anonymous credentials", "no aws region", "static credentials are empty",
		"invalidclienttokenid", "unrecognizedclient", "the security token included in the request is invalid"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Explain says in one plain line why AWS cannot be used, for the TUI and the transcript.
func Explain(err error) string {
	switch {
	case errors.Is(err, ErrNoAWS):
		return "The switch to AWS is not available here."
	case strings.Contains(err.Error(), "no AWS region"):
		return "No AWS region configured (--region, AWS_REGION or a profile's): staying local."
	case NoCredentials(err):
		return "No AWS credentials found (environment, ~/.aws, SSO or instance role): staying local."
	}
	return "AWS not reachable, staying local: " + err.Error()
}

func notFound(err error) bool {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}
