package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDocumentChars is the largest policy document AWS accepts, counted in characters without
// whitespace. AWS: API_CreatePolicy ("a maximum length of 2048, excluding whitespace")
const MaxDocumentChars = 2048

// Supported policy language versions. Only VersionCurrent has policy variables.
const (
	VersionCurrent = "2012-10-17"
	VersionLegacy  = "2008-10-17"
)

// Compiled is a parsed, validated policy document, compiled for evaluation. It is immutable and safe
// for concurrent use.
type Compiled struct {
	doc        string
	version    string
	statements []statement
	usesCert   bool // a variable or condition key reads Context.Cert (see UsesCertificate)
}

type statement struct {
	index       int // 1-based position in the document
	sid         string
	deny        bool
	notAction   bool
	actions     []actionPattern
	actionMask  uint32 // bit i: an Action entry matches knownActionNames()[i]
	notResource bool
	resources   []pattern
	conds       []cond
}

// actionPattern is an Action entry, lower-cased: actions match case-insensitively (IAM).
type actionPattern struct {
	raw  string
	text string
	wild bool
}

// StatementInfo describes one statement of a compiled document, for display.
type StatementInfo struct {
	Index       int    // 1-based position in the document
	Sid         string // "" when the statement has none
	Effect      string // "Allow" or "Deny"
	NotAction   bool   // Actions are the NotAction list
	Actions     []string
	NotResource bool // Resources are the NotResource list
	Resources   []string
	Conditions  int // number of (operator, key) pairs
}

// Document returns the policy document as given to Parse.
func (c *Compiled) Document() string { return c.doc }

// Version returns the document's policy language version ("2012-10-17" or "2008-10-17").
func (c *Compiled) Version() string { return c.version }

// Statements describes the statements in document order.
func (c *Compiled) Statements() []StatementInfo {
	out := make([]StatementInfo, len(c.statements))
	for i := range c.statements {
		st := &c.statements[i]
		info := StatementInfo{Index: st.index, Sid: st.sid, Effect: "Allow", NotAction: st.notAction,
			NotResource: st.notResource, Conditions: len(st.conds)}
		if st.deny {
			info.Effect = "Deny"
		}
		for _, a := range st.actions {
			info.Actions = append(info.Actions, a.raw)
		}
		for j := range st.resources {
			info.Resources = append(info.Resources, st.resources[j].raw)
		}
		out[i] = info
	}
	return out
}

// Parse validates an AWS IoT policy document as CreatePolicy and CreatePolicyVersion do and compiles
// it. Errors are *MalformedError. It never panics.
//
// Accepted: a JSON object with "Version" ("2012-10-17" or "2008-10-17"), optional "Id", and
// "Statement" (one object or a non-empty list). Each statement has optional "Sid", "Effect" ("Allow"
// or "Deny"), exactly one of "Action"/"NotAction" and of "Resource"/"NotResource" (a string or a
// non-empty list of strings), and optional "Condition". Element names are case-sensitive.
// "Principal" and "NotPrincipal" are rejected: IoT policies are identity policies.
// AWS: iot-policies, pub-sub-policy (uses NotResource)
func Parse(doc string) (*Compiled, error) {
	// AWS: API_CreatePolicy — 2048 characters "excluding whitespace".
	if n := countNonSpace(doc); n > MaxDocumentChars {
		return nil, malformed(0, fmt.Sprintf("Policy document size of %d characters (excluding whitespace) exceeds the maximum of %d.", n, MaxDocumentChars))
	}
	top, err := decodeObject([]byte(doc))
	if err != nil {
		return nil, malformed(0, "Invalid policy syntax. "+err.Error())
	}
	for k := range top {
		switch k {
		case "Version", "Statement", "Id":
		default:
			return nil, malformed(0, fmt.Sprintf("Invalid policy syntax. Unknown element %q.", k))
		}
	}
	c := &Compiled{doc: doc}
	raw, ok := top["Version"]
	if !ok {
		return nil, malformed(0, `Policy document must have a Version ("2012-10-17").`)
	}
	if err := json.Unmarshal(raw, &c.version); err != nil || (c.version != VersionCurrent && c.version != VersionLegacy) {
		return nil, malformed(0, fmt.Sprintf(`Invalid Version %s: must be "2012-10-17" (or "2008-10-17").`, compact(raw)))
	}
	if raw, ok := top["Id"]; ok {
		var id string
		if json.Unmarshal(raw, &id) != nil {
			return nil, malformed(0, "Invalid policy syntax. Id must be a string.")
		}
	}
	raw, ok = top["Statement"]
	if !ok {
		return nil, malformed(0, "Policy document must have a Statement.")
	}
	var stmts []json.RawMessage
	switch firstByte(raw) {
	case '{':
		stmts = []json.RawMessage{raw}
	case '[':
		if err := json.Unmarshal(raw, &stmts); err != nil {
			return nil, malformed(0, "Invalid policy syntax. Statement must be an object or a list of objects.")
		}
	default:
		return nil, malformed(0, "Invalid policy syntax. Statement must be an object or a list of objects.")
	}
	if len(stmts) == 0 {
		return nil, malformed(0, "Policy document must have at least one Statement.")
	}
	vars := c.version == VersionCurrent // IAM: policy variables need "Version": "2012-10-17"
	c.statements = make([]statement, len(stmts))
	for i, raw := range stmts {
		if err := c.statements[i].compile(i+1, raw, vars); err != nil {
			return nil, err
		}
		c.usesCert = c.usesCert || c.statements[i].readsCert()
	}
	return c, nil
}

