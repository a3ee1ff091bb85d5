package shadow

import (
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// The package holds JSON as plain Go values: nil, bool, json.Number (the literal text, so 1.50 stays
// 1.50), string, []any and *object, plus int64 and int for the numbers it writes itself (versions,
// timestamps, codes). Objects keep their members in order because AWS's documents
// do: an accepted update echoes the request's keys in the request's order, and a stored document
// keeps the order in which keys first appeared (new keys go last).

// object is a JSON object that remembers the order of its members. Most shadow objects are small,
// so members are found by a linear scan; an index is built once an object grows past indexAt.
type object struct {
	keys  []string
	vals  []any          // vals[i] is the value of keys[i]
	index map[string]int // nil below indexAt members
}

const indexAt = 16

func newObject() *object { return &object{} }

// members builds an object from key, value pairs, skipping pairs whose value is omitted.
func members(kv ...any) *object {
	o := newObject()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == omitted {
			continue
		}
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

// omitted marks a member that members leaves out.
var omitted = &struct{ _ byte }{}

func (o *object) len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

func (o *object) find(key string) int {
	if o == nil {
		return -1
	}
	if o.index != nil {
		if i, ok := o.index[key]; ok {
			return i
		}
		return -1
	}
	return slices.Index(o.keys, key)
}

func (o *object) get(key string) (any, bool) {
	if i := o.find(key); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// set adds or replaces a member; a replaced member keeps its position.
func (o *object) set(key string, v any) {
	if i := o.find(key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	if o.index != nil {
		o.index[key] = len(o.keys) - 1
	} else if len(o.keys) > indexAt {
		o.reindex()
	}
}

func (o *object) del(key string) {
	i := o.find(key)
	if i < 0 {
		return
	}
	o.keys = slices.Delete(o.keys, i, i+1)
	o.vals = slices.Delete(o.vals, i, i+1)
	if o.index != nil {
		o.reindex()
	}
}

func (o *object) reindex() {
	o.index = make(map[string]int, len(o.keys))
	for i, k := range o.keys {
		o.index[k] = i
	}
}

// MarshalJSON lets encoding/json store objects (inside Stored) with their order.
func (o *object) MarshalJSON() ([]byte, error) { return appendJSON(nil, o), nil }

// UnmarshalJSON reads an object written by MarshalJSON.
func (o *object) UnmarshalJSON(b []byte) error {
	v, err := decodeJSON(b)
	if err != nil {
		return err
	}
	obj, ok := v.(*object)
	if !ok {
		return errors.New("shadow: stored section is not a JSON object")
	}
	*o = *obj
	return nil
}

// clone copies a JSON value deeply, so that Update never shares trees with its input.
func clone(v any) any {
	switch v := v.(type) {
	case *object:
		if v == nil {
			return (*object)(nil)
		}
		c := &object{keys: slices.Clone(v.keys), vals: make([]any, len(v.vals))}
		for i, x := range v.vals {
			c.vals[i] = clone(x)
		}
		if v.index != nil {
			c.reindex()
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = clone(x)
		}
		return c
	default:
		return v
	}
}

func cloneObject(o *object) *object {
	if o == nil {
		return nil
	}
	return clone(o).(*object)
}

// appendJSON writes v as compact JSON. Unlike encoding/json it does not escape <, > and & (AWS
// doesn't), which matters because the 8 KB state limit counts these bytes.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case string:
		return appendString(b, v)
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, x)
		}
		return append(b, ']')
	case *object:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, v.vals[i])
		}
		return append(b, '}')
	}
	panic("shadow: appendJSON: unexpected type") // unreachable: values come from decodeJSON or this package
}

const hexDigits = "0123456789abcdef"

// appendString quotes s the way Jackson does: only '"', '\\' and control characters are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// equal compares two JSON values deeply: objects regardless of member order, arrays element by
// element, numbers by value (1 equals 1.0, as in AWS's Greengrass shadow manager, JsonUtil.calculateDelta).
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && numbersEqual(a, bn)
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !equal(a[i], ba[i]) {
				return false
			}
		}
		return true
	case *object:
		bo, ok := b.(*object)
		if !ok || a.len() != bo.len() {
			return false
		}
		for i, k := range a.keys {
			bv, ok := bo.get(k)
			if !ok || !equal(a.vals[i], bv) {
				return false
			}
		}
		return true
	}
	return false
}

func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	// Different float64 values mean different numbers; equal ones may still differ in digits that
	// float64 drops, so they are compared exactly below.
	if fa, err := strconv.ParseFloat(string(a), 64); err == nil {
		if fb, err := strconv.ParseFloat(string(b), 64); err == nil && fa != fb {
			return false
		}
	}
	fa, _, errA := big.ParseFloat(string(a), 10, 256, big.ToNearestEven)
	fb, _, errB := big.ParseFloat(string(b), 10, 256, big.ToNearestEven)
	if errA != nil || errB != nil || fa.IsInf() || fb.IsInf() {
		return false // out of range: the texts differ, so call them different
	}
	if fa.Sign() == 0 && fb.Sign() == 0 {
		return zeroLiteral(string(a)) == zeroLiteral(string(b)) // 1e-999999999 underflows to 0
	}
	return fa.Cmp(fb) == 0
}

// zeroLiteral reports whether a JSON number's digits before any exponent are all zero.
func zeroLiteral(s string) bool {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	return strings.Trim(s, "-0.") == ""
}
