// Package jsonscan is the lexical half of iotlab's two order-preserving JSON parsers, the rules
// engine's payload parser (emulator/rules/sql) and the shadow document decoder (emulator/shadow):
// white space, literals, punctuation, strings (escapes, \uXXXX surrogate pairs, invalid UTF-8 as
// U+FFFD) and numbers as RFC 8259 writes them, and a bound on nesting. Each parser builds its own
// values (SQL values with SQL number typing; shadow's ordered objects and json.Number) and decides
// what an error is worth; a Scanner only reports whether the text it was asked for is there.
//
// Neither parser can use encoding/json: they keep the order of object members, and Decoder.Token,
// which would too, costs an allocation per token. Pure: standard library only.
package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Text is what a Scanner reads: a string, whose strings and numbers it returns without copying
// (the SQL engine), or bytes, which it copies (shadow documents outlive the request).
type Text interface{ string | []byte }

// Scanner reads one JSON text from its start. The zero value has no input; use New.
type Scanner[T Text] struct {
	data     T
	pos      int
	maxDepth int
	depth    int // containers entered and not yet left
}

// New returns a Scanner at the start of data that lets Enter nest maxDepth containers deep.
func New[T Text](data T, maxDepth int) Scanner[T] {
	return Scanner[T]{data: data, maxDepth: maxDepth}
}

// Space skips white space.
func (s *Scanner[T]) Space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the next byte, or 0 at the end (0 starts no JSON token, so it reads as an error).
func (s *Scanner[T]) Peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// End skips white space and reports whether the input ends there.
func (s *Scanner[T]) End() bool {
	s.Space()
	return s.pos == len(s.data)
}

// Literal consumes word (true, false, null) if the input continues with it.
func (s *Scanner[T]) Literal(word string) bool {
	if len(s.data)-s.pos < len(word) {
		return false
	}
	for i := 0; i < len(word); i++ {
		if s.data[s.pos+i] != word[i] {
			return false
		}
	}
	s.pos += len(word)
	return true
}

// Enter counts one more level of nesting and reports whether it is within the Scanner's bound;
// Leave undoes it. Parsers stop at the first false, so an abandoned Enter needs no Leave.
func (s *Scanner[T]) Enter() bool {
	s.depth++
	return s.depth <= s.maxDepth
}

// Leave ends a level counted by Enter.
func (s *Scanner[T]) Leave() { s.depth-- }

// Open consumes the byte that opens an object or array (Peek has seen it) and the white space after
// it, then reports whether close follows, in which case it consumes close too: the container is
// empty.
func (s *Scanner[T]) Open(close byte) (empty bool) {
	s.pos++
	s.Space()
	if s.pos < len(s.data) && s.data[s.pos] == close {
		s.pos++
		return true
	}
	return false
}

// Next is called after an element of a container: it consumes the white space and the ',' before
// the next element (more) or the container's close (!more); ok is false when neither follows.
func (s *Scanner[T]) Next(close byte) (more, ok bool) {
	s.Space()
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.Space()
			return true, true
		case close:
			s.pos++
			return false, true
		}
	}
	return false, false
}

// Key reads an object member's name, where Open or Next left the Scanner, and the ':' after it,
// with the white space around that, leaving the Scanner at the member's value.
func (s *Scanner[T]) Key() (string, bool) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return "", false
	}
	k, ok := s.String()
	if !ok {
		return "", false
	}
	s.Space()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		return "", false
	}
	s.pos++
	s.Space()
	return k, true
}

// String reads a string from its opening quote (Peek has seen it) and returns it unescaped. A \u
// escape of a UTF-16 surrogate pair is one character; any other surrogate, and each byte that is not
// part of valid UTF-8, becomes U+FFFD, as in encoding/json. A string without escapes read from a
// string Text shares its memory.
func (s *Scanner[T]) String() (string, bool) {
	s.pos++ // "
	start := s.pos
	// Fast path: no escapes, so the text is the string.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			str := string(s.data[start:s.pos]) // no copy when T is string
			s.pos++
			if utf8.ValidString(str) {
				return str, true
			}
			return replaceInvalid(str), true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		s.pos++
	}
	buf := append(make([]byte, 0, s.pos-start+16), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if utf8.Valid(buf) {
				return string(buf), true
			}
			return replaceInvalid(string(buf)), true
		case c < 0x20:
			return "", false
		case c != '\\':
			// A run of plain bytes. Escapes only add whole characters, so checking the UTF-8 of
			// the whole string at the end finds the same bytes invalid as checking each run would.
			j := s.pos + 1
			for j < len(s.data) && s.data[j] != '"' && s.data[j] != '\\' && s.data[j] >= 0x20 {
				j++
			}
			buf = append(buf, s.data[s.pos:j]...)
			s.pos = j
			continue
		}
		s.pos++ // \
		if s.pos >= len(s.data) {
			return "", false
		}
		e := s.data[s.pos]
		s.pos++
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
			r, ok := s.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					lo, ok := s.hex4()
					if !ok {
						return "", false
					}
					if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
						buf = utf8.AppendRune(buf, d)
						continue
					}
					s.pos = save // \u after an unpaired surrogate is a character of its own
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (s *Scanner[T]) hex4() (rune, bool) {
	r, ok := Hex4(s.data[s.pos:])
	if ok {
		s.pos += 4
	}
	return r, ok
}

// Hex4 reads the four hexadecimal digits of a \u escape at the start of h.
func Hex4[T Text](h T) (rune, bool) {
	if len(h) < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// replaceInvalid replaces each byte of s that is not part of valid UTF-8 with U+FFFD, as
// encoding/json does (strings.ToValidUTF8 would replace a run of them with one).
func replaceInvalid(s string) string {
	b := make([]byte, 0, len(s)+8)
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return string(b)
}

// Number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and returns its text (without a copy
// when T is string); integer is true when it has neither fraction nor exponent.
func (s *Scanner[T]) Number() (text T, integer, ok bool) {
	start := s.pos
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return text, false, false
	}
	integer = true
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		integer = false
		s.pos++
		if s.digits() == 0 {
			return text, false, false
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		integer = false
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return text, false, false
		}
	}
	return s.data[start:s.pos], integer, true
}

func (s *Scanner[T]) digits() int {
	start := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}