func (st *statement) compile(index int, raw json.RawMessage, vars bool) error {
	st.index = index
	bad := func(format string, args ...any) error { return malformed(index, fmt.Sprintf(format, args...)) }
	obj, err := decodeObject(raw)
	if err != nil {
		return bad("Invalid policy syntax. Statement %d must be an object.", index)
	}
	for k := range obj {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "Principal", "NotPrincipal":
			return bad("Invalid policy syntax. %s is not supported in an AWS IoT policy (statement %d).", k, index)
		default:
			return bad("Invalid policy syntax. Unknown element %q in statement %d.", k, index)
		}
	}
	if raw, ok := obj["Sid"]; ok {
		if json.Unmarshal(raw, &st.sid) != nil {
			return bad("Invalid policy syntax. Sid must be a string (statement %d).", index)
		}
	}
	var effect string
	rawEffect, ok := obj["Effect"]
	if !ok {
		return bad(`Policy statement must contain an Effect ("Allow" or "Deny") (statement %d).`, index)
	}
	if json.Unmarshal(rawEffect, &effect) != nil || (effect != "Allow" && effect != "Deny") {
		return bad(`Invalid Effect %s in statement %d: must be "Allow" or "Deny".`, compact(rawEffect), index)
	}
	st.deny = effect == "Deny"

	// Action / NotAction
	actions, notAction, err := exactlyOne(obj, "Action", "NotAction")
	if err != nil {
		return bad("%s (statement %d).", err, index)
	}
	st.notAction = notAction
	for _, a := range actions {
		if !validAction(a) {
			return bad("Invalid action %q in statement %d: expected \"*\" or service:action, e.g. \"iot:Publish\".", a, index)
		}
		lower := strings.ToLower(a)
		st.actions = append(st.actions, actionPattern{raw: a, text: lower, wild: strings.ContainsAny(lower, "*?")})
	}
	for i, name := range knownActionNames() {
		for j := range st.actions {
			if st.actions[j].match(name) {
				st.actionMask |= 1 << i
				break
			}
		}
	}

	// Resource / NotResource
	resources, notResource, err := exactlyOne(obj, "Resource", "NotResource")
	if err != nil {
		return bad("%s (statement %d).", err, index)
	}
	st.notResource = notResource
	for _, r := range resources {
		if !validResource(r) {
			// AWS wording, observed: github.com/awsdocs/aws-iot-docs/pull/46
			return bad("The resource %s is not in valid ARN format", r)
		}
		st.resources = append(st.resources, compilePattern(r, true, vars))
	}

	if raw, ok := obj["Condition"]; ok {
		if st.conds, err = compileConditions(raw, vars); err != nil {
			return bad("%s (statement %d).", err, index)
		}
	}
	return nil
}

