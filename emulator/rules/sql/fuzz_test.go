package sql

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// fuzzPayloads are evaluated by every statement FuzzParse accepts: an object, a nested document, JSON
// that is not an object, binary, and nothing.
var fuzzPayloads = [][]byte{
	[]byte(`{"temp":31,"color":"red","a":{"b":[1,2.5,"x",null,true,{"c":"d"}]},"e":[{"n":"t","v":1}],"s":"aGk="}`),
	[]byte(`[1,{"a":2}]`), []byte(`-12.5e3`), []byte(`"str"`), []byte("\x00\x01\xff"), nil,
}

var fuzzSQL = []string{
	"SELECT * FROM 'a/#'",
	"SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30",
	"SELECT VALUE (SELECT VALUE n FROM e WHERE v >= 1) FROM 't'",
	"SELECT CASE color WHEN 'red' THEN 1 ELSE 2 END AS c, a.b[5] AS x, cast(temp AS String) FROM 't' WHERE NOT (temp IS NULL)",
	"SELECT {'k': [temp, -temp, temp / 0, temp % 3]} AS o, concat(a.b, 'z') AS c FROM 't' WHERE temp IN [31]",
	"SELECT encode(*, 'base64') AS raw, decode(s, 'base64') AS d, regexp_replace(color, '(r)', '$1$1') AS r FROM 't'",
	"SELECT substring(color, -1, 99), lpad(temp, 3), trunc(2.345, 1), power(temp, 0.5), md5(*) FROM 't'",
	"SELECT aws_lambda('arn', *) AS x FROM 't'",
	"SELECT * AS p, 1 AS p.q.r FROM 't' WHERE 'true' OR false",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSQL {
		f.Add(s)
	}
	for _, s := range []string{"", "SELECT", "SELECT * FROM '", "SELECT ((((", "SELECT a.0", "SELECT 'a' || 'b'", "SELECT \"\\u00e9\""} {
		f.Add(s)
	}
	f.Add("alerts/${topic(2)}/$$x/${ {'a':'}'}.a }")
	f.Fuzz(func(t *testing.T, sql string) {
		// The same text as a substitution template: parsing and expanding must not panic.
		if tmpl, err := ParseTemplate(sql); err == nil {
			for _, p := range fuzzPayloads {
				if _, err := tmpl.Expand(p, testEnv()); err != nil && !errors.Is(err, ErrNotLocal) {
					t.Fatalf("Expand(%q): unexpected error %v", sql, err)
				}
			}
		} else if !errors.Is(err, ErrParse) {
			t.Fatalf("ParseTemplate error %T %v", err, err)
		}
		st, err := Parse(sql)
		st2, err2 := Parse(sql)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("Parse is not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || st != nil {
				t.Fatalf("Parse error %T %v with statement %v", err, err, st != nil)
			}
			if pe.Offset < 0 || pe.Offset > len(sql) || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("bad position %+v", pe)
			}
			return
		}
		if st.Topic() != st2.Topic() || st.HasFrom() != st2.HasFrom() {
			t.Fatalf("Parse is not deterministic")
		}
		_ = st.Matches("a/b")
		_ = st.Matches("$aws/events/presence/connected/c1")
		for _, p := range fuzzPayloads {
			checkEvaluate(t, st, p)
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	for i, p := range fuzzPayloads {
		f.Add(uint8(i), p)
	}
	f.Add(uint8(1), []byte(`{"temp":"31","color":["r"],"e":{"n":1},"a":{"b":"x"}}`))
	stmts := make([]*Statement, len(fuzzSQL))
	for i, s := range fuzzSQL {
		stmts[i] = mustParse(f, s)
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		checkEvaluate(t, stmts[int(which)%len(stmts)], payload)
	})
}

// checkEvaluate evaluates a statement twice and checks what must hold for any payload: no panic,
// the same result both times, and a JSON result unless the payload was passed through.
func checkEvaluate(t *testing.T, st *Statement, payload []byte) {
	t.Helper()
	env := testEnv()
	out, ok, err := st.Evaluate(payload, env)
	out2, ok2, err2 := st.Evaluate(payload, env)
	if ok != ok2 || !bytes.Equal(out, out2) || !reflect.DeepEqual(err, err2) {
		t.Fatalf("%q on %q: not deterministic: %q %v %v / %q %v %v", st.SQL(), payload, out, ok, err, out2, ok2, err2)
	}
	if err != nil {
		var ee *EvalError
		if !errors.As(err, &ee) || out != nil {
			t.Fatalf("%q on %q: error %T %v with output %q", st.SQL(), payload, err, err, out)
		}
		return
	}
	if !ok {
		if out != nil {
			t.Fatalf("%q on %q: output %q although WHERE was false", st.SQL(), payload, out)
		}
		return
	}
	if len(out) > 0 && !bytes.Equal(out, payload) && !json.Valid(out) {
		t.Fatalf("%q on %q: output is not JSON: %q", st.SQL(), payload, out)
	}
}
