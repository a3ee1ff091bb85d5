package sql

import (
	"bytes"
	"math"
	"regexp"
	"time"
)

// Env is what a statement's functions see of the message and of the rules engine. The payload is
// not part of it: it is the argument of Evaluate and Expand, and * and field names read it. Zero
// fields make their functions return Undefined, except where noted.
type Env struct {
	// Topic is the topic the message was published to, for topic() and topic(n). For a Basic Ingest
	// message it is the topic without its "$aws/rules/<ruleName>/" prefix (see SplitBasicIngest).
	Topic string
	// ClientID is the MQTT client ID of the publisher, for clientid(). Empty means the message did
	// not come over MQTT (an HTTP publish), and clientid() returns "n/a" (AWS: iot-sql-functions).
	ClientID string
	// Principal is what principal() returns: the certificate ID (hex SHA-256 thumbprint) for an
	// X.509 client, the user ID or "roleId:sessionName" for SigV4 callers.
	Principal string
	// Timestamp is the rules engine's clock reading for this message; timestamp() returns it in
	// milliseconds since the Unix epoch.
	Timestamp time.Time
	// NewUUID returns a fresh random UUID for newuuid(); each call must return a new one.
	NewUUID func() string
	// Rand returns a pseudorandom number in [0, 1) for rand().
	Rand func() float64
	// AccountID is the rule owner's account, for accountid().
	AccountID string
	// SourceIP is the publisher's IP address, for sourceip().
	SourceIP string
	// TraceID is the message's trace ID, for traceid(); AWS gives Undefined for non-MQTT messages.
	TraceID string
}

// evalCtx is the state of one evaluation: the message and the first error met.
type evalCtx struct {
	env     Env
	payload []byte
	root    value // the payload: JSON value, Binary, or Undefined when empty
	err     error
}

func (c *evalCtx) fail(err *EvalError) value {
	if c.err == nil {
		c.err = err
	}
	return undefined
}

// newEvalCtx parses the payload once. A payload that is not JSON is Binary; an empty payload is
// Undefined, so that SELECT *, x AS y gives {"y":…} (AWS: binary-payloads — "If you have an empty
// or a JSON payload, the resulting payload can have data added").
func newEvalCtx(payload []byte, env Env) *evalCtx {
	c := &evalCtx{env: env, payload: payload}
	if len(payload) > 0 {
		src := string(payload) // one copy; the parsed strings share it
		if v, ok := parseJSON(src); ok {
			c.root = v
		} else {
			c.root = value{k: kBinary, s: src}
		}
	}
	return c
}

// Evaluate runs the statement on one message. The WHERE clause is evaluated first; ok reports
// whether it was true (Undefined and false both mean the rule's actions do not run; AWS:
// iot-sql-where). When ok, out is the SELECT result: a JSON document, or for SELECT * on a payload
// that is not a JSON object the payload bytes unchanged, or for SELECT VALUE of Undefined nothing.
//
// err is an *EvalError when a function cannot run here (aws_lambda, get_dynamodb, …: ErrNotLocal)
// or when the SELECT list reads fields of a binary payload (ErrBinaryPayload); ok then tells whether
// the failure happened after WHERE passed, which is when AWS runs the rule's error action.
func (s *Statement) Evaluate(payload []byte, env Env) (out []byte, ok bool, err error) {
	c := newEvalCtx(payload, env)
	if s.where != nil {
		w := s.where.eval(c, &c.root)
		if c.err != nil {
			return nil, false, c.err
		}
		if b, isBool := toBool(w); !isBool || !b {
			return nil, false, nil
		}
	}
	if s.passThrough {
		return bytes.Clone(payload), true, nil
	}
	if c.root.k == kBinary && s.readsFields {
		return nil, true, &EvalError{kind: ErrBinaryPayload,
			Message: "the payload is not JSON: with a binary payload the SELECT clause can use *, encode(*, 'base64') and functions, not payload fields"}
	}
	if s.sel.value {
		v := s.sel.items[0].e.eval(c, &c.root)
		if c.err != nil {
			return nil, true, c.err
		}
		if v.k == kBinary {
			return bytes.Clone(payload), true, nil
		}
		return appendJSON([]byte{}, v), true, nil
	}
	for _, it := range s.sel.items {
		// A payload that is not a JSON object cannot take added fields: SELECT *, … passes it
		// through unchanged (AWS: binary-payloads).
		if it.star && c.root.k != kObject && c.root.k != kUndefined {
			return bytes.Clone(payload), true, nil
		}
	}
	res := project(c, &s.sel, &c.root)
	if c.err != nil {
		return nil, true, c.err
	}
	return appendJSON(make([]byte, 0, len(payload)+64), res), true, nil
}

