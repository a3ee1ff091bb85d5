package sql

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// function is a built-in SQL function (AWS: iot-sql-functions). Names are case-insensitive.
type function struct {
	name     string // as AWS spells it; also the output key of an unaliased call
	min, max int    // arity; max < 0: any number
	call     func(c *evalCtx, e *callExpr, args []value) value
	// lazy, when set, replaces call and receives the unevaluated arguments.
	lazy func(c *evalCtx, cur *value, e *callExpr) value
	// regexArg is the index of a regular-expression argument, compiled at parse time when constant.
	regexArg int
	// notLocal, when set, says why the function cannot run in iotlab: calling it fails the
	// evaluation with ErrNotLocal.
	notLocal string
}

var functions = map[string]*function{}

func lookupFunction(name string) *function { return functions[strings.ToLower(name)] }

func def(f *function) {
	if f.call == nil && f.lazy == nil && f.notLocal == "" {
		panic("sql: function " + f.name + " has no implementation")
	}
	functions[strings.ToLower(f.name)] = f
}

func notLocal(fn *function) *EvalError {
	return &EvalError{Function: fn.name, kind: ErrNotLocal, Message: fn.name + "() " + fn.notLocal}
}

func init() {
	// Message and rules-engine context.
	def(&function{name: "topic", min: 0, max: 1, call: fnTopic})
	def(&function{name: "clientid", min: 0, max: 0, call: func(c *evalCtx, _ *callExpr, _ []value) value {
		if c.env.ClientID == "" {
			return vString("n/a") // AWS: "n/a if the message wasn't sent over MQTT"
		}
		return vString(c.env.ClientID)
	}})
	def(&function{name: "principal", min: 0, max: 0, call: envString(func(e *Env) string { return e.Principal })})
	def(&function{name: "accountid", min: 0, max: 0, call: envString(func(e *Env) string { return e.AccountID })})
	def(&function{name: "sourceip", min: 0, max: 0, call: envString(func(e *Env) string { return e.SourceIP })})
	def(&function{name: "traceid", min: 0, max: 0, call: envString(func(e *Env) string { return e.TraceID })})
	def(&function{name: "timestamp", min: 0, max: 0, call: func(c *evalCtx, _ *callExpr, _ []value) value {
		if c.env.Timestamp.IsZero() {
			return undefined
		}
		return vInt(c.env.Timestamp.UnixMilli())
	}})
	def(&function{name: "newuuid", min: 0, max: 0, call: func(c *evalCtx, _ *callExpr, _ []value) value {
		if c.env.NewUUID == nil {
			return undefined
		}
		return vString(c.env.NewUUID())
	}})
	def(&function{name: "rand", min: 0, max: 0, call: func(c *evalCtx, _ *callExpr, _ []value) value {
		if c.env.Rand == nil {
			return undefined
		}
		return vDecimal(c.env.Rand())
	}})
	def(&function{name: "sql_version", min: 0, max: 0, call: func(*evalCtx, *callExpr, []value) value {
		return vString("2016-03-23")
	}})

	// Types.
	def(&function{name: "isNull", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value { return vBool(a[0].k == kNull) }})
	def(&function{name: "isUndefined", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		return vBool(a[0].k == kUndefined)
	}})
	// cast(value AS type) is parsed into a castExpr; the entry only reserves the name.
	def(&function{name: "cast", min: 1, max: 1, call: func(*evalCtx, *callExpr, []value) value { return undefined }})
	def(&function{name: "get", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value { return getItem(a[0], a[1]) }})
	def(&function{name: "get_or_default", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		if a[0].k == kUndefined {
			return a[1]
		}
		return a[0]
	}})
	def(&function{name: "nanvl", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		if a[0].k == kUndefined || a[0].k == kNull {
			return a[1] // Decimal NaN, the other documented case, does not occur here
		}
		return a[0]
	}})

	// Numbers.
	def(&function{name: "abs", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		switch a[0].k {
		case kInt:
			if a[0].i < 0 {
				return negate(a[0])
			}
			return a[0]
		case kDecimal, kString:
			if f, ok := toDecimal(a[0]); ok {
				return vDecimal(math.Abs(f))
			}
		}
		return undefined
	}})
	def(&function{name: "ceil", min: 1, max: 1, call: rounding(math.Ceil)})
	def(&function{name: "floor", min: 1, max: 1, call: rounding(math.Floor)})
	// round: halves away from zero, as AWS's examples show (round(1.5) = 2, round(-1.5) = -2).
	def(&function{name: "round", min: 1, max: 1, call: rounding(math.Round)})
	def(&function{name: "sign", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		f, ok := toDecimal(a[0])
		if !ok {
			return undefined
		}
		switch {
		case f > 0:
			return vInt(1)
		case f < 0:
			return vInt(-1)
		}
		return vInt(0)
	}})
	def(&function{name: "mod", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value { return modulo(a[0], a[1]) }})
	def(&function{name: "remainder", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value { return modulo(a[0], a[1]) }})
	def(&function{name: "power", min: 2, max: 2, call: decimal2(math.Pow)})
	def(&function{name: "atan2", min: 2, max: 2, call: decimal2(math.Atan2)})
	for name, f := range map[string]func(float64) float64{
		"sqrt": math.Sqrt, "exp": math.Exp, "ln": math.Log, "log": math.Log10,
		"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "asin": math.Asin, "acos": math.Acos,
		"atan": math.Atan, "sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh,
	} {
		def(&function{name: name, min: 1, max: 1, call: decimal1(f)})
	}
	def(&function{name: "trunc", min: 2, max: 2, call: fnTrunc})
	def(&function{name: "bitand", min: 2, max: 2, call: bits2(func(a, b int64) int64 { return a & b })})
	def(&function{name: "bitor", min: 2, max: 2, call: bits2(func(a, b int64) int64 { return a | b })})
	def(&function{name: "bitxor", min: 2, max: 2, call: bits2(func(a, b int64) int64 { return a ^ b })})
	def(&function{name: "bitnot", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		i, ok := toIntFloor(a[0])
		if !ok {
			return undefined
		}
		return vInt(^i)
	}})

	// Strings.
	def(&function{name: "lower", min: 1, max: 1, call: string1(strings.ToLower)})
	def(&function{name: "upper", min: 1, max: 1, call: string1(strings.ToUpper)})
	// trim, ltrim, rtrim remove white space: every character up to U+0020, as Java's trim() does.
	def(&function{name: "trim", min: 1, max: 1, call: string1(func(s string) string { return strings.TrimFunc(s, isTrimSpace) })})
	def(&function{name: "ltrim", min: 1, max: 1, call: string1(func(s string) string { return strings.TrimLeftFunc(s, isTrimSpace) })})
	def(&function{name: "rtrim", min: 1, max: 1, call: string1(func(s string) string { return strings.TrimRightFunc(s, isTrimSpace) })})
	// length counts characters (Unicode code points).
	def(&function{name: "length", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok := toString(a[0])
		if !ok {
			return undefined
		}
		return vInt(int64(utf8.RuneCountInString(s)))
	}})
	def(&function{name: "numbytes", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok := toString(a[0])
		if !ok {
			return undefined
		}
		return vInt(int64(len(s)))
	}})
	def(&function{name: "concat", min: 0, max: -1, call: fnConcat})
	def(&function{name: "startswith", min: 2, max: 2, call: strings2(strings.HasPrefix)})
	def(&function{name: "endswith", min: 2, max: 2, call: strings2(strings.HasSuffix)})
	def(&function{name: "indexof", min: 2, max: 2, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok1 := toString(a[0])
		sub, ok2 := toString(a[1])
		if !ok1 || !ok2 {
			return undefined
		}
		i := strings.Index(s, sub)
		if i < 0 {
			return vInt(-1)
		}
		return vInt(int64(utf8.RuneCountInString(s[:i])))
	}})
	def(&function{name: "replace", min: 3, max: 3, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok1 := toString(a[0])
		old, ok2 := toString(a[1])
		repl, ok3 := toString(a[2])
		if !ok1 || !ok2 || !ok3 {
			return undefined
		}
		return vString(strings.ReplaceAll(s, old, repl))
	}})
	def(&function{name: "substring", min: 2, max: 3, call: fnSubstring})
	def(&function{name: "lpad", min: 2, max: 2, call: pad(true)})
	def(&function{name: "rpad", min: 2, max: 2, call: pad(false)})
	def(&function{name: "chr", min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
		i, ok := toIntFloor(a[0])
		if !ok || i < 0 || i > 127 {
			return undefined
		}
		return vString(string(rune(i)))
	}})
	def(&function{name: "regexp_matches", min: 2, max: 2, regexArg: 1, call: func(_ *evalCtx, e *callExpr, a []value) value {
		s, re, ok := regexArgs(e, a)
		if !ok {
			return undefined
		}
		return vBool(re.MatchString(s))
	}})
	def(&function{name: "regexp_substr", min: 2, max: 2, regexArg: 1, call: func(_ *evalCtx, e *callExpr, a []value) value {
		s, re, ok := regexArgs(e, a)
		if !ok {
			return undefined
		}
		return vString(re.FindString(s))
	}})
	def(&function{name: "regexp_replace", min: 3, max: 3, regexArg: 1, call: func(_ *evalCtx, e *callExpr, a []value) value {
		s, re, ok := regexArgs(e, a)
		if !ok {
			return undefined
		}
		repl, ok := toString(a[2])
		if !ok {
			return undefined
		}
		tmpl, ok := javaReplacement(repl)
		if !ok {
			return undefined
		}
		return vString(re.ReplaceAllString(s, tmpl))
	}})
	hashes := map[string]func() hash.Hash{
		"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
		"sha384": sha512.New384, "sha512": sha512.New,
	}
	for name, h := range hashes {
		def(&function{name: name, min: 1, max: 1, call: func(_ *evalCtx, _ *callExpr, a []value) value {
			s, ok := toString(a[0])
			if !ok {
				return undefined
			}
			d := h()
			d.Write([]byte(s))
			return vString(hex.EncodeToString(d.Sum(nil)))
		}})
	}

	// Encoding.
	def(&function{name: "encode", min: 2, max: 2, lazy: fnEncode})
	def(&function{name: "decode", min: 2, max: 2, call: fnDecode})

	// Functions that call AWS services, or that iotlab does not implement: they parse, so that a
	// rule using them can be created, and fail when evaluated.
	const needsAWS = "calls an AWS service and is not executed locally"
	for _, f := range []struct {
		name     string
		min, max int
	}{
		{"aws_lambda", 2, 2}, {"get_dynamodb", 6, 6}, {"get_secret", 4, 4}, {"get_thing_shadow", 3, 3},
		{"get_registry_data", 3, 3}, {"machinelearning_predict", 3, 3},
	} {
		def(&function{name: f.name, min: f.min, max: f.max, notLocal: needsAWS})
	}
	const notYet = "is not implemented by iotlab"
	for _, f := range []struct {
		name     string
		min, max int
	}{
		{"md2", 1, 1}, {"parse_time", 2, 3}, {"time_to_epoch", 2, 2}, {"transform", 3, 3},
		{"get_mqtt_property", 1, 1}, {"get_user_properties", 1, 1},
	} {
		def(&function{name: f.name, min: f.min, max: f.max, notLocal: notYet})
	}
	for _, f := range functions {
		if f.notLocal != "" {
			f.call = func(c *evalCtx, e *callExpr, _ []value) value { return c.fail(notLocal(e.fn)) }
		}
	}
}

