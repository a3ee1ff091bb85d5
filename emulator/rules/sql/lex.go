package sql

import (
	"strings"
	"unicode/utf8"

	"github.com/iotlab/iotlab/emulator/internal/jsonscan"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tPunct // ( ) [ ] { } , . : * / % + - = <> != < <= > >= ||
)

type token struct {
	kind tokKind
	text string // identifier or number as written, operator, or the decoded string
	pos  int    // byte offset of the first character
	end  int    // byte offset after the last character
	// quote is the delimiter of a string token: '\'' or '"'.
	quote byte
}

func (t token) is(punct string) bool { return t.kind == tPunct && t.text == punct }

// isKeyword reports whether t is the identifier kw, compared case-insensitively (SQL keywords).
func (t token) isKeyword(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// describe names a token in an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of statement"
	case tString:
		return "string " + string(t.quote) + t.text + string(t.quote)
	}
	return "'" + t.text + "'"
}

// reserved are the words that cannot be field names. A payload key that is one of them is reached
// with get(*, 'key').
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "as": true, "and": true, "or": true, "not": true,
	"is": true, "in": true, "case": true, "when": true, "then": true, "else": true, "end": true,
	"true": true, "false": true, "null": true,
}

func isReserved(ident string) bool {
	if len(ident) > 6 {
		return false
	}
	var buf [6]byte
	for i := 0; i < len(ident); i++ {
		c := ident[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return reserved[string(buf[:len(ident)])]
}

type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// next returns the next token. Comments are not part of AWS IoT SQL (AWS: iot-sql-reference).
func (l *lexer) next() (token, *ParseError) {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
			j := l.pos + 1
			if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
				j++
			}
			if j < len(l.src) && isDigit(l.src[j]) {
				for j < len(l.src) && isDigit(l.src[j]) {
					j++
				}
				l.pos = j
			}
		}
		if l.pos < len(l.src) && isIdentStart(l.src[l.pos]) {
			return token{}, newParseError(l.src, start, "invalid number %q", l.src[start:l.pos+1])
		}
		return token{kind: tNumber, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
	case c == '\'' || c == '"':
		return l.str(c)
	}
	two := ""
	if l.pos+1 < len(l.src) {
		two = l.src[l.pos : l.pos+2]
	}
	switch two {
	case "<>", "!=", "<=", ">=", "||":
		l.pos += 2
		return token{kind: tPunct, text: two, pos: start, end: l.pos}, nil
	}
	if strings.IndexByte("()[]{},.:*/%+-=<>", c) >= 0 {
		l.pos++
		return token{kind: tPunct, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, newParseError(l.src, start, "unexpected character %q", r)
}

// str lexes a string literal delimited by quote ('...' or "...": AWS's examples use both). A
// backslash escapes the JSON way (\n, \t, \uXXXX, \', \", \\); a backslash before any other
// character is kept, so that regular expressions such as '\d+' need no doubling. A doubled quote
// inside the string stands for one quote, as in ANSI SQL.
func (l *lexer) str(quote byte) (token, *ParseError) {
	start := l.pos
	l.pos++
	var b strings.Builder
	plain := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == quote:
			if l.pos+1 < len(l.src) && l.src[l.pos+1] == quote {
				b.WriteString(l.src[plain : l.pos+1])
				l.pos += 2
				plain = l.pos
				continue
			}
			b.WriteString(l.src[plain:l.pos])
			l.pos++
			return token{kind: tString, text: b.String(), pos: start, end: l.pos, quote: quote}, nil
		case c == '\\' && l.pos+1 < len(l.src):
			b.WriteString(l.src[plain:l.pos])
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case '\'', '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if r, ok := jsonscan.Hex4(l.src[l.pos:]); ok {
					b.WriteRune(r)
					l.pos += 4
				} else {
					b.WriteString(`\u`)
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			plain = l.pos
		default:
			l.pos++
		}
	}
	return token{}, newParseError(l.src, start, "unterminated string literal (missing closing %c)", quote)
}
