package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern syntax (Resource elements, String*/Arn* condition values):
//
//   - '*' matches any sequence of characters, '/' included; '?' matches exactly one character
//     (a UTF-8 rune). MQTT '+' and '#' are ordinary characters. AWS: pub-sub-policy
//   - ${*}, ${?} and ${$} stand for a literal '*', '?' and '$' (IAM's special-character variables,
//     rendered "$(*)" on the IoT page). AWS: iot-policy-variables
//   - ${name} with a name AWS IoT defines is a policy variable. Its value is inserted as literal text:
//     a client ID "a*" does not become a wildcard. When it cannot be resolved the ${name} text stays,
//     so the pattern matches only resources that literally contain it.
//   - any other ${…} group is literal text, wildcard characters inside it included.
//
// Policy versions "2008-10-17" have no variables: there "${" is plain text. (IAM: variables and the
// special-character escapes need "Version": "2012-10-17".)

type pieceKind uint8

const (
	pieceLit pieceKind = iota
	pieceVar
	pieceStar
	pieceQuest
)

type piece struct {
	kind pieceKind
	lit  string // pieceLit: the text; pieceVar: the ${…} text as written, used while unresolved
	v    varRef
}

// pattern is a compiled Resource or condition value.
type pattern struct {
	raw     string
	pieces  []piece
	hasVar  bool
	hasWild bool
}

// compilePattern splits s into pieces once, at Parse time. wild turns on '*' and '?'; vars turns on ${…}.
func compilePattern(s string, wild, vars bool) pattern {
	p := pattern{raw: s}
	addLit := func(t string) {
		if t == "" {
			return
		}
		if n := len(p.pieces); n > 0 && p.pieces[n-1].kind == pieceLit {
			p.pieces[n-1].lit += t
			return
		}
		p.pieces = append(p.pieces, piece{kind: pieceLit, lit: t})
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if vars && c == '$' && i+1 < len(s) && s[i+1] == '{' {
			if end := strings.IndexByte(s[i+2:], '}'); end >= 0 {
				addLit(s[start:i])
				name, next := s[i+2:i+2+end], i+3+end
				switch name {
				case "*", "?", "$":
					addLit(name)
				default:
					if ref, ok := parseVarName(name); ok {
						p.pieces = append(p.pieces, piece{kind: pieceVar, lit: s[i:next], v: ref})
						p.hasVar = true
					} else {
						addLit(s[i:next])
					}
				}
				i, start = next, next
				continue
			}
		}
		if wild && (c == '*' || c == '?') {
			addLit(s[start:i])
			p.hasWild = true
			if c == '?' {
				p.pieces = append(p.pieces, piece{kind: pieceQuest})
			} else if n := len(p.pieces); n == 0 || p.pieces[n-1].kind != pieceStar {
				p.pieces = append(p.pieces, piece{kind: pieceStar})
			}
			i++
			start = i
			continue
		}
		i++
	}
	addLit(s[start:])
	return p
}