func envString(get func(*Env) string) func(*evalCtx, *callExpr, []value) value {
	return func(c *evalCtx, _ *callExpr, _ []value) value {
		if s := get(&c.env); s != "" {
			return vString(s)
		}
		return undefined
	}
}

// fnTopic: topic() is the whole topic, topic(n) its n-th level counting from 1; a level that does
// not exist is Undefined (AWS: iot-sql-functions#iot-function-topic).
func fnTopic(c *evalCtx, _ *callExpr, a []value) value {
	t := c.env.Topic
	if t == "" {
		return undefined
	}
	if len(a) == 0 {
		return vString(t)
	}
	n, ok := toIntFloor(a[0])
	if !ok || n < 1 {
		return undefined
	}
	for level := int64(1); ; level++ {
		i := strings.IndexByte(t, '/')
		if level == n {
			if i < 0 {
				return vString(t)
			}
			return vString(t[:i])
		}
		if i < 0 {
			return undefined
		}
		t = t[i+1:]
	}
}

// rounding: Int stays, Decimal and numeric String round to an Int (ceil, floor, round).
func rounding(f func(float64) float64) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		if a[0].k == kInt {
			return a[0]
		}
		x, ok := toDecimal(a[0])
		if !ok {
			return undefined
		}
		return vWhole(f(x))
	}
}

