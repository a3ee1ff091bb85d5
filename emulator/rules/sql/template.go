package sql

import "strings"

// Template is a parsed substitution template: the text of a rule action field in which each
// ${expression} is replaced by the value of the expression (AWS: iot-substitution-templates), e.g.
// a republish topic "alerts/${topic(2)}". Expressions are evaluated against the original payload,
// not the SELECT result, so SELECT aliases are not visible. A Template is immutable and safe for
// concurrent use.
type Template struct {
	text  string
	parts []templatePart
}

type templatePart struct {
	lit string // literal text; used when e is nil
	e   expr
}

// ParseTemplate parses a substitution template. "$$" stands for a literal "$", which is how a
// republish action targets a reserved topic: "$$aws/things/T/shadow/update" (AWS:
// republish-rule-action). A "$" not followed by "{" or "$" is literal. Errors are *ParseError with
// offsets into the template.
func ParseTemplate(text string) (*Template, error) {
	t := &Template{text: text}
	var lit strings.Builder
	for i := 0; i < len(text); {
		c := text[i]
		if c != '$' || i+1 >= len(text) {
			lit.WriteByte(c)
			i++
			continue
		}
		switch text[i+1] {
		case '$':
			lit.WriteByte('$')
			i += 2
		case '{':
			e, end, err := parseTemplateExpr(text, i+2)
			if err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, templatePart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, templatePart{e: e})
			i = end
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, templatePart{lit: lit.String()})
	}
	return t, nil
}

// parseTemplateExpr parses the expression that starts at offset start (after "${") and returns it
// with the offset just past its closing "}".
func parseTemplateExpr(text string, start int) (expr, int, *ParseError) {
	p := &parser{src: text, lx: lexer{src: text, pos: start}}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	if p.tok.is("}") {
		return nil, 0, p.errorf("empty ${} in the substitution template")
	}
	e, err := p.expr()
	if err != nil {
		return nil, 0, err
	}
	if !p.tok.is("}") {
		if p.tok.kind == tEOF {
			return nil, 0, newParseError(text, start-2, "unterminated ${ in the substitution template (missing })")
		}
		return nil, 0, p.errorf("expected '}' to end the ${…} expression but found %s", p.tok.describe())
	}
	return e, p.tok.end, nil
}

// String returns the template as given to ParseTemplate.
func (t *Template) String() string { return t.text }

// HasExpressions reports whether the template contains any ${…}.
func (t *Template) HasExpressions() bool {
	for _, p := range t.parts {
		if p.e != nil {
			return true
		}
	}
	return false
}

// Expand evaluates the template's expressions against a message. A value is written as a string:
// Strings as they are, numbers and Booleans in their standard form, Arrays and Objects as JSON, and
// Null and Undefined (a field the payload lacks) as nothing (AWS: iot-sql-data-types — Undefined
// "is converted to an empty string when serialized by itself"). Errors are *EvalError, as from
// Evaluate.
func (t *Template) Expand(payload []byte, env Env) (string, error) {
	if len(t.parts) == 1 && t.parts[0].e == nil {
		return t.parts[0].lit, nil
	}
	c := newEvalCtx(payload, env)
	var b strings.Builder
	for _, p := range t.parts {
		if p.e == nil {
			b.WriteString(p.lit)
			continue
		}
		v := p.e.eval(c, &c.root)
		if c.err != nil {
			return "", c.err
		}
		if v.k == kBinary {
			continue
		}
		if s, ok := toString(v); ok {
			b.WriteString(s)
		}
	}
	return b.String(), nil
}

// Substitute parses template and expands it against a message: ParseTemplate then Expand.
func Substitute(template string, payload []byte, env Env) (string, error) {
	t, err := ParseTemplate(template)
	if err != nil {
		return "", err
	}
	return t.Expand(payload, env)
}