// project evaluates a SELECT list against the document cur.
func project(c *evalCtx, sel *selectClause, cur *value) value {
	if sel.value {
		return sel.items[0].e.eval(c, cur)
	}
	n := len(sel.items)
	if cur.k == kObject {
		n += len(cur.obj.members)
	}
	o := newObject(n)
	for _, it := range sel.items {
		if it.star {
			if cur.k == kObject {
				for _, m := range cur.obj.members {
					o.set(m.key, m.v)
				}
			}
			continue
		}
		v := it.e.eval(c, cur)
		if v.k == kUndefined {
			continue // AWS: iot-sql-data-types — Undefined is omitted from the output
		}
		if v.k == kBinary {
			continue // * of a binary payload has no JSON form but base64 (encode)
		}
		setPath(o, it.path, v)
	}
	return vObject(o)
}

// setPath sets o[path[0]]…[path[n-1]] = v, creating objects on the way and copying any existing one
// it descends into (objects may be shared with the payload).
func setPath(o *object, path []string, v value) {
	for len(path) > 1 {
		next, ok := o.get(path[0])
		var child *object
		if ok && next.k == kObject {
			child = next.obj.clone()
		} else {
			child = &object{}
		}
		o.set(path[0], vObject(child))
		o, path = child, path[1:]
	}
	o.set(path[0], v)
}

// Expression nodes.

type expr interface {
	eval(c *evalCtx, cur *value) value
}

type litExpr struct{ v value }

func (e *litExpr) eval(*evalCtx, *value) value { return e.v }

// starExpr is * used as a value: the current document (the payload, or the item of a nested
// SELECT).
type starExpr struct{}

func (starExpr) eval(_ *evalCtx, cur *value) value { return *cur }

// fieldExpr is name (base nil: a field of the current document) or base.name.
type fieldExpr struct {
	base expr
	name string
}

func (e *fieldExpr) eval(c *evalCtx, cur *value) value {
	var doc value
	if e.base == nil {
		doc = *cur
	} else {
		doc = e.base.eval(c, cur)
	}
	if doc.k != kObject {
		return undefined
	}
	v, _ := doc.obj.get(e.name)
	return v
}

// indexExpr is base[index]: an Array item (0-based) or, as get() does, an Object member or a String
// character.
type indexExpr struct{ base, index expr }

func (e *indexExpr) eval(c *evalCtx, cur *value) value {
	return getItem(e.base.eval(c, cur), e.index.eval(c, cur))
}

type negExpr struct{ x expr }

func (e *negExpr) eval(c *evalCtx, cur *value) value {
	n, ok := toNumber(e.x.eval(c, cur))
	if !ok {
		return undefined
	}
	return negate(n)
}

type notExpr struct{ x expr }

// AWS: iot-sql-operators (NOT) — a Boolean or a "true"/"false" String, else Undefined.
func (e *notExpr) eval(c *evalCtx, cur *value) value {
	b, ok := toBool(e.x.eval(c, cur))
	if !ok {
		return undefined
	}
	return vBool(!b)
}

// logicExpr is AND or OR. Both operands must be Booleans (or "true"/"false" Strings), else the
// result is Undefined — even for false AND Undefined (AWS: iot-sql-operators tables).
type logicExpr struct {
	or   bool
	l, r expr
}

func (e *logicExpr) eval(c *evalCtx, cur *value) value {
	l, lok := toBool(e.l.eval(c, cur))
	r, rok := toBool(e.r.eval(c, cur))
	if !lok || !rok {
		return undefined
	}
	if e.or {
		return vBool(l || r)
	}
	return vBool(l && r)
}

type isExpr struct {
	x    expr
	what kind // kNull or kUndefined
	not  bool
}

func (e *isExpr) eval(c *evalCtx, cur *value) value {
	return vBool((e.x.eval(c, cur).k == e.what) != e.not)
}

// inExpr is x IN array: true when an item of the array equals x.
type inExpr struct {
	x, list expr
	not     bool
}

func (e *inExpr) eval(c *evalCtx, cur *value) value {
	x, list := e.x.eval(c, cur), e.list.eval(c, cur)
	if x.k == kUndefined || list.k != kArray {
		return undefined
	}
	for _, item := range list.arr {
		if item.k != kUndefined && equal(x, item) {
			return vBool(!e.not)
		}
	}
	return vBool(e.not)
}

type arrayExpr struct{ items []expr }

func (e *arrayExpr) eval(c *evalCtx, cur *value) value {
	a := make([]value, 0, len(e.items))
	for _, it := range e.items {
		a = append(a, it.eval(c, cur))
	}
	return vArray(a)
}