// decimal1 applies a double-precision function; imaginary and infinite results are Undefined.
func decimal1(f func(float64) float64) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		x, ok := toDecimal(a[0])
		if !ok {
			return undefined
		}
		return vDecimal(f(x))
	}
}

func decimal2(f func(float64, float64) float64) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		x, ok1 := toDecimal(a[0])
		y, ok2 := toDecimal(a[1])
		if !ok1 || !ok2 {
			return undefined
		}
		return vDecimal(f(x, y))
	}
}

// modulo is mod(), remainder() and %: Int for two Ints, else Decimal (strings converted).
func modulo(a, b value) value {
	if (a.k != kInt && a.k != kDecimal && a.k != kString) || (b.k != kInt && b.k != kDecimal && b.k != kString) {
		return undefined
	}
	return arith(opMod, a, b)
}

func bits2(f func(a, b int64) int64) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		x, ok1 := toIntFloor(a[0])
		y, ok2 := toIntFloor(a[1])
		if !ok1 || !ok2 {
			return undefined
		}
		return vInt(f(x, y))
	}
}

// fnTrunc truncates to n decimal places (0 ≤ n ≤ 34), stripping trailing zeros.
func fnTrunc(_ *evalCtx, _ *callExpr, a []value) value {
	if a[0].k == kInt && a[1].k == kInt {
		return a[0]
	}
	x, ok := toDecimal(a[0])
	if !ok {
		return undefined
	}
	n, ok := toIntFloor(a[1])
	if !ok {
		return undefined
	}
	n = max(0, min(n, 34))
	// Work on the shortest decimal text so that trunc(2.3123, 2) is 2.31, not 2.3099999.
	text := strconv.FormatFloat(x, 'f', -1, 64)
	if dot := strings.IndexByte(text, '.'); dot >= 0 {
		if end := dot + 1 + int(n); end < len(text) {
			text = text[:end]
		}
		text = strings.TrimRight(strings.TrimRight(text, "0"), ".")
	}
	if text == "-0" || text == "" {
		text = "0"
	}
	return numberValue(text, !strings.Contains(text, "."))
}

