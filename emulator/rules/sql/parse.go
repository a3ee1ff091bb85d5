package sql

import (
	"regexp"
	"strconv"
	"strings"
)

// maxNesting bounds how deeply expressions may nest, so that parsing and evaluation recursion stay
// bounded whatever the input. AWS documents no such limit; real rules come nowhere near it.
const maxNesting = 200

// Statement is a parsed AWS IoT SQL statement (version 2016-03-23): its SELECT list, FROM topic
// filter and WHERE condition. It is immutable and safe for concurrent use.
type Statement struct {
	sql     string
	topic   string // FROM topic filter, "" without FROM
	hasFrom bool
	sel     selectClause
	where   expr // nil without WHERE
	// passThrough: the SELECT list is a lone unaliased *, so the output is the payload as published.
	passThrough bool
	// readsFields: the SELECT list reads payload fields, which a binary payload does not have.
	readsFields bool
}

type selectClause struct {
	value bool // SELECT VALUE expr
	items []selectItem
}

type selectItem struct {
	star bool     // an unaliased *: merge the document's members into the output
	e    expr     // the expression (nil for star)
	path []string // output key; more than one element for a dotted alias ("AS a.b")
}

// SQL returns the statement as given to Parse.
func (s *Statement) SQL() string { return s.sql }

// Topic returns the FROM topic filter without its quotes ("home/+/temperature"), or "" when the
// statement has no FROM clause (allowed for rules used only through Basic Ingest; AWS:
// iot-basic-ingest).
func (s *Statement) Topic() string { return s.topic }

// HasFrom reports whether the statement has a FROM clause.
func (s *Statement) HasFrom() bool { return s.hasFrom }

// Parse parses and checks an AWS IoT SQL statement as CreateTopicRule does for awsIotSqlVersion
// 2016-03-23. Errors are *ParseError. Parse never panics.
func Parse(sql string) (*Statement, error) {
	p := &parser{lx: lexer{src: sql}, src: sql}
	if err := p.advance(); err != nil {
		return nil, err
	}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	st.sql = sql
	return st, nil
}