type objectExpr struct {
	keys []string
	vals []expr
}

func (e *objectExpr) eval(c *evalCtx, cur *value) value {
	o := newObject(len(e.keys))
	for i, k := range e.keys {
		if v := e.vals[i].eval(c, cur); v.k != kUndefined {
			o.set(k, v)
		}
	}
	return vObject(o)
}

// caseExpr: the first WHEN constant equal to the subject gives the result; without a match the
// ELSE result, else Undefined; an Undefined subject gives Undefined (AWS: iot-sql-case).
type caseExpr struct {
	subject expr
	whens   []value
	thens   []expr
	els     expr
}

func (e *caseExpr) eval(c *evalCtx, cur *value) value {
	v := e.subject.eval(c, cur)
	if v.k == kUndefined {
		return undefined
	}
	for i, w := range e.whens {
		if equal(v, w) {
			return e.thens[i].eval(c, cur)
		}
	}
	if e.els != nil {
		return e.els.eval(c, cur)
	}
	return undefined
}

type castExpr struct {
	x  expr
	to kind
}

func (e *castExpr) eval(c *evalCtx, cur *value) value { return cast(e.x.eval(c, cur), e.to) }

// selectExpr is a nested SELECT over the items of an array (AWS: iot-sql-nested-queries): each item
// for which WHERE holds gives one element of the result, an object of the SELECT list or, with
// VALUE, the value itself.
type selectExpr struct {
	sel   selectClause
	from  expr
	where expr
}

func (e *selectExpr) eval(c *evalCtx, cur *value) value {
	src := e.from.eval(c, cur)
	if src.k != kArray {
		return undefined
	}
	out := make([]value, 0, len(src.arr))
	for i := range src.arr {
		item := &src.arr[i]
		if e.where != nil {
			if b, ok := toBool(e.where.eval(c, item)); !ok || !b {
				continue
			}
		}
		if v := project(c, &e.sel, item); v.k != kUndefined {
			out = append(out, v)
		}
	}
	return vArray(out)
}

type callExpr struct {
	fn   *function
	args []expr
	// re is the compiled regular expression when the pattern argument is a constant.
	re      *regexp.Regexp
	reErr   error
	reConst bool
}

func (e *callExpr) eval(c *evalCtx, cur *value) value {
	if e.fn.lazy != nil {
		return e.fn.lazy(c, cur, e)
	}
	var buf [4]value
	args := buf[:0]
	for _, a := range e.args {
		args = append(args, a.eval(c, cur))
	}
	if c.err != nil {
		return undefined
	}
	// AWS: iot-sql-data-types — "Functions called with invalid arguments (for example, wrong types,
	// wrong number of arguments, and so on) return Undefined."
	if len(args) < e.fn.min || e.fn.max >= 0 && len(args) > e.fn.max {
		if e.fn.notLocal != "" {
			return c.fail(notLocal(e.fn))
		}
		return undefined
	}
	return e.fn.call(c, e, args)
}

type binOp uint8

const (
	_ binOp = iota
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
)

type binExpr struct {
	op   binOp
	l, r expr
}

func (e *binExpr) eval(c *evalCtx, cur *value) value {
	return binary(e.op, e.l.eval(c, cur), e.r.eval(c, cur))
}

func binary(op binOp, l, r value) value {
	switch op {
	case opEq, opNe:
		// AWS: iot-sql-operators ("=" and "<>") — Undefined on either side gives Undefined.
		if l.k == kUndefined || r.k == kUndefined {
			return undefined
		}
		return vBool(equal(l, r) == (op == opEq))
	case opLt, opLe, opGt, opGe:
		return compare(op, l, r)
	case opAdd:
		// AWS: iot-sql-operators ("+") — with a String on either side, concatenation.
		if l.k == kString || r.k == kString {
			ls, lok := toString(l)
			rs, rok := toString(r)
			if !lok || !rok || l.k == kBinary || r.k == kBinary {
				return undefined
			}
			return vString(ls + rs)
		}
		return arith(op, l, r)
	}
	return arith(op, l, r)
}

// compare: both operands converted to Decimal (Strings that look like numbers included), else
// Undefined (AWS: iot-sql-operators, "<" ">" "<=" ">=").
func compare(op binOp, l, r value) value {
	var c int
	if l.k == kInt && r.k == kInt {
		switch {
		case l.i < r.i:
			c = -1
		case l.i > r.i:
			c = 1
		}
	} else {
		lf, lok := toDecimal(l)
		rf, rok := toDecimal(r)
		if !lok || !rok {
			return undefined
		}
		switch {
		case lf < rf:
			c = -1
		case lf > rf:
			c = 1
		}
	}
	switch op {
	case opLt:
		return vBool(c < 0)
	case opLe:
		return vBool(c <= 0)
	case opGt:
		return vBool(c > 0)
	}
	return vBool(c >= 0)
}