func string1(f func(string) string) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok := toString(a[0])
		if !ok || a[0].k == kBinary {
			return undefined
		}
		return vString(f(s))
	}
}

// strings2: both arguments converted to strings; Null or Undefined gives Undefined.
func strings2(f func(s, x string) bool) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok1 := toString(a[0])
		x, ok2 := toString(a[1])
		if !ok1 || !ok2 {
			return undefined
		}
		return vBool(f(s, x))
	}
}

func isTrimSpace(r rune) bool { return r <= ' ' }

// fnConcat (AWS: iot-sql-functions#iot-func-concat): no argument is Undefined, one is returned as it
// is; with an Array among them the result is one Array of all arguments (Arrays spliced in), else
// with a String among them the concatenation of all arguments as strings, else Undefined. An
// Undefined argument makes the result Undefined.
func fnConcat(_ *evalCtx, _ *callExpr, a []value) value {
	switch len(a) {
	case 0:
		return undefined
	case 1:
		return a[0]
	}
	hasArray, hasString := false, false
	for _, v := range a {
		switch v.k {
		case kUndefined, kBinary:
			return undefined
		case kArray:
			hasArray = true
		case kString:
			hasString = true
		}
	}
	if hasArray {
		var out []value
		for _, v := range a {
			if v.k == kArray {
				out = append(out, v.arr...)
			} else {
				out = append(out, v)
			}
		}
		return vArray(out)
	}
	if !hasString {
		return undefined
	}
	var b strings.Builder
	for _, v := range a {
		s, ok := toString(v)
		if !ok {
			return undefined
		}
		b.WriteString(s)
	}
	return vString(b.String())
}

