package sql

import (
	"errors"
	"testing"
)

// TestFunctions evaluates SELECT VALUE <expr> and compares the JSON written; "" stands for Undefined.
// Expected values come from the examples and tables of AWS: iot-sql-functions, unless noted.
func TestFunctions(t *testing.T) {
	payload := `{"n":null,"s":"Hello","i":-7,"d":2.5,"b":true,"arr":[1,"two",3],"o":{"k":"v"},"enc":"eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==","txt":"aGk=","num":"-5.123"}`
	tests := []struct{ expr, want string }{
		// topic(), context functions.
		{"topic()", `"sensors/d1/data"`},
		{"topic(1)", `"sensors"`},
		{"topic(2)", `"d1"`},
		{"topic(3)", `"data"`},
		{"topic(4)", ``},
		{"topic(0)", ``},
		{"topic(2.7)", `"d1"`},
		{"topic('2')", `"d1"`},
		{"clientid()", `"c1"`},
		{"principal()", `"a1b2c3d4"`},
		{"accountid()", `"123456789012"`},
		{"sourceip()", `"192.0.2.7"`},
		{"traceid()", `"7e146a2c-95b5-6caf-98b9-50e3969734c7"`},
		{"timestamp()", `1704164645000`},
		{"newuuid()", `"123e4567-e89b-12d3-a456-426614174000"`},
		{"rand()", `0.25`},
		{"sql_version()", `"2016-03-23"`},
		{"topic(1, 2)", ``}, // wrong number of arguments: Undefined (AWS: iot-sql-data-types)
		// Types.
		{"isNull(n)", `true`},
		{"isNull(5)", `false`},
		{"isNull(missing)", `false`},
		{"isUndefined(missing)", `true`},
		{"isUndefined(floor([1,2,3]))", `true`},
		{"isUndefined(n)", `false`},
		{"get(['a', 'b', 'c'], 1)", `"b"`},
		{"get({'a':'b'}, 'a')", `"b"`},
		{"get('abc', 1)", `"b"`}, // the page's example says "a", its table says 0-based
		{"get(arr, '2')", `3`},
		{"get(arr, 1.6)", `3`}, // Decimal rounded to the nearest Int
		{"get(arr, 3)", ``},
		{"get(arr, -1)", ``},
		{"get(o, 1)", ``},
		{"get(5, 0)", ``},
		{"get_or_default(missing, 'dflt')", `"dflt"`},
		{"get_or_default(s, 'dflt')", `"Hello"`},
		{"nanvl(8, 3)", `8`},
		{"nanvl(missing, 3)", `3`},
		{"nanvl(n, 3)", `3`},
		{"cast(true AS Int)", `1`},
		{"cast(false AS Integer)", `0`},
		{"cast(2.7 AS Int)", `2`},
		{"cast(-2.5 AS Int)", `-3`},
		{"cast('5.9' AS Int)", `5`},
		{"cast('x' AS Int)", ``},
		{"cast(n AS Int)", ``},
		{"cast(3 AS Decimal)", `3`},
		{"cast('1.25' AS Decimal)", `1.25`},
		{"cast(true AS Decimal)", `1`},
		{"cast(7 AS Double)", `7`},
		{"cast(0 AS Bool)", `false`},
		{"cast(2.5 AS Boolean)", `true`},
		{"cast('TRUE' AS Bool)", `true`},
		{"cast('yes' AS Bool)", ``},
		{"cast(12 AS String)", `"12"`},
		{"cast(true AS varchar)", `"true"`},
		{"cast(arr AS String)", `"[1,\"two\",3]"`},
		{"cast(o AS nvarchar)", `"{\"k\":\"v\"}"`},
		{"cast(n AS String)", ``},
		{"cast(missing AS String)", ``},
		// Numbers.
		{"abs(-5)", `5`},
		{"abs(i)", `7`},
		{"abs(-2.5)", `2.5`},
		{"abs(num)", `5.123`}, // 'abs("-5.123")' is treated as 'abs(-5.123)'
		{"abs('x')", ``},
		{"abs(true)", ``},
		{"abs(n)", ``},
		{"ceil(1.2)", `2`},
		{"ceil(-1.2)", `-1`},
		{"ceil(3)", `3`},
		{"floor(1.2)", `1`},
		{"floor(-1.2)", `-2`},
		{"floor('2.9')", `2`},
		{"floor(arr)", ``},
		{"round(1.2)", `1`},
		{"round(1.5)", `2`},
		{"round(1.7)", `2`},
		{"round(-1.1)", `-1`},
		{"round(-1.5)", `-2`},
		{"sign(-7)", `-1`},
		{"sign(0)", `0`},
		{"sign(13)", `1`},
		{"sign('-0.5')", `-1`},
		{"mod(8, 3)", `2`},
		{"remainder(8, 3)", `2`},
		{"mod(-8, 3)", `-2`},
		{"mod(8.5, 3)", `2.5`},
		{"mod('8', 3)", `2`},
		{"mod(8, 0)", ``},
		{"mod(true, 2)", ``},
		{"power(2, 5)", `32`},
		{"power(2, 0.5)", `1.4142135623730951`},
		{"power(-8, 0.5)", ``}, // imaginary: Undefined
		{"sqrt(9)", `3`},
		{"sqrt(-1)", ``},
		{"exp(0)", `1`},
		{"ln(1)", `0`},
		{"log(100)", `2`},
		{"log(0)", ``}, // -Infinity is not a value
		{"cos(0)", `1`},
		{"sin(0)", `0`},
		{"cosh(2.3)", `5.037220649268761`},
		{"sinh(2.3)", `4.936961805545957`},
		{"tanh(2.3)", `0.9800963962661914`},
		{"tan(3)", `-0.1425465430742778`},
		{"acos(2)", ``},
		{"atan2(1, 1)", `0.7853981633974483`},
		{"trunc(2.3, 0)", `2`},
		{"trunc(2.3123, 2)", `2.31`},
		{"trunc(2.888, 2)", `2.88`},
		{"trunc(2.00, 5)", `2`},
		{"trunc(-2.888, 1)", `-2.8`},
		{"trunc(7, 2)", `7`},
		{"trunc('x', 2)", ``},
		{"bitand(13, 5)", `5`},
		{"bitor(8, 5)", `13`},
		{"bitxor(13, 5)", `8`},
		{"bitand(13.9, '5')", `5`},
		{"bitnot(13)", `-14`}, // the page's example says 2; two's complement NOT is -14
		{"bitor('x', 1)", ``},
		// Strings.
		{"lower('HELLO')", `"hello"`},
		{"lower(['HELLO'])", `"[\"hello\"]"`},
		{"upper('hello')", `"HELLO"`},
		{"upper(['hello'])", `"[\"HELLO\"]"`},
		{"upper(n)", ``},
		{"length('hi')", `2`},
		{"length(false)", `5`},
		{"length('é€')", `2`},
		{"numbytes('hi')", `2`},
		{"numbytes('€')", `3`},
		{"trim(' hi ')", `"hi"`},
		{"ltrim(' h i ')", `"h i "`},
		{"rtrim(' h i ')", `" h i"`},
		{"trim(5)", `"5"`},
		{"trim(n)", ``},
		{"concat()", ``},
		{"concat(1)", `1`},
		{"concat([1, 2, 3], 4)", `[1,2,3,4]`},
		{"concat([1, 2, 3], 'hello')", `[1,2,3,"hello"]`},
		{"concat('con', 'cat')", `"concat"`},
		{"concat(1, 'hello')", `"1hello"`},
		{"concat('he', 'is', 'man')", `"heisman"`},
		{"concat([1, 2, 3], 'hello', [4, 5, 6])", `[1,2,3,"hello",4,5,6]`},
		{"concat(1, 2)", ``},
		{"concat('a', missing)", ``},
		{"startswith('ranger', 'ran')", `true`},
		{"startswith('ranger', 'x')", `false`},
		{"startswith(123, 12)", `true`},
		{"startswith(n, 'a')", ``},
		{"endswith('cat', 'at')", `true`},
		{"endswith('cat', missing)", ``},
		{"indexof('abcd', 'bc')", `1`},
		{"indexof('abcd', 'x')", `-1`},
		{"replace('abcd', 'bc', 'x')", `"axd"`},
		{"replace('abcdabcd', 'b', 'x')", `"axcdaxcd"`},
		{"replace(n, 'b', 'x')", ``},
		{"substring('012345', 0)", `"012345"`},
		{"substring('012345', 2)", `"2345"`},
		{"substring('012345', 2.745)", `"2345"`},
		{"substring(123, 2)", `"3"`},
		{"substring('012345', -1)", `"012345"`},
		{"substring(true, 1.2)", `"rue"`},
		{"substring(false, -2.411E247)", `"false"`},
		{"substring('012345', 1, 3)", `"12"`},
		{"substring('012345', -50, 50)", `"012345"`},
		{"substring('012345', 3, 1)", `""`},
		{"substring('012345', 'x')", ``},
		{"lpad('hello', 2)", `"  hello"`},
		{"lpad(1, 3)", `"   1"`},
		{"rpad('hello', 2)", `"hello  "`},
		{"rpad(1, 3)", `"1   "`},
		{"lpad('a', -4)", `"a"`},
		{"lpad('a', 'x')", ``},
		{"chr(65)", `"A"`},
		{"chr(49)", `"1"`},
		{"chr(65.9)", `"A"`},
		{"chr(200)", ``},
		{"regexp_matches('aaaa', 'a{2,}')", `true`},
		{"regexp_matches('aaaa', 'b')", `false`},
		{"regexp_matches('a1', '\\d')", `true`},
		{"regexp_matches('aaaa', '(')", ``},
		{"regexp_matches(s, concat('^', 'H'))", `true`},
		{"regexp_matches(n, 'a')", ``},
		{"regexp_replace('abcd', 'bc', 'x')", `"axd"`},
		{"regexp_replace('abcd', 'b(.*)d', '$1')", `"ac"`},
		{"regexp_replace('abcd', 'b', '\\$')", `"a$cd"`},
		{"regexp_replace('abcd', 'b', '$')", ``},
		{"regexp_substr('hihihello', 'hi')", `"hi"`},
		{"regexp_substr('hihihello', '(hi)*')", `"hihi"`},
		{"md5('hello')", `"5d41402abc4b2a76b9719d911017c592"`},
		{"sha1('hello')", `"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"`},
		{"sha256('hello')", `"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"`},
		{"md5(n)", ``},
		// Encoding.
		{"encode('hi', 'base64')", `"aGk="`},
		{"encode(s, 'hex')", ``},
		{"decode(txt, 'base64')", `"hi"`},
		{"decode(enc, 'base64').temperature", `33`},
		{"decode('!!!', 'base64')", `null`},
		{"decode(txt, 'hex')", ``},
		{"decode(encode(o, 'base64'), 'base64')", `{"k":"v"}`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			st := mustParse(t, "SELECT VALUE "+tc.expr+" FROM 't'")
			out, ok, err := st.Evaluate([]byte(payload), testEnv())
			if err != nil || !ok {
				t.Fatalf("Evaluate: ok=%v err=%v", ok, err)
			}
			if string(out) != tc.want {
				t.Errorf("got %s, want %s", out, tc.want)
			}
		})
	}
}

