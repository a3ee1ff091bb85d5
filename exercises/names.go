package exercises

import (
	"regexp"
	"strings"
)

// Namer expands the @{…} templates of a run. @{name} becomes Prefix+name; @{region} and @{account}
// become the target's; @{=…} references to saved results are left for the runner.
type Namer struct {
	Prefix  string // e.g. "iotlab-k3x9-c7-"
	Account string
	Region  string
}

var template = regexp.MustCompile(`@\{([^}=][^}]*)\}`)

// Expand replaces every @{name} in s.
func (n Namer) Expand(s string) string {
	if !strings.Contains(s, "@{") {
		return s
	}
	return template.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		switch name {
		case "region":
			return n.Region
		case "account":
			return n.Account
		}
		return n.Name(name)
	})
}

// Name is the run's name for a resource: the prefix and the name.
func (n Namer) Name(name string) string { return n.Prefix + name }

// RuleName is the run's name for a topic rule, whose names allow only letters, digits and '_'.
// AWS: API_CreateTopicRule (ruleName pattern ^[a-zA-Z0-9_]+$)
func (n Namer) RuleName(s string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(n.Expand(s))
}