// fnSubstring (AWS: iot-func-substring): indices are 0-based character positions rounded down,
// clamped to [0, length]; from ≥ to gives "".
func fnSubstring(_ *evalCtx, _ *callExpr, a []value) value {
	s, ok := toString(a[0])
	if !ok || a[0].k == kBinary {
		return undefined
	}
	runes := []rune(s)
	clamp := func(v value) (int, bool) {
		f, ok := toDecimal(v)
		if !ok {
			return 0, false
		}
		f = math.Floor(f)
		return int(max(0, min(f, float64(len(runes))))), true
	}
	from, ok := clamp(a[1])
	if !ok {
		return undefined
	}
	to := len(runes)
	if len(a) == 3 {
		if to, ok = clamp(a[2]); !ok {
			return undefined
		}
	}
	if from >= to {
		return vString("")
	}
	return vString(string(runes[from:to]))
}

// pad is lpad and rpad: spaces added to the string, their number rounded down and clamped to
// [0, 1000] (AWS: iot-func-lpad).
func pad(left bool) func(*evalCtx, *callExpr, []value) value {
	return func(_ *evalCtx, _ *callExpr, a []value) value {
		s, ok := toString(a[0])
		if !ok || a[0].k == kBinary {
			return undefined
		}
		n, ok := toIntFloor(a[1])
		if !ok {
			return undefined
		}
		spaces := strings.Repeat(" ", int(max(0, min(n, 1000))))
		if left {
			return vString(spaces + s)
		}
		return vString(s + spaces)
	}
}

// regexArgs converts the subject to a string and compiles the pattern (or takes it compiled). An
// invalid pattern gives Undefined. Patterns use Go's RE2 syntax, which lacks the back-references and
// look-arounds of the Java syntax AWS uses.
func regexArgs(e *callExpr, a []value) (string, *regexp.Regexp, bool) {
	s, ok := toString(a[0])
	if !ok || a[0].k == kBinary {
		return "", nil, false
	}
	if e.reConst {
		return s, e.re, e.reErr == nil
	}
	pattern, ok := toString(a[1])
	if !ok {
		return "", nil, false
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", nil, false
	}
	return s, re, true
}

// javaReplacement turns a Java replacement string ($1 refers to a group, \$ is a literal $) into
// Go's template syntax (${1}, $$). A $ that names no group is invalid (Java throws), giving false.
func javaReplacement(r string) (string, bool) {
	if !strings.ContainsAny(r, `$\`) {
		return r, true
	}
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		switch c := r[i]; c {
		case '\\':
			i++
			if i >= len(r) {
				return "", false
			}
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case '$':
			j := i + 1
			switch {
			case j < len(r) && isDigit(r[j]):
				for j < len(r) && isDigit(r[j]) {
					j++
				}
				b.WriteString("${" + r[i+1:j] + "}")
				i = j - 1
			case j < len(r) && r[j] == '{':
				k := strings.IndexByte(r[j:], '}')
				if k < 0 {
					return "", false
				}
				b.WriteString(r[i : j+k+1])
				i = j + k
			default:
				return "", false
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// fnEncode is encode(value, 'base64') (AWS: iot-sql-encode-payload): encode(*, …) encodes the payload
// bytes as published, JSON or not; any other value is converted to a string first.
func fnEncode(c *evalCtx, cur *value, e *callExpr) value {
	if len(e.args) != 2 {
		return undefined
	}
	scheme := e.args[1].eval(c, cur)
	if scheme.k != kString || !strings.EqualFold(scheme.s, "base64") {
		return undefined
	}
	if _, ok := e.args[0].(starExpr); ok && cur == &c.root {
		return vString(base64.StdEncoding.EncodeToString(c.payload))
	}
	v := e.args[0].eval(c, cur)
	s, ok := toString(v)
	if !ok {
		return undefined
	}
	return vString(base64.StdEncoding.EncodeToString([]byte(s)))
}

// fnDecode is decode(value, 'base64') (AWS: iot-sql-decode-base64): the decoded bytes as a JSON value
// when they are JSON, else as a String; Null when the value cannot be decoded.
func fnDecode(_ *evalCtx, _ *callExpr, a []value) value {
	if a[1].k != kString || !strings.EqualFold(a[1].s, "base64") {
		return undefined
	}
	s, ok := toString(a[0])
	if !ok {
		return undefined
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return vNull()
		}
	}
	if v, ok := parseJSON(string(b)); ok {
		return v
	}
	return vString(string(b))
}
