package sql

import (
	"math"
	"strconv"
	"strings"
)

// kind is one of AWS IoT SQL's data types (AWS: iot-sql-data-types), plus kBinary for a payload that
// is not JSON, which only `*` can produce and only encode() and SELECT * can use.
type kind uint8

const (
	kUndefined kind = iota
	kNull
	kBool
	kInt
	kDecimal
	kString
	kArray
	kObject
	kBinary
)

// value is an AWS IoT SQL value. The zero value is Undefined.
//
// Int is an int64 (AWS: 34 digits); an Int result that overflows becomes a Decimal. Decimal is a
// float64 (AWS: 34-digit decimal; its math functions already work "with double precision"). NaN and
// infinities are never stored: operations that would produce them give Undefined, which is what AWS
// documents for imaginary results.
type value struct {
	k   kind
	b   bool
	i   int64
	f   float64
	s   string // String text; Binary bytes; a Decimal's source text (payload or literal), "" if computed
	arr []value
	obj *object
}

var undefined = value{}

func vNull() value            { return value{k: kNull} }
func vBool(b bool) value      { return value{k: kBool, b: b} }
func vInt(i int64) value      { return value{k: kInt, i: i} }
func vString(s string) value  { return value{k: kString, s: s} }
func vArray(a []value) value  { return value{k: kArray, arr: a} }
func vObject(o *object) value { return value{k: kObject, obj: o} }

// vDecimal makes a Decimal; NaN and ±Inf give Undefined.
func vDecimal(f float64) value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return undefined
	}
	return value{k: kDecimal, f: f}
}

// vWhole makes an Int when f is a whole number that fits, else a Decimal. Functions documented to
// return an Int from a Decimal (ceil, floor, round) use it.
func vWhole(f float64) value {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return vInt(int64(f))
	}
	return vDecimal(f)
}

func (v value) isNumber() bool { return v.k == kInt || v.k == kDecimal }

func (v value) float() float64 {
	if v.k == kInt {
		return float64(v.i)
	}
	return v.f
}

// object is a JSON object that keeps its keys in order: SELECT * followed by extra fields must write
// the payload's keys first, in payload order (AWS: iot-sql-select, `SELECT *, 15 as speed`).
type object struct {
	members []member
	// index maps keys to positions once the object is large enough for linear search to hurt.
	index map[string]int
}

type member struct {
	key string
	v   value
}

// indexFrom is the size from which an object keeps an index of its keys.
const indexFrom = 16

func newObject(capacity int) *object { return &object{members: make([]member, 0, capacity)} }