// match reports whether s matches the pattern, resolving variables from ctx. fold compares letters
// case-insensitively (Unicode simple folding). It does not allocate.
func (p *pattern) match(s string, ctx *Context, fold bool) bool {
	ps := p.pieces
	if len(ps) == 1 && !fold && ps[0].kind == pieceLit {
		return s == ps[0].lit
	}
	pi, si := 0, 0
	backPi, backSi := -1, 0 // where to resume after the last '*'
	var ok bool
	for {
		if pi < len(ps) {
			switch pc := &ps[pi]; pc.kind {
			case pieceStar:
				if pi == len(ps)-1 {
					return true
				}
				pi++
				if si, ok = skipTo(s, si, &ps[pi], fold); !ok {
					return false
				}
				backPi, backSi = pi, si
				continue
			case pieceQuest:
				if si < len(s) {
					si += runeLen(s[si:])
					pi++
					continue
				}
			default:
				text := pc.lit
				if pc.kind == pieceVar {
					if v, ok := pc.v.value(ctx); ok {
						text = v
					}
				}
				if n, ok := hasPrefix(s[si:], text, fold); ok {
					si += n
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if backPi < 0 || backSi >= len(s) {
			return false
		}
		backSi += runeLen(s[backSi:])
		if backSi, ok = skipTo(s, backSi, &ps[backPi], fold); !ok {
			return false
		}
		pi, si = backPi, backSi
	}
}

// skipTo moves a '*' forward to the next place where the literal piece after it can match: the places
// in between would fail anyway. Only for literals that start a rune, so that the place is one that
// stepping rune by rune reaches too.
func skipTo(s string, si int, next *piece, fold bool) (int, bool) {
	if next.kind != pieceLit || fold || !utf8.RuneStart(next.lit[0]) {
		return si, true
	}
	i := strings.Index(s[si:], next.lit)
	if i < 0 {
		return si, false
	}
	return si + i, true
}

// render writes the pattern back as MatchResource syntax with variables substituted (escaped) from ctx.
func (p *pattern) render(ctx *Context) string {
	var b strings.Builder
	for i := range p.pieces {
		pc := &p.pieces[i]
		switch pc.kind {
		case pieceStar:
			b.WriteByte('*')
		case pieceQuest:
			b.WriteByte('?')
		case pieceLit:
			writeEscaped(&b, pc.lit)
		case pieceVar:
			if v, ok := pc.v.value(ctx); ok {
				writeEscaped(&b, v)
			} else {
				b.WriteString(pc.lit)
			}
		}
	}
	return b.String()
}

// text returns the pattern's literal text with variables substituted, for operators that compare
// values rather than match patterns (Numeric, Date, Bool, IpAddress).
func (p *pattern) text(ctx *Context) string {
	if !p.hasVar {
		if len(p.pieces) == 1 {
			return p.pieces[0].lit
		}
		if len(p.pieces) == 0 {
			return ""
		}
	}
	var b strings.Builder
	for i := range p.pieces {
		pc := &p.pieces[i]
		if pc.kind == pieceVar {
			if v, ok := pc.v.value(ctx); ok {
				b.WriteString(v)
				continue
			}
		}
		b.WriteString(pc.lit)
	}
	return b.String()
}

func runeLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// hasPrefix reports whether s starts with t and how many bytes of s that prefix spans.
func hasPrefix(s, t string, fold bool) (int, bool) {
	if !fold {
		if strings.HasPrefix(s, t) {
			return len(t), true
		}
		return 0, false
	}
	i, j := 0, 0
	for j < len(t) {
		if i >= len(s) {
			return 0, false
		}
		sr, sn := utf8.DecodeRuneInString(s[i:])
		tr, tn := utf8.DecodeRuneInString(t[j:])
		if sr == utf8.RuneError && sn == 1 || tr == utf8.RuneError && tn == 1 {
			if sn != tn || s[i] != t[j] { // invalid bytes match only themselves
				return 0, false
			}
		} else if sr != tr && !equalFoldRune(sr, tr) {
			return 0, false
		}
		i += sn
		j += tn
	}
	return i, true
}

func equalFoldRune(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '$':
			b.WriteString("${")
			b.WriteByte(c)
			b.WriteByte('}')
		default:
			b.WriteByte(c)
		}
	}
}

type tokKind uint8

const (
	tokLit tokKind = iota
	tokStar
	tokQuest
)

// nextToken reads one token of MatchResource syntax at p[i:].
func nextToken(p string, i int) (kind tokKind, lit string, next int) {
	switch p[i] {
	case '*':
		return tokStar, "", i + 1
	case '?':
		return tokQuest, "", i + 1
	case '$':
		if i+1 < len(p) && p[i+1] == '{' {
			if end := strings.IndexByte(p[i+2:], '}'); end >= 0 {
				next = i + 3 + end
				switch name := p[i+2 : i+2+end]; name {
				case "*", "?", "$":
					return tokLit, name, next
				}
				return tokLit, p[i:next], next
			}
		}
	}
	j := i + 1
	for j < len(p) && p[j] != '*' && p[j] != '?' && p[j] != '$' {
		j++
	}
	return tokLit, p[i:j], j
}

// MatchResource reports whether resource matches the IAM-style pattern: '*' matches any sequence of
// characters including '/', '?' exactly one character, MQTT '+' and '#' are literal, and ${*}, ${?},
// ${$} stand for a literal '*', '?', '$'. Any other ${…} group is literal text: MatchResource knows
// no context, so run SubstituteVariables first to resolve variables. Without wildcards and escapes it
// is string equality. It does not allocate.
// AWS: pub-sub-policy, iot-policy-variables
func MatchResource(pattern, resource string) bool {
	pi, si := 0, 0
	backPi, backSi := -1, 0
	var ok bool
	for {
		if pi < len(pattern) {
			kind, lit, next := nextToken(pattern, pi)
			switch kind {
			case tokStar:
				if next == len(pattern) {
					return true
				}
				pi = next
				if si, ok = skipToToken(pattern, pi, resource, si); !ok {
					return false
				}
				backPi, backSi = pi, si
				continue
			case tokQuest:
				if si < len(resource) {
					si += runeLen(resource[si:])
					pi = next
					continue
				}
			default:
				if strings.HasPrefix(resource[si:], lit) {
					si += len(lit)
					pi = next
					continue
				}
			}
		} else if si == len(resource) {
			return true
		}
		if backPi < 0 || backSi >= len(resource) {
			return false
		}
		backSi += runeLen(resource[backSi:])
		if backSi, ok = skipToToken(pattern, backPi, resource, backSi); !ok {
			return false
		}
		pi, si = backPi, backSi
	}
}

// skipToToken is skipTo for MatchResource.
func skipToToken(pattern string, pi int, resource string, si int) (int, bool) {
	kind, lit, _ := nextToken(pattern, pi)
	if kind != tokLit || !utf8.RuneStart(lit[0]) {
		return si, true
	}
	i := strings.Index(resource[si:], lit)
	if i < 0 {
		return si, false
	}
	return si + i, true
}

// SubstituteVariables replaces the policy variables in s (${iot:ClientId}, ${iot:Connection.Thing.…},
// ${iot:Certificate.…}, …) with their values from ctx and reports whether every ${…} variable was
// resolved. Values are inserted escaped (a '*' in a client ID becomes ${*}), so the result is a
// MatchResource pattern that matches exactly what the compiled policy matches. Unresolvable variables
// and unknown ${…} names are left as written (AWS's rule, see the package documentation); the
// escapes ${*}, ${?} and ${$} are kept.
func SubstituteVariables(s string, ctx *Context) (string, bool) {
	all := true
	var b strings.Builder
	start := 0
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		j += i
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			break
		}
		name, next := s[j+2:j+2+end], j+3+end
		i = next
		switch name {
		case "*", "?", "$":
			continue
		}
		ref, ok := parseVarName(name)
		var val string
		if ok {
			val, ok = ref.value(ctx)
		}
		if !ok {
			all = false
			continue
		}
		b.WriteString(s[start:j])
		writeEscaped(&b, val)
		start = next
	}
	if start == 0 {
		return s, all
	}
	b.WriteString(s[start:])
	return b.String(), all
}
