package sql

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		topic   string
		hasFrom bool
	}{
		{"select star", "SELECT * FROM 'topic/subtopic'", "topic/subtopic", true},
		{"lower-case keywords", "select color as c from 'a/b' where temperature > 50", "a/b", true},
		{"mixed-case keywords", "Select * From 'a' Where x = 1", "a", true},
		{"plus wildcard", "SELECT * FROM 'home/+/temperature'", "home/+/temperature", true},
		{"hash wildcard", "SELECT * FROM 'topic/#'", "topic/#", true},
		{"hash alone", "SELECT * FROM '#'", "#", true},
		{"lifecycle events", "SELECT * FROM '$aws/events/presence/+/+'", "$aws/events/presence/+/+", true},
		{"no FROM for Basic Ingest", "SELECT *", "", false},
		{"no FROM with WHERE", "SELECT temp WHERE temp > 1", "", false},
		{"whitespace and newlines", "SELECT\n\t*\r\nFROM\n'a'\n", "a", true},
		{"checklist 94", "SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30", "sensors/+/data", true},
		{"double-quoted strings", `SELECT "a\"b" AS s, 'it''s' AS t, 'tab\t' AS u FROM 't'`, "t", true},
		{"escapes in topic", `SELECT * FROM 'a\/b'`, "a/b", true},
		{"numbers", "SELECT 1, -2, 3.5, 1e3, 2.5E-3, 0 FROM 't'", "t", true},
		{"literals", "SELECT true, FALSE, null, [], [1, 'a'], {}, {'k': [1]} FROM 't'", "t", true},
		{"cast types", "SELECT cast(a AS String), cast(a AS Int), cast(a AS Decimal), cast(a AS Bool), cast(a as double), cast(a AS varchar) FROM 't'", "t", true},
		{"nested select", "SELECT (SELECT VALUE n FROM e WHERE v > 1) AS x FROM 't'", "t", true},
		{"case", "SELECT CASE a WHEN 1 THEN 'one' WHEN 'x' THEN 2 ELSE null END AS c FROM 't'", "t", true},
		{"is and in", "SELECT * FROM 't' WHERE a IS NOT NULL AND b IS UNDEFINED AND c IN [1, 2] AND d NOT IN [3]", "t", true},
		{"not equal both ways", "SELECT * FROM 't' WHERE a <> 1 AND b != 2", "t", true},
		{"external functions parse", "SELECT aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:f', {'x': x}) AS r FROM 't'", "t", true},
		{"field named like a function", "SELECT timestamp, topic FROM 't'", "t", true},
		{"select value keyword", "SELECT VALUE a.b FROM 't'", "t", true},
		{"select value as a field", "SELECT value, value AS v FROM 't'", "t", true},
		{"star in arguments", "SELECT encode(*, 'base64') AS d, get(*, 'end') AS e FROM 't'", "t", true},
		{"postfix on calls", "SELECT get(a, 0).v, decode(x, 'base64').t[0] FROM 't'", "t", true},
		{"dotted alias", "SELECT foo.bar AS bar.baz FROM 't'", "t", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.sql)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := st.Topic(); got != tc.topic {
				t.Errorf("Topic() = %q, want %q", got, tc.topic)
			}
			if got := st.HasFrom(); got != tc.hasFrom {
				t.Errorf("HasFrom() = %v, want %v", got, tc.hasFrom)
			}
			if st.SQL() != tc.sql {
				t.Errorf("SQL() = %q, want %q", st.SQL(), tc.sql)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name   string
		sql    string
		want   string // substring of the message
		column int    // 1-based column of the error, 0 to skip
	}{
		{"empty", "", "empty statement", 1},
		{"blank", "   ", "empty statement", 4},
		{"not a select", "DELETE FROM 'a'", "expected SELECT but found 'DELETE'", 1},
		{"nothing selected", "SELECT", "expected an expression or * in the SELECT list but found end of statement", 7},
		{"nothing selected before FROM", "SELECT FROM 'a'", "expected an expression or *", 8},
		{"trailing comma", "SELECT a, FROM 'a'", "expected an expression or *", 11},
		{"FROM without topic", "SELECT * FROM", "FROM needs a topic filter in single quotes", 14},
		{"unquoted topic", "SELECT * FROM topic/#", "FROM needs a topic filter in single quotes", 15},
		{"double-quoted topic", `SELECT * FROM "a/b"`, `found string "a/b"`, 15},
		{"hash not last", "SELECT * FROM 'a/#/b'", "'#' must be the last level", 15},
		{"plus inside a level", "SELECT * FROM 'a/b+'", "a wildcard must occupy a whole topic level", 15},
		{"hash inside a level", "SELECT * FROM 'a#'", "a wildcard must occupy a whole topic level", 15},
		{"empty topic", "SELECT * FROM ''", "invalid topic filter '': it is empty", 15},
		{"unknown function", "SELECT foo(1) FROM 'a'", "unknown function 'foo'", 8},
		{"unterminated string", "SELECT * FROM 'a", "unterminated string literal (missing closing ')", 15},
		{"unterminated double-quoted string", `SELECT "abc FROM 'a'`, `unterminated string literal (missing closing ")`, 8},
		{"unbalanced open paren", "SELECT (a FROM 'a'", "expected ')' to close the '(' at column 8 but found 'FROM'", 11},
		{"unbalanced close paren", "SELECT a) FROM 'a'", "unexpected ')' after the end of the statement", 9},
		{"unclosed call", "SELECT upper(a FROM 'a'", "expected ',' or ')' in the arguments of upper() but found 'FROM'", 16},
		{"unclosed bracket", "SELECT a[0 FROM 'a'", "expected ']' but found 'FROM'", 12},
		{"trailing garbage", "SELECT * FROM 'a' garbage", "unexpected 'garbage' after the end of the statement", 19},
		{"semicolon", "SELECT * FROM 'a';", "unexpected character ';'", 18},
		{"where without condition", "SELECT * FROM 'a' WHERE", "unexpected end of statement; expected an expression", 24},
		{"incomplete comparison", "SELECT * FROM 'a' WHERE a >", "unexpected end of statement", 28},
		{"double operator", "SELECT * FROM 'a' WHERE a > > 1", "unexpected '>'; expected an expression", 29},
		{"pipe concatenation", "SELECT a || b FROM 'a'", "'||' is not an AWS IoT SQL operator", 10},
		{"two FROMs", "SELECT * FROM 'a' FROM 'b'", "a statement has one FROM clause", 19},
		{"FROM after WHERE", "SELECT * WHERE x = 1 FROM 'a'", "FROM must come before WHERE", 22},
		{"two WHEREs", "SELECT * FROM 'a' WHERE x WHERE y", "a statement has one WHERE clause", 27},
		{"missing alias", "SELECT a AS FROM 'a'", "expected a name after AS but found 'FROM'", 13},
		{"alias is a string", "SELECT a AS 'x' FROM 'a'", "expected a name after AS", 13},
		{"alias without AS", "SELECT a b FROM 'a'", "unexpected 'b' after the end of the statement", 10},
		{"unknown cast type", "SELECT cast(a AS Blob) FROM 'a'", "unknown type 'Blob' in cast()", 18},
		{"cast without AS", "SELECT cast(a, 'String') FROM 'a'", "expected AS in cast(value AS type)", 14},
		{"cast unclosed", "SELECT cast(a AS Int FROM 'a'", "expected ')' to close cast(", 22},
		{"case with expression in WHEN", "SELECT CASE a WHEN b THEN 1 END FROM 'a'", "WHEN takes a constant", 20},
		{"searched case", "SELECT CASE WHEN a THEN 1 END FROM 'a'", "CASE needs a value to compare", 13},
		{"case without WHEN", "SELECT CASE a END FROM 'a'", "CASE needs at least one WHEN clause", 15},
		{"case without END", "SELECT CASE a WHEN 1 THEN 2 FROM 'a'", "expected END to close CASE", 29},
		{"case without THEN", "SELECT CASE a WHEN 1 2 END FROM 'a'", "expected THEN", 22},
		{"numeric field after dot", "SELECT a.0 FROM 't'", "needs get(), e.g. get(a, '0')", 10},
		{"bad number", "SELECT 12abc FROM 't'", `invalid number "12a"`, 8},
		{"unexpected character", "SELECT # FROM 't'", "unexpected character '#'", 8},
		{"select value of two", "SELECT VALUE a, b FROM 't'", "SELECT VALUE takes exactly one expression", 15},
		{"select value with alias", "SELECT VALUE a AS b FROM 't'", "SELECT VALUE takes no alias", 16},
		{"nested select without FROM", "SELECT (SELECT v) AS x FROM 't'", "a nested SELECT needs a FROM clause naming an array", 17},
		{"nested select unclosed", "SELECT (SELECT v FROM e AS x FROM 't'", "expected ')' to close the nested SELECT opened at column 8", 25},
		{"object literal key", "SELECT {a: 1} FROM 't'", "expected a quoted key in the object literal", 9},
		{"object literal colon", "SELECT {'a' 1} FROM 't'", "expected ':' but found '1'", 13},
		{"object literal unclosed", "SELECT {'a': 1 FROM 't'", "expected ',' or '}' in the object literal", 16},
		{"array literal unclosed", "SELECT [1, 2 FROM 't'", "expected ',' or ']' in the array literal", 14},
		{"keyword as field", "SELECT end FROM 't'", "unexpected keyword END; expected an expression", 8},
		{"IS without NULL", "SELECT * FROM 't' WHERE a IS 5", "expected NULL or UNDEFINED after IS but found '5'", 30},
		{"deep nesting", "SELECT " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + " FROM 't'", "expression nested too deeply", 0},
		{"deep NOT", "SELECT * FROM 't' WHERE " + strings.Repeat("NOT ", 300) + "true", "expression nested too deeply", 0},
		{"deep minus", "SELECT " + strings.Repeat("- ", 300) + "1 FROM 't'", "expression nested too deeply", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.sql)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error containing %q", tc.sql, tc.want)
			}
			if st != nil {
				t.Errorf("Parse returned a statement with the error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error type %T, want *ParseError", err)
			}
			if !errors.Is(err, ErrParse) {
				t.Errorf("errors.Is(err, ErrParse) = false")
			}
			if !strings.Contains(pe.Message, tc.want) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.want)
			}
			if tc.column != 0 && pe.Column != tc.column {
				t.Errorf("column = %d, want %d (%s)", pe.Column, tc.column, pe.Message)
			}
			if !strings.HasPrefix(err.Error(), "sql: Syntax error at line ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	_, err := Parse("SELECT *\nFROM 'a' WHERE föo(1)")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if pe.Line != 2 || pe.Column != 17 || pe.Offset != 25 {
		t.Errorf("position = line %d column %d offset %d, want line 2 column 17 offset 25", pe.Line, pe.Column, pe.Offset)
	}
	if want := "Syntax error at line 2, column 17: unexpected character 'ö'"; pe.Message != want {
		t.Errorf("Message = %q, want %q", pe.Message, want)
	}
}