// arith: Int op Int gives an Int (integer division truncates; an overflow gives a Decimal); any
// Decimal or numeric String gives a Decimal; anything else, or a division by zero, Undefined.
// AWS: iot-sql-operators ("+", "-", "*", "/", "%").
func arith(op binOp, l, r value) value {
	if l.k == kInt && r.k == kInt {
		a, b := l.i, r.i
		switch op {
		case opAdd:
			if s := a + b; (s > a) == (b > 0) {
				return vInt(s)
			}
		case opSub:
			if s := a - b; (s < a) == (b > 0) {
				return vInt(s)
			}
		case opMul:
			if a == 0 || b == 0 {
				return vInt(0)
			}
			if p := a * b; p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64) {
				return vInt(p)
			}
		case opDiv:
			if b == 0 {
				return undefined
			}
			if !(a == math.MinInt64 && b == -1) {
				return vInt(a / b)
			}
		case opMod:
			if b == 0 {
				return undefined
			}
			if b == -1 {
				return vInt(0)
			}
			return vInt(a % b)
		}
		// Overflow: compute as Decimal.
	}
	if op == opAdd && (l.k == kString || r.k == kString) {
		return undefined // handled by binary; a String here cannot be added
	}
	if op == opAdd && !(l.isNumber() && r.isNumber()) {
		return undefined // "+" documents no String-to-Decimal conversion: "Other value" → Undefined
	}
	a, aok := toDecimal(l)
	b, bok := toDecimal(r)
	if !aok || !bok {
		return undefined
	}
	switch op {
	case opAdd:
		return vDecimal(a + b)
	case opSub:
		return vDecimal(a - b)
	case opMul:
		return vDecimal(a * b)
	case opDiv:
		if b == 0 {
			return undefined
		}
		return vDecimal(a / b)
	case opMod:
		if b == 0 {
			return undefined
		}
		return vDecimal(math.Mod(a, b))
	}
	return undefined
}

// getItem is get(collection, key) and collection[key] (AWS: iot-sql-functions#iot-sql-function-get):
// an Array item at a 0-based index converted to Int, a String's character likewise, an Object's
// member under a String key (no conversion).
func getItem(coll, key value) value {
	switch coll.k {
	case kArray:
		i, ok := toIntStandard(key)
		if !ok || i < 0 || i >= int64(len(coll.arr)) {
			return undefined
		}
		return coll.arr[i]
	case kString:
		i, ok := toIntStandard(key)
		if !ok || i < 0 {
			return undefined
		}
		n := int64(0)
		for _, r := range coll.s {
			if n == i {
				return vString(string(r))
			}
			n++
		}
		return undefined
	case kObject:
		if key.k != kString {
			return undefined
		}
		v, _ := coll.obj.get(key.s)
		return v
	}
	return undefined
}

// cast converts v to the kind named in cast(v AS type) (AWS: iot-sql-functions#iot-sql-function-cast).
// Cast differs from the standard conversions in turning numbers into Booleans and back; Null and
// Undefined cast to Undefined.
func cast(v value, to kind) value {
	switch to {
	case kString:
		if v.k == kNull || v.k == kBinary {
			return undefined
		}
		s, ok := toString(v)
		if !ok {
			return undefined
		}
		return vString(s)
	case kInt:
		switch v.k {
		case kBool:
			if v.b {
				return vInt(1)
			}
			return vInt(0)
		case kInt:
			return v
		}
		f, ok := toDecimal(v)
		if !ok {
			return undefined
		}
		return vWhole(math.Floor(f)) // "rounded down to the nearest Int"
	case kDecimal:
		switch v.k {
		case kBool:
			if v.b {
				return vInt(1) // 1.0 is processed as the Int 1 in SQL version 2016-03-23
			}
			return vInt(0)
		case kInt, kDecimal:
			return v
		case kString:
			f, ok := parseDecimalString(v.s)
			if !ok {
				return undefined
			}
			return numberValue(v.s, false).orDecimal(f)
		}
		return undefined
	case kBool:
		switch v.k {
		case kBool:
			return v
		case kInt:
			return vBool(v.i != 0)
		case kDecimal:
			return vBool(v.f != 0)
		case kString:
			if b, ok := toBool(v); ok {
				return vBool(b)
			}
		}
		return undefined
	}
	return undefined
}

func (v value) orDecimal(f float64) value {
	if v.k == kUndefined {
		return vDecimal(f)
	}
	return v
}
