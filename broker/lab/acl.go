package lab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The ACL file follows Mosquitto 2.0.11's acl_file (mosquitto.conf(5) and src/security_default.c):
//
//	# comment                            (only when '#' is the first character of the line)
//	topic [read|write|readwrite|deny] <topic>
//	user <username>
//	pattern [read|write|readwrite|deny] <topic>   (%c = client id, %u = username)
//
// "topic" lines before the first "user" line apply to clients that connect without a username; after a "user"
// line they apply to that user. "pattern" lines apply to every client. Without an access word the access is
// readwrite, which also means that a topic containing a space needs an explicit access word. Anything not
// granted is denied; within a list "deny" lines are checked before the lines that grant.

// aclAccess is a set of permissions; zero is an explicit "deny".
type aclAccess uint8

const (
	aclRead aclAccess = 1 << iota
	aclWrite

	aclReadWrite = aclRead | aclWrite
	aclDeny      = aclAccess(0)
)

func (a aclAccess) String() string {
	switch a {
	case aclRead:
		return "read"
	case aclWrite:
		return "write"
	case aclReadWrite:
		return "readwrite"
	default:
		return "deny"
	}
}

// aclRule is one "topic" or "pattern" line.
type aclRule struct {
	line   int
	topic  string // a topic filter; for patterns it may contain %c and %u
	access aclAccess
}

// aclTable is a parsed ACL file. It is immutable once parsed and safe for concurrent use.
type aclTable struct {
	file      string
	anonymous []aclRule            // "topic" lines before any "user" line; nil when there are none
	users     map[string][]aclRule // "topic" lines per "user" block
	patterns  []aclRule
}

// aclDecision says whether an access is allowed and which line of the file decided it (0: no line did).
type aclDecision struct {
	Allowed bool
	Line    int
	Reason  string
}

func (d aclDecision) String() string {
	verdict := "denied"
	if d.Allowed {
		verdict = "allowed"
	}
	if d.Line > 0 {
		return fmt.Sprintf("%s by line %d (%s)", verdict, d.Line, d.Reason)
	}
	return fmt.Sprintf("%s (%s)", verdict, d.Reason)
}

// loadACL reads and parses the ACL file at path.
func loadACL(path string) (*aclTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab: acl file: %w", err)
	}
	defer f.Close()
	return parseACL(path, f)
}

// parseACL parses an ACL file; name is used in error messages.
func parseACL(name string, r io.Reader) (*aclTable, error) {
	t := &aclTable{file: name, users: map[string][]aclRule{}}
	var (
		user    string
		inUser  bool
		lineNum int
	)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("lab: acl file %s:%d: %s", name, lineNum, fmt.Sprintf(format, args...))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		lineNum++
		line := strings.TrimRightFunc(sc.Text(), isSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		// Mosquitto splits on spaces only; a tab inside the keyword makes the line invalid there too.
		keyword, rest, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
		rest = strings.TrimLeft(rest, " ")
		switch keyword {
		case "user":
			u := strings.Trim(rest, " \t")
			if u == "" {
				return nil, fail("missing username after \"user\"")
			}
			user, inUser = u, true
		case "topic", "pattern":
			if rest == "" {
				return nil, fail("missing topic after %q", keyword)
			}
			word, topic, hasTopic := strings.Cut(rest, " ")
			access := aclReadWrite
			if hasTopic {
				topic = strings.Trim(topic, " \t")
				switch word {
				case "read":
					access = aclRead
				case "write":
					access = aclWrite
				case "readwrite":
					access = aclReadWrite
				case "deny":
					access = aclDeny
				default:
					return nil, fail("invalid access type %q (want read, write, readwrite or deny; a topic with a space needs one)", word)
				}
			} else {
				topic = word
			}
			if !validFilter(topic) {
				return nil, fail("invalid topic %q ('#' must be the whole last level, '+' a whole level)", topic)
			}
			rule := aclRule{line: lineNum, topic: topic, access: access}
			switch {
			case keyword == "pattern":
				t.patterns = append(t.patterns, rule)
			case inUser:
				t.users[user] = append(t.users[user], rule)
			default:
				t.anonymous = append(t.anonymous, rule)
			}
		default:
			hint := ""
			if strings.HasPrefix(keyword, "#") {
				hint = " (a comment must start in the first column)"
			} else if strings.ContainsAny(keyword, "\t") {
				hint = " (separate words with spaces, not tabs)"
			}
			return nil, fail("invalid line %q%s: want \"topic\", \"pattern\" or \"user\"", line, hint)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lab: acl file %s: %w", name, err)
	}
	// Mosquitto puts "deny" lines in front of each list; the others keep the file order.
	denyFirst := func(rules []aclRule) {
		slices.SortStableFunc(rules, func(a, b aclRule) int {
			switch {
			case a.access == aclDeny && b.access != aclDeny:
				return -1
			case a.access != aclDeny && b.access == aclDeny:
				return 1
			}
			return 0
		})
	}
	denyFirst(t.anonymous)
	denyFirst(t.patterns)
	for _, rules := range t.users {
		denyFirst(rules)
	}
	return t, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// check decides whether the client may read (receive) or write (publish) topic. An empty username means the
// client connected without one.
func (t *aclTable) check(clientID, username, topic string, want aclAccess) aclDecision {
	var rules []aclRule
	if username == "" {
		rules = t.anonymous
	} else {
		rules = t.users[username]
	}
	if rules == nil && len(t.patterns) == 0 {
		return aclDecision{Reason: "no topic lines for this client"}
	}
	for _, r := range rules {
		if !matchTopic(r.topic, topic) {
			continue
		}
		if r.access == aclDeny {
			return aclDecision{Line: r.line, Reason: "topic deny " + r.topic}
		}
		if r.access&want != 0 {
			return aclDecision{Allowed: true, Line: r.line, Reason: "topic " + r.access.String() + " " + r.topic}
		}
	}
	if len(t.patterns) > 0 && (strings.ContainsAny(clientID, "+#") || strings.ContainsAny(username, "+#")) {
		// As Mosquitto: a client id or username with a wildcard could widen a pattern, so patterns deny it.
		return aclDecision{Reason: "client id or username contains '+' or '#'"}
	}
	for _, r := range t.patterns {
		if username == "" && strings.Contains(r.topic, "%u") {
			continue
		}
		filter := expandPattern(r.topic, clientID, username)
		if !matchTopic(filter, topic) {
			continue
		}
		if r.access == aclDeny {
			return aclDecision{Line: r.line, Reason: "pattern deny " + r.topic}
		}
		if r.access&want != 0 {
			return aclDecision{Allowed: true, Line: r.line, Reason: "pattern " + r.access.String() + " " + r.topic}
		}
	}
	return aclDecision{Reason: "no line grants " + want.String()}
}

// expandPattern substitutes %c and %u the way Mosquitto does: left to right, each "%c" or "%u" pair replaced.
func expandPattern(pattern, clientID, username string) string {
	if !strings.Contains(pattern, "%") {
		return pattern
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '%' && i+1 < len(pattern) {
			switch pattern[i+1] {
			case 'c':
				b.WriteString(clientID)
				i++
				continue
			case 'u':
				if username != "" {
					b.WriteString(username)
					i++
					continue
				}
			}
		}
		b.WriteByte(pattern[i])
	}
	return b.String()
}
