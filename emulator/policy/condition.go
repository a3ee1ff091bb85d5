package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition evaluation follows IAM (AWS: iot-policies — "the same policy evaluation logic as IAM"):
//
//   - every operator of a Condition block, and every key under an operator, must hold (AND);
//     the values listed for one key are alternatives (OR);
//   - a negated operator (StringNotEquals, StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress,
//     ArnNotEquals, ArnNotLike) holds when no listed value matches;
//   - a key absent from the request: the operator is false, a negated operator true, …IfExists true;
//     Null tests presence ("true" = must be absent);
//   - ForAllValues: holds when every request value satisfies the operator — also when there are none;
//     ForAnyValue: holds when at least one does — never when there are none;
//   - a multi-valued key used without a set operator behaves as ForAnyValue for positive operators,
//     and a negated operator is then the complement (no request value matches any listed value);
//   - condition keys AWS IoT does not define are absent.

type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike // ArnEquals and ArnLike behave alike in IAM: both accept wildcards per ARN component
	opNull
)

// lookupOperator resolves an IAM condition operator name without its ForAllValues:/ForAnyValue:
// prefix and IfExists suffix.
func lookupOperator(name string) (kind opKind, negated, ok bool) {
	switch name {
	case "StringEquals":
		return opStringEquals, false, true
	case "StringNotEquals":
		return opStringEquals, true, true
	case "StringEqualsIgnoreCase":
		return opStringEqualsIgnoreCase, false, true
	case "StringNotEqualsIgnoreCase":
		return opStringEqualsIgnoreCase, true, true
	case "StringLike":
		return opStringLike, false, true
	case "StringNotLike":
		return opStringLike, true, true
	case "NumericEquals":
		return opNumericEquals, false, true
	case "NumericNotEquals":
		return opNumericEquals, true, true
	case "NumericLessThan":
		return opNumericLessThan, false, true
	case "NumericLessThanEquals":
		return opNumericLessThanEquals, false, true
	case "NumericGreaterThan":
		return opNumericGreaterThan, false, true
	case "NumericGreaterThanEquals":
		return opNumericGreaterThanEquals, false, true
	case "DateEquals":
		return opDateEquals, false, true
	case "DateNotEquals":
		return opDateEquals, true, true
	case "DateLessThan":
		return opDateLessThan, false, true
	case "DateLessThanEquals":
		return opDateLessThanEquals, false, true
	case "DateGreaterThan":
		return opDateGreaterThan, false, true
	case "DateGreaterThanEquals":
		return opDateGreaterThanEquals, false, true
	case "Bool":
		return opBool, false, true
	case "BinaryEquals":
		return opBinaryEquals, false, true
	case "IpAddress":
		return opIPAddress, false, true
	case "NotIpAddress":
		return opIPAddress, true, true
	case "ArnEquals", "ArnLike":
		return opArnLike, false, true
	case "ArnNotEquals", "ArnNotLike":
		return opArnLike, true, true
	case "Null":
		return opNull, false, true
	}
	return 0, false, false
}

type setOp uint8

const (
	setNone setOp = iota
	setForAllValues
	setForAnyValue
)

// cond is one (operator, key) pair of a Condition block with its listed values.
type cond struct {
	operator string // as written, e.g. "ForAnyValue:StringLike"
	keyName  string // as written
	kind     opKind
	negated  bool
	set      setOp
	ifExists bool
	key      varRef // kind varUnknown for keys AWS IoT does not define
	values   []condValue
}

