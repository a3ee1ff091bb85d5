package sql

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/iotlab/iotlab/emulator/internal/jsonscan"
)

// maxJSONDepth bounds the nesting of a payload; a deeper payload is treated as not JSON. AWS payloads
// are at most 128 KB, and no documented limit applies; this one only keeps recursion bounded.
const maxJSONDepth = 512

// parseJSON parses a complete JSON text (RFC 8259) into a value, keeping object keys in order. A
// duplicate key keeps its first position and its last value. Numbers follow SQL version 2016-03-23:
// a whole number such as 10.0 is an Int (AWS: iot-sql-data-types, Decimal row). Invalid UTF-8 in
// strings becomes U+FFFD, as encoding/json does. Strings without escapes share src's memory.
func parseJSON(src string) (value, bool) {
	p := jsonParser{Scanner: jsonscan.New(src, maxJSONDepth)}
	p.Space()
	v, ok := p.value()
	if !ok || !p.End() {
		return undefined, false
	}
	return v, true
}

// jsonParser builds values from the tokens of a jsonscan.Scanner.
type jsonParser struct {
	jsonscan.Scanner[string]
	// members and items are scratch stacks for the object and array being parsed, so that each
	// object and array is allocated once, at its final size.
	members []member
	items   []value
}

func (p *jsonParser) value() (value, bool) {
	switch c := p.Peek(); {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, ok := p.String()
		return vString(s), ok
	case c == '-' || isDigit(c):
		text, integer, ok := p.Number()
		if !ok {
			return undefined, false
		}
		return numberValue(text, integer), true
	case p.Literal("true"):
		return vBool(true), true
	case p.Literal("false"):
		return vBool(false), true
	case p.Literal("null"):
		return vNull(), true
	}
	return undefined, false
}

// object and array count a level of nesting only once they have a member: an empty one at the
// deepest level allowed is still JSON.
func (p *jsonParser) object() (value, bool) {
	if p.Open('}') {
		return vObject(newObject(0)), true
	}
	if !p.Enter() {
		return undefined, false
	}
	if p.members == nil {
		p.members = make([]member, 0, 8)
	}
	mark := len(p.members)
	defer func() { p.members = p.members[:mark] }()
	for {
		k, ok := p.Key()
		if !ok {
			return undefined, false
		}
		v, ok := p.value()
		if !ok {
			return undefined, false
		}
		p.members = append(p.members, member{k, v})
		more, ok := p.Next('}')
		if !ok {
			return undefined, false
		}
		if !more {
			p.Leave()
			ms := p.members[mark:]
			o := newObject(len(ms))
			for _, m := range ms {
				o.set(m.key, m.v)
			}
			return vObject(o), true
		}
	}
}

func (p *jsonParser) array() (value, bool) {
	if p.Open(']') {
		return vArray([]value{}), true
	}
	if !p.Enter() {
		return undefined, false
	}
	mark := len(p.items)
	defer func() { p.items = p.items[:mark] }()
	for {
		v, ok := p.value()
		if !ok {
			return undefined, false
		}
		p.items = append(p.items, v)
		more, ok := p.Next(']')
		if !ok {
			return undefined, false
		}
		if !more {
			p.Leave()
			return vArray(append([]value(nil), p.items[mark:]...)), true
		}
	}
}

// numberValue turns valid number text into an Int when it is a whole number that fits in an int64
// (SQL version 2016-03-23 treats 10.0 as the Int 10; AWS: iot-sql-data-types), else a Decimal that
// remembers its text, so that a value passed through unchanged is written as it came.
func numberValue(text string, integer bool) value {
	if integer {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return vInt(i)
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return undefined
	}
	if math.IsInf(f, 0) {
		// Beyond float64 (AWS allows up to 9.999E999): keep the text, compare as ±Inf-free max.
		f = math.Copysign(math.MaxFloat64, f)
	}
	if !integer && f == math.Trunc(f) && f > -(1<<63) && f < 1<<63 {
		return vInt(int64(f))
	}
	if !isJSONNumber(text) {
		text = "" // a SQL literal such as 00.1: written from f, so the output stays JSON
	}
	return value{k: kDecimal, f: f, s: text}
}

// isJSONNumber reports whether text is a JSON number as written (RFC 8259 §6), so it can be copied to
// the output as is.
func isJSONNumber(text string) bool {
	sc := jsonscan.New(text, 1)
	t, _, ok := sc.Number()
	return ok && len(t) == len(text)
}

// appendJSON writes v as JSON. Undefined members of objects and items of arrays are left out (AWS:
// iot-sql-data-types, Undefined "isn't representable in JSON except by omitting the value"); an
// Undefined v writes nothing. Strings are written with the escapes JSON requires and nothing else.
func appendJSON(dst []byte, v value) []byte {
	switch v.k {
	case kUndefined:
		return dst
	case kNull:
		return append(dst, "null"...)
	case kBool:
		return strconv.AppendBool(dst, v.b)
	case kInt:
		return strconv.AppendInt(dst, v.i, 10)
	case kDecimal:
		return appendDecimal(dst, v)
	case kString, kBinary:
		return appendString(dst, v.s)
	case kArray:
		dst = append(dst, '[')
		first := true
		for _, e := range v.arr {
			if e.k == kUndefined {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case kObject:
		dst = append(dst, '{')
		first := true
		if v.obj != nil {
			for _, m := range v.obj.members {
				if m.v.k == kUndefined {
					continue
				}
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = appendString(dst, m.key)
				dst = append(dst, ':')
				dst = appendJSON(dst, m.v)
			}
		}
		return append(dst, '}')
	}
	return dst
}

// appendDecimal writes a Decimal: its source text when it has one, else the shortest representation,
// in plain notation between 1e-6 and 1e21 and in scientific notation outside (as encoding/json does).
func appendDecimal(dst []byte, v value) []byte {
	if v.s != "" {
		return append(dst, v.s...)
	}
	f := v.f
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