func TestFunctionsWithoutEnv(t *testing.T) {
	// Zero Env fields make their functions Undefined; clientid() reports "n/a" for a message that did
	// not come over MQTT (AWS: iot-sql-functions#iot-sql-function-clientid).
	st := mustParse(t, "SELECT topic() AS t, clientid() AS c, principal() AS p, timestamp() AS ts, newuuid() AS u, rand() AS r, accountid() AS a, traceid() AS tr, sourceip() AS ip FROM 't'")
	out, ok, err := st.Evaluate([]byte(`{}`), Env{})
	if err != nil || !ok {
		t.Fatalf("Evaluate: ok=%v err=%v", ok, err)
	}
	if got, want := string(out), `{"c":"n/a"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestFunctionsNotLocal(t *testing.T) {
	for _, sql := range []string{
		"SELECT aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:f', *) AS r FROM 't'",
		"SELECT get_thing_shadow('t', 'n', 'arn:aws:iam::123456789012:role/r') AS s FROM 't'",
		"SELECT get_dynamodb('t', 'k', 'v', 'sk', 'sv', 'arn:aws:iam::123456789012:role/r') AS d FROM 't'",
		"SELECT get_secret('id', 'SecretString', 'k', 'arn:aws:iam::123456789012:role/r') AS s FROM 't'",
		"SELECT machinelearning_predict('m', 'arn:aws:iam::123456789012:role/r', *) AS p FROM 't'",
		"SELECT md2('hello') AS h FROM 't'",
		"SELECT parse_time('yyyy', timestamp()) AS t FROM 't'",
		"SELECT aws_lambda('too few') AS r FROM 't'",
	} {
		t.Run(sql, func(t *testing.T) {
			st := mustParse(t, sql)
			out, ok, err := st.Evaluate([]byte(`{"a":1}`), testEnv())
			if !errors.Is(err, ErrNotLocal) {
				t.Fatalf("err = %v, want ErrNotLocal", err)
			}
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Function == "" {
				t.Errorf("err = %#v, want an *EvalError naming the function", err)
			}
			if !ok || out != nil {
				t.Errorf("got out=%q ok=%v, want no output and ok (WHERE passed)", out, ok)
			}
		})
	}
	// In WHERE the failure comes before the decision: ok is false.
	st := mustParse(t, "SELECT * FROM 't' WHERE aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:f', *).ok = true")
	if _, ok, err := st.Evaluate([]byte(`{}`), testEnv()); !errors.Is(err, ErrNotLocal) || ok {
		t.Errorf("WHERE aws_lambda: ok=%v err=%v, want ok=false and ErrNotLocal", ok, err)
	}
}