type condValue struct {
	pat pattern // the value; wildcards only for StringLike / Arn*
	// arn is the value in MatchResource syntax for Arn* operators without variables.
	arn string
	// Pre-parsed forms for values without variables.
	num      float64
	numOK    bool
	date     time.Time
	dateOK   bool
	prefix   netip.Prefix
	prefixOK bool
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(op string) (c cond, ok bool) {
	c.operator = op
	name := op
	if rest, found := strings.CutPrefix(name, "ForAllValues:"); found {
		c.set, name = setForAllValues, rest
	} else if rest, found := strings.CutPrefix(name, "ForAnyValue:"); found {
		c.set, name = setForAnyValue, rest
	}
	if base, found := strings.CutSuffix(name, "IfExists"); found && base != "Null" {
		c.ifExists, name = true, base
	}
	c.kind, c.negated, ok = lookupOperator(name)
	return c, ok
}

func compileCondValue(kind opKind, s string, vars bool) condValue {
	wild := kind == opStringLike || kind == opArnLike
	cv := condValue{pat: compilePattern(s, wild, vars)}
	if cv.pat.hasVar {
		return cv
	}
	text := cv.pat.text(nil)
	switch kind {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		cv.num, cv.numOK = parseNumber(text)
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		cv.date, cv.dateOK = parseDate(text)
	case opIPAddress:
		cv.prefix, cv.prefixOK = parsePrefix(text)
	case opArnLike:
		cv.arn = cv.pat.render(nil)
	}
	return cv
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// parseDate accepts the IAM date forms: ISO 8601 (RFC 3339 and date-only) and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parsePrefix accepts a CIDR block or a bare address.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// eval reports whether the condition holds for the request.
func (c *cond) eval(ctx *Context) bool {
	kv, present := c.key.values(ctx)
	if c.kind == opNull {
		for i := range c.values {
			// "true": the key must be absent; "false": present. AWS: use-policy-variables
			want := strings.EqualFold(c.values[i].pat.raw, "true")
			if !want && !strings.EqualFold(c.values[i].pat.raw, "false") {
				continue
			}
			if want != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setForAllValues:
			return true
		case c.set == setForAnyValue:
			return false
		}
		return c.negated
	}
	n := kv.len()
	switch c.set {
	case setForAllValues:
		for i := 0; i < n; i++ {
			if c.matchAny(kv.at(i), ctx) == c.negated {
				return false
			}
		}
		return true
	case setForAnyValue:
		for i := 0; i < n; i++ {
			if c.matchAny(kv.at(i), ctx) != c.negated {
				return true
			}
		}
		return false
	}
	for i := 0; i < n; i++ {
		if c.matchAny(kv.at(i), ctx) {
			return !c.negated
		}
	}
	return c.negated
}

// matchAny reports whether the request value v matches one of the listed values under the positive
// form of the operator.
func (c *cond) matchAny(v string, ctx *Context) bool {
	for i := range c.values {
		if c.matchOne(v, &c.values[i], ctx) {
			return true
		}
	}
	return false
}

func (c *cond) matchOne(v string, cv *condValue, ctx *Context) bool {
	switch c.kind {
	case opStringEquals, opStringLike:
		return cv.pat.match(v, ctx, false)
	case opStringEqualsIgnoreCase:
		return cv.pat.match(v, ctx, true)
	case opBool:
		return strings.EqualFold(v, cv.pat.text(ctx))
	case opBinaryEquals:
		return v == cv.pat.text(ctx)
	case opArnLike:
		arn := cv.arn
		if cv.pat.hasVar {
			arn = cv.pat.render(ctx)
		}
		return matchARN(arn, v)
	case opIPAddress:
		p, ok := cv.prefix, cv.prefixOK
		if cv.pat.hasVar {
			p, ok = parsePrefix(cv.pat.text(ctx))
		}
		a, err := netip.ParseAddr(v)
		return ok && err == nil && p.Contains(a.Unmap().WithZone(""))
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		want, ok := cv.num, cv.numOK
		if cv.pat.hasVar {
			want, ok = parseNumber(cv.pat.text(ctx))
		}
		got, gotOK := parseNumber(v)
		if !ok || !gotOK {
			return false
		}
		switch c.kind {
		case opNumericEquals:
			return got == want
		case opNumericLessThan:
			return got < want
		case opNumericLessThanEquals:
			return got <= want
		case opNumericGreaterThan:
			return got > want
		default:
			return got >= want
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		want, ok := cv.date, cv.dateOK
		if cv.pat.hasVar {
			want, ok = parseDate(cv.pat.text(ctx))
		}
		got, gotOK := parseDate(v)
		if !ok || !gotOK {
			return false
		}
		switch c.kind {
		case opDateEquals:
			return got.Equal(want)
		case opDateLessThan:
			return got.Before(want)
		case opDateLessThanEquals:
			return !got.After(want)
		case opDateGreaterThan:
			return got.After(want)
		default:
			return !got.Before(want)
		}
	}
	return false
}

// matchARN matches an ARN against an ARN pattern component by component (arn:partition:service:region:
// account:resource), each component with MatchResource rules, as IAM's ArnLike does: a '*' does not
// reach into the next component. "*" matches everything; a pattern with fewer than six components
// matches only a value that has fewer too, compared whole.
func matchARN(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	pp, pok := arnParts(pattern)
	ap, aok := arnParts(arn)
	if !pok || !aok {
		return !pok && !aok && MatchResource(pattern, arn)
	}
	for i := range pp {
		if !MatchResource(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

func arnParts(s string) (parts [6]string, ok bool) {
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return parts, false
		}
		parts[i], s = s[:j], s[j+1:]
	}
	parts[5] = s
	return parts, true
}