func (o *object) find(key string) int {
	if o.index != nil {
		if i, ok := o.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range o.members {
		if o.members[i].key == key {
			return i
		}
	}
	return -1
}

func (o *object) get(key string) (value, bool) {
	if o == nil {
		return undefined, false
	}
	if i := o.find(key); i >= 0 {
		return o.members[i].v, true
	}
	return undefined, false
}

// set replaces the value of an existing key in place, or appends the key.
func (o *object) set(key string, v value) {
	if i := o.find(key); i >= 0 {
		o.members[i].v = v
		return
	}
	o.members = append(o.members, member{key, v})
	switch {
	case o.index != nil:
		o.index[key] = len(o.members) - 1
	case len(o.members) > indexFrom:
		o.index = make(map[string]int, 2*len(o.members))
		for i := range o.members {
			o.index[o.members[i].key] = i
		}
	}
}

func (o *object) clone() *object {
	if o == nil {
		return &object{}
	}
	c := newObject(len(o.members) + 1)
	for _, m := range o.members {
		c.set(m.key, m.v)
	}
	return c
}

// decimalPattern is the syntax AWS converts from String to Decimal:
// ^-?\d+(\.\d+)?((?i)E-?\d+)?$ (AWS: iot-sql-data-types#iot-sql-conversions).
func parseDecimalString(s string) (float64, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && s[i] == '-' {
			i++
		}
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	if math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// toDecimal is the standard conversion to Decimal: Int, Decimal, and Strings that look like numbers.
// Null converts to Null (reported through isNull), everything else to Undefined.
// AWS: iot-sql-data-types#iot-sql-conversions ("To decimal").
func toDecimal(v value) (f float64, ok bool) {
	switch v.k {
	case kInt:
		return float64(v.i), true
	case kDecimal:
		return v.f, true
	case kString:
		return parseDecimalString(v.s)
	}
	return 0, false
}

// toNumber is toDecimal that keeps an Int an Int, for operators whose Int/Int case differs.
func toNumber(v value) (value, bool) {
	switch v.k {
	case kInt, kDecimal:
		return v, true
	case kString:
		if f, ok := parseDecimalString(v.s); ok {
			return vDecimal(f), true
		}
	}
	return undefined, false
}

// toIntFloor converts Int, Decimal or a numeric String to an Int rounded down, the conversion the bit
// functions, chr, lpad/rpad and substring document. Huge values saturate.
func toIntFloor(v value) (int64, bool) {
	if v.k == kInt {
		return v.i, true
	}
	f, ok := toDecimal(v)
	if !ok {
		return 0, false
	}
	return saturate(math.Floor(f)), true
}

// toIntStandard is the standard conversion to Int used by get(): a Decimal is rounded to the nearest
// Int, a String parsed as a Decimal and truncated. AWS: iot-sql-data-types ("To int").
func toIntStandard(v value) (int64, bool) {
	switch v.k {
	case kInt:
		return v.i, true
	case kDecimal:
		return saturate(math.Round(v.f)), true
	case kString:
		f, ok := parseDecimalString(v.s)
		if !ok {
			return 0, false
		}
		return saturate(math.Trunc(f)), true
	}
	return 0, false
}

func saturate(f float64) int64 {
	switch {
	case f >= 1<<63:
		return math.MaxInt64
	case f < -(1 << 63):
		return math.MinInt64
	}
	return int64(f)
}

// toBool is the standard conversion to Boolean: a Boolean, or the Strings "true" and "false" in any
// case. AWS: iot-sql-data-types ("To Boolean").
func toBool(v value) (b, ok bool) {
	switch v.k {
	case kBool:
		return v.b, true
	case kString:
		switch {
		case strings.EqualFold(v.s, "true"):
			return true, true
		case strings.EqualFold(v.s, "false"):
			return false, true
		}
	}
	return false, false
}

// toString is the standard conversion to String: numbers in standard notation, Booleans in lower
// case, Arrays and Objects serialized to JSON; Null and Undefined do not convert.
// AWS: iot-sql-data-types ("To string").
func toString(v value) (string, bool) {
	switch v.k {
	case kString:
		return v.s, true
	case kInt:
		return strconv.FormatInt(v.i, 10), true
	case kDecimal:
		return string(appendDecimal(nil, v)), true
	case kBool:
		if v.b {
			return "true", true
		}
		return "false", true
	case kArray, kObject:
		return string(appendJSON(nil, v)), true
	case kBinary:
		return v.s, true
	}
	return "", false
}

// equal is the = operator's result for two defined values: Int and Decimal compare numerically,
// Arrays item by item in order, Objects by keys and values in any order, Null equals Null, and
// values of mismatched types are unequal. AWS: iot-sql-operators ("=" and "<>").
func equal(a, b value) bool {
	if a.isNumber() && b.isNumber() {
		if a.k == kInt && b.k == kInt {
			return a.i == b.i
		}
		return a.float() == b.float()
	}
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kUndefined, kNull:
		return true
	case kBool:
		return a.b == b.b
	case kString, kBinary:
		return a.s == b.s
	case kArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !equal(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	case kObject:
		ak, bk := definedKeys(a.obj), definedKeys(b.obj)
		if ak != bk {
			return false
		}
		for _, m := range a.obj.members {
			if m.v.k == kUndefined {
				continue
			}
			bv, ok := b.obj.get(m.key)
			if !ok || bv.k == kUndefined || !equal(m.v, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func definedKeys(o *object) int {
	if o == nil {
		return 0
	}
	n := 0
	for _, m := range o.members {
		if m.v.k != kUndefined {
			n++
		}
	}
	return n
}
