package sql

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a payload; a deeper payload is treated as not JSON. AWS payloads
// are at most 128 KB, and no documented limit applies; this one only keeps recursion bounded.
const maxJSONDepth = 512

// parseJSON parses a complete JSON text (RFC 8259) into a value, keeping object keys in order. A
// duplicate key keeps its first position and its last value. Numbers follow SQL version 2016-03-23:
// a whole number such as 10.0 is an Int (AWS: iot-sql-data-types, Decimal row). Invalid UTF-8 in
// strings becomes U+FFFD, as encoding/json does. Strings without escapes share src's memory.
func parseJSON(src string) (value, bool) {
	p := jsonParser{data: src}
	p.space()
	v, ok := p.value(0)
	if !ok {
		return undefined, false
	}
	p.space()
	if p.pos != len(p.data) {
		return undefined, false
	}
	return v, true
}

type jsonParser struct {
	data string
	pos  int
	// members and items are scratch stacks for the object and array being parsed, so that each
	// object and array is allocated once, at its final size.
	members []member
	items   []value
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (value, bool) {
	if p.pos >= len(p.data) || depth > maxJSONDepth {
		return undefined, false
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.str()
		return vString(s), ok
	case c == '-' || isDigit(c):
		return p.number()
	case p.literal("true"):
		return vBool(true), true
	case p.literal("false"):
		return vBool(false), true
	case p.literal("null"):
		return vNull(), true
	}
	return undefined, false
}

func (p *jsonParser) literal(word string) bool {
	if strings.HasPrefix(p.data[p.pos:], word) {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *jsonParser) object(depth int) (value, bool) {
	p.pos++ // {
	if p.members == nil {
		p.members = make([]member, 0, 8)
	}
	mark := len(p.members)
	defer func() { p.members = p.members[:mark] }()
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return vObject(newObject(0)), true
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return undefined, false
		}
		k, ok := p.str()
		if !ok {
			return undefined, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return undefined, false
		}
		p.pos++
		p.space()
		v, ok := p.value(depth + 1)
		if !ok {
			return undefined, false
		}
		p.members = append(p.members, member{k, v})
		p.space()
		if p.pos >= len(p.data) {
			return undefined, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			ms := p.members[mark:]
			o := newObject(len(ms))
			for _, m := range ms {
				o.set(m.key, m.v)
			}
			return vObject(o), true
		default:
			return undefined, false
		}
	}
}

func (p *jsonParser) array(depth int) (value, bool) {
	p.pos++ // [
	mark := len(p.items)
	defer func() { p.items = p.items[:mark] }()
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return vArray([]value{}), true
	}
	for {
		p.space()
		v, ok := p.value(depth + 1)
		if !ok {
			return undefined, false
		}
		p.items = append(p.items, v)
		p.space()
		if p.pos >= len(p.data) {
			return undefined, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return vArray(append([]value(nil), p.items[mark:]...)), true
		default:
			return undefined, false
		}
	}
}

// str parses a string starting at the opening quote.
func (p *jsonParser) str() (string, bool) {
	p.pos++ // "
	start := p.pos
	// Fast path: no escapes, valid UTF-8: a substring of the source.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			p.pos++
			if utf8.ValidString(s) {
				return s, true
			}
			return string(sanitizeUTF8(nil, s)), true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		p.pos++
	}
	buf := sanitizeUTF8(make([]byte, 0, p.pos-start+16), p.data[start:p.pos])
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c == '\\':
			p.pos++
			if p.pos >= len(p.data) {
				return "", false
			}
			e := p.data[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					if len(p.data)-p.pos >= 6 && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
						save := p.pos
						p.pos += 2
						r2, ok := p.hex4()
						if !ok {
							return "", false
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							continue
						}
						p.pos = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		default:
			// Copy a run of plain bytes.
			j := p.pos
			for j < len(p.data) && p.data[j] != '"' && p.data[j] != '\\' && p.data[j] >= 0x20 {
				j++
			}
			buf = sanitizeUTF8(buf, p.data[p.pos:j])
			p.pos = j
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	r, ok := hex4(p.data[p.pos:])
	if ok {
		p.pos += 4
	}
	return r, ok
}

func sanitizeUTF8(dst []byte, s string) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
			s = s[1:]
			continue
		}
		dst = append(dst, s[:n]...)
		s = s[n:]
	}
	return dst
}

// number parses a JSON number per RFC 8259.
func (p *jsonParser) number() (value, bool) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(p.data) {
		return undefined, false
	}
	if p.data[p.pos] == '0' {
		p.pos++
	} else if isDigit(p.data[p.pos]) {
		for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
			p.pos++
		}
	} else {
		return undefined, false
	}
	integer := true
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		integer = false
		p.pos++
		d := p.pos
		for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
			p.pos++
		}
		if p.pos == d {
			return undefined, false
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		integer = false
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		d := p.pos
		for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
			p.pos++
		}
		if p.pos == d {
			return undefined, false
		}
	}
	return numberValue(p.data[start:p.pos], integer), true
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
	return value{k: kDecimal, f: f, s: text}
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