type parser struct {
	src   string
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() *ParseError {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// peek returns the token after the current one without consuming anything.
func (p *parser) peek() token {
	save := p.lx.pos
	t, err := p.lx.next()
	p.lx.pos = save
	if err != nil {
		return token{kind: tEOF, pos: save}
	}
	return t
}

func (p *parser) errorf(format string, args ...any) *ParseError {
	return newParseError(p.src, p.tok.pos, format, args...)
}

func (p *parser) expectPunct(s string) *ParseError {
	if !p.tok.is(s) {
		return p.errorf("expected '%s' but found %s", s, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) statement() (*Statement, *ParseError) {
	if p.tok.kind == tEOF {
		return nil, p.errorf("empty statement; expected SELECT")
	}
	if !p.tok.isKeyword("select") {
		return nil, p.errorf("expected SELECT but found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	sel, err := p.selectList(true)
	if err != nil {
		return nil, err
	}
	st := &Statement{sel: sel}
	if p.tok.isKeyword("from") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString || p.tok.quote != '\'' {
			// AWS: iot-sql-from — "You must enclose the topic or topic filter in single quotes".
			return nil, p.errorf("FROM needs a topic filter in single quotes, such as 'sensors/+/data', but found %s", p.tok.describe())
		}
		if msg := checkTopicFilter(p.tok.text); msg != "" {
			return nil, p.errorf("invalid topic filter '%s': %s", p.tok.text, msg)
		}
		st.topic, st.hasFrom = p.tok.text, true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.tok.isKeyword("where") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.where = w
	}
	if p.tok.kind != tEOF {
		switch {
		case p.tok.is("||"):
			return nil, p.errorf("'||' is not an AWS IoT SQL operator; concatenate strings with + or concat()")
		case p.tok.isKeyword("from") && st.hasFrom:
			return nil, p.errorf("a statement has one FROM clause")
		case p.tok.isKeyword("from") && st.where != nil:
			return nil, p.errorf("FROM must come before WHERE")
		case p.tok.isKeyword("where"):
			return nil, p.errorf("a statement has one WHERE clause")
		}
		return nil, p.errorf("unexpected %s after the end of the statement", p.tok.describe())
	}
	// SELECT * and SELECT VALUE * return the payload as published, JSON or not.
	if _, valueStar := sel.items[0].e.(starExpr); sel.value && valueStar || !sel.value && len(sel.items) == 1 && sel.items[0].star {
		st.passThrough = true
	}
	for _, it := range sel.items {
		if it.e != nil && readsFields(it.e) {
			st.readsFields = true
		}
	}
	return st, nil
}

// selectList parses what follows SELECT, up to FROM, WHERE, ')' or the end.
func (p *parser) selectList(top bool) (selectClause, *ParseError) {
	var sel selectClause
	// VALUE is a keyword only right after SELECT, and only when an expression follows it, so that a
	// payload field called "value" can still be selected (SELECT value FROM …).
	if p.tok.isKeyword("value") {
		if next := p.peek(); startsExpr(next) {
			if err := p.advance(); err != nil {
				return sel, err
			}
			e, err := p.expr()
			if err != nil {
				return sel, err
			}
			sel.value = true
			sel.items = []selectItem{{e: e}}
			if p.tok.isKeyword("as") {
				return sel, p.errorf("SELECT VALUE takes no alias")
			}
			if p.tok.is(",") {
				return sel, p.errorf("SELECT VALUE takes exactly one expression")
			}
			return sel, nil
		}
	}
	for n := 1; ; n++ {
		it, err := p.selectItem(n)
		if err != nil {
			return sel, err
		}
		sel.items = append(sel.items, it)
		if !p.tok.is(",") {
			break
		}
		if err := p.advance(); err != nil {
			return sel, err
		}
	}
	if !top && p.tok.is(")") {
		return sel, p.errorf("a nested SELECT needs a FROM clause naming an array")
	}
	return sel, nil
}

func startsExpr(t token) bool {
	switch t.kind {
	case tIdent:
		return !isReserved(t.text) || t.isKeyword("not") || t.isKeyword("case") || t.isKeyword("true") ||
			t.isKeyword("false") || t.isKeyword("null")
	case tNumber, tString:
		return true
	case tPunct:
		return t.text == "(" || t.text == "[" || t.text == "{" || t.text == "*" || t.text == "-"
	}
	return false
}

func (p *parser) selectItem(n int) (selectItem, *ParseError) {
	var it selectItem
	if p.tok.is("*") {
		next := p.peek()
		if next.kind == tEOF || next.is(",") || next.is(")") || next.isKeyword("from") ||
			next.isKeyword("where") || next.isKeyword("as") {
			if err := p.advance(); err != nil {
				return it, err
			}
			if !p.tok.isKeyword("as") {
				it.star = true
				return it, nil
			}
			it.e = starExpr{}
		}
	}
	if it.e == nil {
		if p.tok.kind == tEOF || p.tok.isKeyword("from") || p.tok.isKeyword("where") {
			return it, p.errorf("expected an expression or * in the SELECT list but found %s", p.tok.describe())
		}
		e, err := p.expr()
		if err != nil {
			return it, err
		}
		it.e = e
	}
	if p.tok.isKeyword("as") {
		if err := p.advance(); err != nil {
			return it, err
		}
		path, err := p.alias()
		if err != nil {
			return it, err
		}
		it.path = path
		return it, nil
	}
	it.path = []string{defaultName(it.e, n)}
	return it, nil
}

// alias parses the name after AS: an identifier, or identifiers joined by dots, which nest the value
// in the output (SELECT foo.bar AS bar.baz; AWS: iot-sql-json).
func (p *parser) alias() ([]string, *ParseError) {
	var path []string
	for {
		if p.tok.kind != tIdent || isReserved(p.tok.text) {
			return nil, p.errorf("expected a name after AS but found %s", p.tok.describe())
		}
		path = append(path, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.tok.is(".") {
			return path, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// defaultName is the output key of an unaliased SELECT item: a field's own name (a.b.c gives "c",
// a[0] gives "a"), a function's name (topic(2) gives "topic"), and for any other expression "_n",
// n being the item's 1-based position in the SELECT list.
func defaultName(e expr, n int) string {
	switch x := e.(type) {
	case *fieldExpr:
		return x.name
	case *indexExpr:
		return defaultName(x.base, n)
	case *callExpr:
		return x.fn.name
	case *castExpr:
		return "cast"
	}
	return "_" + strconv.Itoa(n)
}

// Expressions, lowest precedence first: OR, AND, NOT, comparisons (= <> != < <= > >= IS IN),
// + and -, * / and %, unary minus, then field access (.name, [index]).

func (p *parser) expr() (expr, *ParseError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.errorf("expression nested too deeply")
	}
	return p.or()
}

func (p *parser) or() (expr, *ParseError) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.tok.isKeyword("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicExpr{or: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (expr, *ParseError) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.tok.isKeyword("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &logicExpr{l: l, r: r}
	}
	return l, nil
}

func (p *parser) not() (expr, *ParseError) {
	if p.tok.isKeyword("not") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, p.errorf("expression nested too deeply")
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	return p.comparison()
}

var comparisonOps = map[string]binOp{"=": opEq, "<>": opNe, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

func (p *parser) comparison() (expr, *ParseError) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.tok.kind == tPunct && comparisonOps[p.tok.text] != 0:
			op := comparisonOps[p.tok.text]
			if err := p.advance(); err != nil {
				return nil, err
			}
			r, err := p.additive()
			if err != nil {
				return nil, err
			}
			l = &binExpr{op: op, l: l, r: r}
		case p.tok.isKeyword("is"):
			// IS [NOT] NULL / UNDEFINED: not on AWS's operator page; same results as isNull() and
			// isUndefined().
			if err := p.advance(); err != nil {
				return nil, err
			}
			neg := false
			if p.tok.isKeyword("not") {
				neg = true
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			var what kind
			switch {
			case p.tok.isKeyword("null"):
				what = kNull
			case p.tok.isKeyword("undefined"):
				what = kUndefined
			default:
				return nil, p.errorf("expected NULL or UNDEFINED after IS but found %s", p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			l = &isExpr{x: l, what: what, not: neg}
		case p.tok.isKeyword("in"), p.tok.isKeyword("not") && p.peek().isKeyword("in"):
			neg := p.tok.isKeyword("not")
			if neg {
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			r, err := p.additive()
			if err != nil {
				return nil, err
			}
			l = &inExpr{x: l, list: r, not: neg}
		default:
			return l, nil
		}
	}
}

func (p *parser) additive() (expr, *ParseError) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.tok.is("+") || p.tok.is("-") {
		op := opAdd
		if p.tok.text == "-" {
			op = opSub
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) multiplicative() (expr, *ParseError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok.is("*") || p.tok.is("/") || p.tok.is("%") {
		op := map[string]binOp{"*": opMul, "/": opDiv, "%": opMod}[p.tok.text]
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (expr, *ParseError) {
	if p.tok.is("-") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, p.errorf("expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if lit, ok := x.(*litExpr); ok && lit.v.isNumber() {
			return &litExpr{v: negate(lit.v)}, nil // fold -1 into a literal, so that WHEN -1 works
		}
		return &negExpr{x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, *ParseError) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.tok.is("."):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tIdent || isReserved(p.tok.text) {
				hint := ""
				if p.tok.kind == tNumber {
					hint = "; a key that starts with a digit or holds a '-' needs get(), e.g. get(a, '0')"
				}
				return nil, p.errorf("expected a field name after '.' but found %s%s", p.tok.describe(), hint)
			}
			x = &fieldExpr{base: x, name: p.tok.text}
			if err := p.advance(); err != nil {
				return nil, err
			}
		case p.tok.is("["):
			if err := p.advance(); err != nil {
				return nil, err
			}
			i, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct("]"); err != nil {
				return nil, err
			}
			x = &indexExpr{base: x, index: i}
		default:
			return x, nil
		}
	}
}

func (p *parser) primary() (expr, *ParseError) {
	t := p.tok
	switch t.kind {
	case tEOF:
		return nil, p.errorf("unexpected end of statement; expected an expression")
	case tNumber:
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &litExpr{v: numberLiteral(t.text)}, nil
	case tString:
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &litExpr{v: vString(t.text)}, nil
	case tPunct:
		switch t.text {
		case "(":
			return p.paren()
		case "[":
			return p.arrayLiteral()
		case "{":
			return p.objectLiteral()
		case "*":
			if err := p.advance(); err != nil {
				return nil, err
			}
			return starExpr{}, nil
		case "||":
			return nil, p.errorf("'||' is not an AWS IoT SQL operator; concatenate strings with + or concat()")
		}
		return nil, p.errorf("unexpected %s; expected an expression", t.describe())
	}
	// Identifier: keyword literal, CASE, function call or field.
	switch {
	case t.isKeyword("true"), t.isKeyword("false"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &litExpr{v: vBool(t.isKeyword("true"))}, nil
	case t.isKeyword("null"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &litExpr{v: vNull()}, nil
	case t.isKeyword("case"):
		return p.caseExpr()
	case isReserved(t.text):
		return nil, p.errorf("unexpected keyword %s; expected an expression", strings.ToUpper(t.text))
	}
	if p.peek().is("(") {
		return p.call()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &fieldExpr{name: t.text}, nil
}

// numberLiteral reads a number as written in SQL; like payload numbers, a whole number such as 10.0
// is an Int in SQL version 2016-03-23.
func numberLiteral(text string) value {
	integer := !strings.ContainsAny(text, ".eE")
	return numberValue(text, integer)
}

func negate(v value) value {
	if v.k == kInt {
		if v.i == -v.i && v.i != 0 { // MinInt64
			return vDecimal(-float64(v.i))
		}
		return vInt(-v.i)
	}
	n := vDecimal(-v.f)
	if v.s != "" {
		if strings.HasPrefix(v.s, "-") {
			n.s = v.s[1:]
		} else {
			n.s = "-" + v.s
		}
	}
	return n
}

func (p *parser) paren() (expr, *ParseError) {
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.isKeyword("select") {
		return p.subquery(open)
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.tok.is(")") {
		return nil, p.errorf("expected ')' to close the '(' at column %d but found %s", p.columnOf(open.pos), p.tok.describe())
	}
	return e, p.advance()
}

func (p *parser) columnOf(offset int) int {
	return newParseError(p.src, offset, "").Column
}

// subquery parses a nested SELECT over an array: (SELECT VALUE n FROM e WHERE …). Its FROM names an
// array (any expression), whose items are the documents the nested SELECT and WHERE read.
// AWS: iot-sql-nested-queries.
func (p *parser) subquery(open token) (expr, *ParseError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.errorf("expression nested too deeply")
	}
	if err := p.advance(); err != nil { // SELECT
		return nil, err
	}
	sel, err := p.selectList(false)
	if err != nil {
		return nil, err
	}
	if !p.tok.isKeyword("from") {
		return nil, p.errorf("a nested SELECT needs FROM followed by an array, but found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	from, err := p.expr()
	if err != nil {
		return nil, err
	}
	q := &selectExpr{sel: sel, from: from}
	if p.tok.isKeyword("where") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if q.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if !p.tok.is(")") {
		return nil, p.errorf("expected ')' to close the nested SELECT opened at column %d but found %s", p.columnOf(open.pos), p.tok.describe())
	}
	return q, p.advance()
}

func (p *parser) arrayLiteral() (expr, *ParseError) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	a := &arrayExpr{}
	if p.tok.is("]") {
		return a, p.advance()
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		a.items = append(a.items, e)
		if p.tok.is("]") {
			return a, p.advance()
		}
		if !p.tok.is(",") {
			return nil, p.errorf("expected ',' or ']' in the array literal but found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// objectLiteral parses {'key': expr, …}; keys are string literals (AWS: iot-sql-literals).
func (p *parser) objectLiteral() (expr, *ParseError) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	o := &objectExpr{}
	if p.tok.is("}") {
		return o, p.advance()
	}
	for {
		if p.tok.kind != tString {
			return nil, p.errorf("expected a quoted key in the object literal but found %s", p.tok.describe())
		}
		o.keys = append(o.keys, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectPunct(":"); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		o.vals = append(o.vals, e)
		if p.tok.is("}") {
			return o, p.advance()
		}
		if !p.tok.is(",") {
			return nil, p.errorf("expected ',' or '}' in the object literal but found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// caseExpr parses CASE v WHEN t THEN r … [ELSE e] END. The WHEN values are constants compared with
// v for equality (AWS: iot-sql-case; github.com/awsdocs/aws-iot-docs/issues/60).
func (p *parser) caseExpr() (expr, *ParseError) {
	if err := p.advance(); err != nil { // CASE
		return nil, err
	}
	if p.tok.isKeyword("when") {
		return nil, p.errorf("CASE needs a value to compare: CASE v WHEN constant THEN result … END")
	}
	subject, err := p.expr()
	if err != nil {
		return nil, err
	}
	c := &caseExpr{subject: subject}
	for p.tok.isKeyword("when") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		start := p.tok.pos
		t, err := p.expr()
		if err != nil {
			return nil, err
		}
		lit, ok := t.(*litExpr)
		if !ok {
			return nil, newParseError(p.src, start, "WHEN takes a constant (a number, string, true, false or null)")
		}
		if !p.tok.isKeyword("then") {
			return nil, p.errorf("expected THEN but found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.whens = append(c.whens, lit.v)
		c.thens = append(c.thens, r)
	}
	if len(c.whens) == 0 {
		return nil, p.errorf("CASE needs at least one WHEN clause but found %s", p.tok.describe())
	}
	if p.tok.isKeyword("else") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if c.els, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if !p.tok.isKeyword("end") {
		return nil, p.errorf("expected END to close CASE but found %s", p.tok.describe())
	}
	return c, p.advance()
}

// castTypes maps the type names cast() accepts to the kind it converts to
// (AWS: iot-sql-functions#iot-sql-function-cast).
var castTypes = map[string]kind{
	"string": kString, "nvarchar": kString, "text": kString, "ntext": kString, "varchar": kString,
	"int": kInt, "integer": kInt, "double": kDecimal, "decimal": kDecimal, "bool": kBool, "boolean": kBool,
}

func (p *parser) call() (expr, *ParseError) {
	name := p.tok
	fn := lookupFunction(name.text)
	if fn == nil {
		return nil, p.errorf("unknown function '%s'", name.text)
	}
	if err := p.advance(); err != nil { // name
		return nil, err
	}
	if err := p.advance(); err != nil { // (
		return nil, err
	}
	if fn.name == "cast" {
		return p.castArgs(name)
	}
	c := &callExpr{fn: fn}
	if !p.tok.is(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if p.tok.is(")") {
				break
			}
			if !p.tok.is(",") {
				return nil, p.errorf("expected ',' or ')' in the arguments of %s() but found %s", fn.name, p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if err := p.advance(); err != nil { // )
		return nil, err
	}
	// Compile a constant regular expression once.
	if fn.regexArg > 0 && len(c.args) > fn.regexArg {
		if lit, ok := c.args[fn.regexArg].(*litExpr); ok {
			if s, ok := toString(lit.v); ok {
				c.re, c.reErr = regexp.Compile(s)
				c.reConst = true
			}
		}
	}
	return c, nil
}

func (p *parser) castArgs(name token) (expr, *ParseError) {
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.tok.isKeyword("as") {
		return nil, p.errorf("expected AS in cast(value AS type) but found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	to, ok := castTypes[strings.ToLower(p.tok.text)]
	if p.tok.kind != tIdent || !ok {
		return nil, p.errorf("unknown type %s in cast(); use String, Int, Decimal, Bool or Double", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.tok.is(")") {
		return nil, p.errorf("expected ')' to close cast( at column %d but found %s", p.columnOf(name.pos), p.tok.describe())
	}
	return &castExpr{x: x, to: to}, p.advance()
}

// readsFields reports whether e reads fields of the payload: a bare field name, or * anywhere but
// as the first argument of encode() (AWS: binary-payloads).
func readsFields(e expr) bool {
	switch x := e.(type) {
	case *fieldExpr:
		return x.base == nil || readsFields(x.base)
	case starExpr:
		return true
	case *indexExpr:
		return readsFields(x.base) || readsFields(x.index)
	case *binExpr:
		return readsFields(x.l) || readsFields(x.r)
	case *logicExpr:
		return readsFields(x.l) || readsFields(x.r)
	case *notExpr:
		return readsFields(x.x)
	case *negExpr:
		return readsFields(x.x)
	case *isExpr:
		return readsFields(x.x)
	case *inExpr:
		return readsFields(x.x) || readsFields(x.list)
	case *arrayExpr:
		for _, i := range x.items {
			if readsFields(i) {
				return true
			}
		}
	case *objectExpr:
		for _, v := range x.vals {
			if readsFields(v) {
				return true
			}
		}
	case *caseExpr:
		if readsFields(x.subject) || x.els != nil && readsFields(x.els) {
			return true
		}
		for _, t := range x.thens {
			if readsFields(t) {
				return true
			}
		}
	case *castExpr:
		return readsFields(x.x)
	case *callExpr:
		for i, a := range x.args {
			if i == 0 && x.fn.name == "encode" {
				if _, ok := a.(starExpr); ok {
					continue
				}
			}
			if readsFields(a) {
				return true
			}
		}
	case *selectExpr:
		return true
	}
	return false
}