// exactlyOne reads the string-or-list element named a or b; exactly one must be present.
func exactlyOne(obj map[string]json.RawMessage, a, b string) (vals []string, isB bool, err error) {
	ra, okA := obj[a]
	rb, okB := obj[b]
	switch {
	case okA && okB:
		return nil, false, fmt.Errorf("Invalid policy syntax. A statement cannot have both %s and %s", a, b)
	case !okA && !okB:
		return nil, false, fmt.Errorf("Policy statement must contain %s", strings.ToLower(a)+"s")
	case okB:
		ra, a, isB = rb, b, true
	}
	vals, ok := stringOrList(ra)
	if !ok {
		return nil, false, fmt.Errorf("Invalid policy syntax. %s must be a string or a list of strings", a)
	}
	if len(vals) == 0 {
		return nil, false, fmt.Errorf("%s must not be empty", a)
	}
	return vals, isB, nil
}

func stringOrList(raw json.RawMessage) ([]string, bool) {
	switch firstByte(raw) {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	case '[':
		var list []string
		if json.Unmarshal(raw, &list) != nil {
			return nil, false
		}
		return list, true
	}
	return nil, false
}

// validAction accepts "*" and "service:action", where action may hold wildcards.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || service == "" || name == "" || strings.Contains(name, ":") {
		return false
	}
	for _, r := range service {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '*' || r == '?' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validResource accepts "*" and anything shaped like an ARN (arn:partition:service:region:account:…).
func validResource(r string) bool {
	if r == "*" {
		return true
	}
	_, ok := arnParts(r)
	return ok && strings.HasPrefix(r, "arn:")
}

func compileConditions(raw json.RawMessage, vars bool) ([]cond, error) {
	ops, err := decodeObject(raw)
	if err != nil {
		return nil, errors.New("Invalid policy syntax. Condition must be an object of operators")
	}
	var conds []cond
	for op, rawKeys := range ops {
		proto, ok := parseOperator(op)
		if !ok {
			return nil, fmt.Errorf("Invalid Condition type : %s", op)
		}
		keys, err := decodeObject(rawKeys)
		if err != nil || len(keys) == 0 {
			return nil, fmt.Errorf("Invalid policy syntax. Condition %s must be an object of condition keys", op)
		}
		for key, rawVals := range keys {
			if key == "" {
				return nil, fmt.Errorf("Invalid policy syntax. Empty condition key under %s", op)
			}
			vals, ok := conditionValues(rawVals)
			if !ok {
				return nil, fmt.Errorf("Invalid policy syntax. Condition %s %s must have a string, number or boolean value, or a non-empty list of them", op, key)
			}
			c := proto
			c.keyName = key
			c.key, _ = parseVarName(key)
			for _, v := range vals {
				c.values = append(c.values, compileCondValue(c.kind, v, vars))
			}
			conds = append(conds, c)
		}
	}
	// Deterministic order (JSON objects are unordered): by operator, then key.
	slices.SortFunc(conds, func(a, b cond) int {
		if n := strings.Compare(a.operator, b.operator); n != 0 {
			return n
		}
		return strings.Compare(a.keyName, b.keyName)
	})
	return conds, nil
}

// conditionValues reads a condition value: a string, number or boolean, or a non-empty list of them.
func conditionValues(raw json.RawMessage) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	scalar := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		case bool:
			if v {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, false
		}
		out := make([]string, 0, len(list))
		for _, e := range list {
			s, ok := scalar(e)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	s, ok := scalar(v)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

// decodeObject decodes exactly one JSON object (nothing may follow it) into its members.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if firstByte(data) != '{' {
		return nil, errors.New("The policy document must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("Unexpected data after the JSON object at offset %d.", dec.InputOffset())
	}
	return obj, nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("JSON syntax error at offset %d: %s.", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("Unexpected end of JSON input.")
	}
	return fmt.Errorf("%s.", strings.TrimPrefix(err.Error(), "json: "))
}

func firstByte(data []byte) byte {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func countNonSpace(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			n++
		}
		i += size
	}
	return n
}

// compact shortens a raw JSON value for an error message.
func compact(raw json.RawMessage) string {
	s := []rune(strings.TrimSpace(string(raw)))
	if len(s) > 40 {
		return string(s[:40]) + "…"
	}
	return string(s)
}
