package sql

import (
	"bytes"
	"errors"
	"testing"
)

func TestEvaluate(t *testing.T) {
	env := testEnv()
	const colorTemp = `{"color":"red", "temperature":50}`
	tests := []struct {
		name    string
		sql     string
		payload string
		env     *Env   // testEnv() when nil
		want    string // JSON compared structurally; ignored when !ok
		exact   bool   // compare bytes, not structure (key order, number text)
		ok      bool
		err     error // errors.Is target
	}{
		// Checklist 94: SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts … WHERE temp > 30.
		{name: "checklist 94 fires", sql: "SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30",
			payload: `{"temp":31}`, want: `{"temp":31,"dev":"d1","cid":"c1","ts":1704164645000}`, exact: true, ok: true},
		{name: "checklist 94 does not fire", sql: "SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30",
			payload: `{"temp":20}`},

		// AWS: iot-sql-select examples.
		{name: "select star passes the payload", sql: "SELECT * FROM 'topic/subtopic'", payload: colorTemp, want: colorTemp, exact: true, ok: true},
		{name: "select field", sql: "SELECT color FROM 'topic/subtopic'", payload: colorTemp, want: `{"color":"red"}`, ok: true},
		{name: "select alias", sql: "SELECT color AS my_color FROM 'topic/subtopic'", payload: colorTemp, want: `{"my_color":"red"}`, ok: true},
		{name: "select two aliases", sql: "SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'", payload: colorTemp,
			want: `{"my_color":"red","fahrenheit":50}`, ok: true},
		{name: "star with extra field", sql: "SELECT *, 15 as speed FROM 'topic/subtopic'", payload: colorTemp,
			want: `{"color":"red","temperature":50,"speed":15}`, exact: true, ok: true},
		{name: "select value", sql: "SELECT VALUE color FROM 'topic/subtopic'", payload: colorTemp, want: `"red"`, exact: true, ok: true},
		{name: "nested field with alias", sql: "SELECT color.red as red_value FROM 'topic/subtopic'",
			payload: `{"color":{"red":255,"green":0,"blue":0}, "temperature":50}`, want: `{"red_value":255}`, ok: true},
		{name: "arithmetic and function", sql: "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'",
			payload: colorTemp, want: `{"celsius":10,"my_color":"RED"}`, ok: true},

		// AWS: iot-sql-where examples.
		{name: "where false", sql: "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'",
			payload: `{"color":"red", "temperature":40}`},
		{name: "where on decoded payload", sql: "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' WHERE decode(encode(*, 'base64'), 'base64') > 50",
			payload: `80`, want: `{"value":80}`, ok: true},
		{name: "where undefined is false", sql: "SELECT * FROM 't' WHERE missing > 1", payload: colorTemp},
		{name: "where true string", sql: "SELECT color FROM 't' WHERE 'TRUE'", payload: colorTemp, want: `{"color":"red"}`, ok: true},
		{name: "where number is not true", sql: "SELECT color FROM 't' WHERE 1", payload: colorTemp},
		{name: "where false and undefined", sql: "SELECT * FROM 't' WHERE NOT (1 = 2 AND missing = 1)", payload: colorTemp}, // AND table: Undefined

		// AWS: iot-sql-literals, iot-sql-case, iot-sql-json, iot-sql-nested-queries, iot-rule-sql-version.
		{name: "object literal", sql: "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
			payload: `{"lat_long": [47.606,-122.332]}`, want: `{"lat_long":{"latitude":47.606,"longitude":-122.332}}`, ok: true},
		{name: "array literal", sql: "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
			payload: `{"lat": 47.606, "long": -122.332}`, want: `{"lat_long":[47.606,-122.332]}`, ok: true},
		{name: "case", sql: "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END as instructions FROM 'topic/subtopic'",
			payload: `{"color":"yellow"}`, want: `{"instructions":"caution"}`, ok: true},
		{name: "case else", sql: "SELECT CASE color WHEN 'green' THEN 'go' ELSE 'other' END AS i FROM 't'", payload: `{"color":"blue"}`, want: `{"i":"other"}`, ok: true},
		{name: "case without match or else", sql: "SELECT CASE color WHEN 'green' THEN 'go' END AS i FROM 't'", payload: `{"color":"blue"}`, want: `{}`, ok: true},
		{name: "case undefined subject", sql: "SELECT CASE missing WHEN 1 THEN 'one' ELSE 'x' END AS i FROM 't'", payload: `{}`, want: `{}`, ok: true},
		{name: "case numbers", sql: "SELECT CASE n WHEN -1 THEN 'neg' WHEN 1.0 THEN 'one' END AS i FROM 't'", payload: `{"n":1}`, want: `{"i":"one"}`, ok: true},
		{name: "dotted alias nests", sql: "SELECT foo.bar AS bar.baz FROM 'topic/subtopic'",
			payload: `{"foo":{"bar":"RED","bar1":"GREEN","bar2":"BLUE"}}`, want: `{"bar":{"baz":"RED"}}`, ok: true},
		{name: "get for awkward keys", sql: `SELECT * FROM 'iot/rules' WHERE get(get(get(mydata,"item2"),"0"),"my-key") = "myValue"`,
			payload: `{"mydata":{"item2":{"0":{"my-key":"myValue"}}}}`, want: `{"mydata":{"item2":{"0":{"my-key":"myValue"}}}}`, ok: true},
		{name: "nested select value", sql: "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
			payload: sensorML, want: `{"sensors":["temperature","light","acidity"]}`, ok: true},
		{name: "nested select where", sql: "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
			payload: sensorML, want: `{"temperature":[{"v":22.5}]}`, ok: true},
		{name: "nested select flattened", sql: "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
			payload: sensorML, want: `{"temperature":22.5}`, ok: true},
		{name: "nested select over a non-array", sql: "SELECT (SELECT VALUE n FROM missing) AS x FROM 't'", payload: sensorML, want: `{}`, ok: true},
		{name: "nested select star", sql: "SELECT (SELECT *, 1 AS one FROM e WHERE v > 100) AS x FROM 't'", payload: sensorML,
			want: `{"x":[{"n":"light","u":"lm","t":1235,"v":135,"one":1}]}`, ok: true},
		{name: "top-level array", sql: "SELECT VALUE arr FROM 'topic'", payload: `{"a": {"b":"c"}, "arr":[1,2,3,4]}`, want: `[1,2,3,4]`, ok: true},
		{name: "decode json field", sql: `SELECT decode(encoded_temp,"base64").temperature AS temp from 'topic/subtopic'`,
			payload: `{"encoded_temp":"eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="}`, want: `{"temp":33}`, ok: true},
		{name: "select null", sql: "SELECT NULL AS n FROM 'topic/subtopic'", payload: `{}`, want: `{"n":null}`, ok: true},

		// AWS: binary-payloads; checklist 98.
		{name: "binary select star", sql: "SELECT * FROM 't'", payload: "\x00\x01\xffbinary", want: "\x00\x01\xffbinary", exact: true, ok: true},
		{name: "binary select star with where on timestamp", sql: "SELECT * FROM 'topic/subtopic' WHERE timestamp() % 1000 = 0",
			payload: "\x00\x01", want: "\x00\x01", exact: true, ok: true},
		{name: "binary star with added fields passes unchanged", sql: "SELECT *, principal() as principal, timestamp() as time FROM 'topic/subtopic'",
			payload: "\x00\x01", want: "\x00\x01", exact: true, ok: true},
		{name: "binary encode", sql: "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'topic/subtopic'",
			payload: "\x00\x01\x02", want: `{"data":"AAEC","ts":1704164645000}`, ok: true},
		{name: "binary where on field", sql: "SELECT * FROM 'topic/subtopic' WHERE device_type = 'thermostat'", payload: "\x00\x01"},
		{name: "binary select field fails", sql: "SELECT temp FROM 'sensors/+/data'", payload: "\x00\x01", ok: true, err: ErrBinaryPayload},
		{name: "binary select value star", sql: "SELECT VALUE * FROM 't'", payload: "raw text", want: "raw text", exact: true, ok: true},
		{name: "binary select functions only", sql: "SELECT clientid() AS c FROM 't'", payload: "raw text", want: `{"c":"c1"}`, ok: true},
		{name: "empty payload takes added fields", sql: "SELECT *, 1 AS x FROM 't'", payload: ``, want: `{"x":1}`, ok: true},
		{name: "empty payload select star", sql: "SELECT * FROM 't'", payload: ``, want: ``, exact: true, ok: true},
		{name: "json number star", sql: "SELECT * FROM 't'", payload: `42`, want: `42`, exact: true, ok: true},
		{name: "json number star with fields passes unchanged", sql: "SELECT *, 1 AS x FROM 't'", payload: `42`, want: `42`, exact: true, ok: true},
		{name: "json number field is undefined", sql: "SELECT temp FROM 't'", payload: `42`, want: `{}`, ok: true},
		{name: "json array root", sql: "SELECT VALUE get(*, 1) FROM 't'", payload: `[1,2]`, want: `2`, ok: true},
		{name: "star with alias", sql: "SELECT * AS payload, topic() AS t FROM 't'", payload: `{"a":1}`, want: `{"payload":{"a":1},"t":"sensors/d1/data"}`, ok: true},

		// Undefined, types, operators (AWS: iot-sql-data-types, iot-sql-operators).
		{name: "missing field omitted", sql: "SELECT missing, temp, a.missing.deeper FROM 't'", payload: `{"temp":31,"a":{}}`, want: `{"temp":31}`, ok: true},
		{name: "select value undefined", sql: "SELECT VALUE missing FROM 't'", payload: `{}`, want: ``, exact: true, ok: true},
		{name: "int and decimal arithmetic", sql: "SELECT 10/4 AS a, 10.0/4 AS b, 10.5/2 AS c, 7 % 3 AS d, 7.5 % 2 AS e, 2*3 AS f, 2*1.5 AS g, 1-3 AS h FROM 't'",
			payload: `{}`, want: `{"a":2,"b":2,"c":5.25,"d":1,"e":1.5,"f":6,"g":3,"h":-2}`, ok: true},
		{name: "payload whole decimal is int", sql: "SELECT t / 3 AS x FROM 't'", payload: `{"t":20.0}`, want: `{"x":6}`, ok: true},
		{name: "int overflow becomes decimal", sql: "SELECT 9223372036854775807 + 1 AS x, -9223372036854775807 - 2 AS y, 9223372036854775807 * 2 AS z FROM 't'",
			payload: `{}`, want: `{"x":9223372036854775808,"y":-9223372036854775809,"z":18446744073709551614}`, ok: true},
		{name: "division by zero", sql: "SELECT 1/0 AS a, 1.5/0 AS b, 1 % 0 AS c FROM 't'", payload: `{}`, want: `{}`, ok: true},
		{name: "numeric strings", sql: "SELECT '5' - 2 AS a, '2' * '3' AS b, 'x' - 1 AS c, '5' > 3 AS d, '10' < '9' AS e FROM 't'",
			payload: `{}`, want: `{"a":3,"b":6,"d":true,"e":false}`, ok: true},
		{name: "plus concatenates strings", sql: "SELECT 'a' + 1 AS a, 1 + '2' AS b, 'x' + [1] AS c, 'a' + n AS d, true + 1 AS e FROM 't'",
			payload: `{"n":null}`, want: `{"a":"a1","b":"12","c":"x[1]"}`, ok: true},
		{name: "equality of mixed types", sql: "SELECT 'a' = 1 AS a, 'a' <> 1 AS b, 1 = 1.0 AS c, 1 = 1.5 AS d, '1' = 1 AS e, n = null AS f, n <> null AS g, missing = 1 AS h FROM 't'",
			payload: `{"n":null}`, want: `{"a":false,"b":true,"c":true,"d":false,"e":false,"f":true,"g":false}`, ok: true},
		{name: "ordering of non-numbers is undefined", sql: "SELECT 'x' > 3 AS a, true > 1 AS b, [1] < [2] AS c, 2 >= 2 AS d, 2.5 <= 2 AS e FROM 't'",
			payload: `{}`, want: `{"d":true,"e":false}`, ok: true},
		{name: "array and object equality", sql: "SELECT [1,2] = [1,2] AS a, [1,2] = [2,1] AS b, {'a':1,'b':2} = {'b':2,'a':1} AS c, o = {'x':[1,{'y':null}]} AS d FROM 't'",
			payload: `{"o":{"x":[1,{"y":null}]}}`, want: `{"a":true,"b":false,"c":true,"d":true}`, ok: true},
		{name: "logic with strings", sql: "SELECT 'TRUE' AND true AS a, 'false' OR false AS b, 1 AND true AS c, NOT 'false' AS d, NOT 5 AS e, true OR missing AS f FROM 't'",
			payload: `{}`, want: `{"a":true,"b":false,"d":true}`, ok: true},
		{name: "unary minus", sql: "SELECT -temp AS a, -'2.5' AS b, -'x' AS c, - -3 AS d FROM 't'", payload: `{"temp":31}`, want: `{"a":-31,"b":-2.5,"d":3}`, ok: true},
		{name: "is null and is undefined", sql: "SELECT n IS NULL AS a, isNull(n) AS b, missing IS UNDEFINED AS c, n IS NOT NULL AS d, temp IS NOT UNDEFINED AS e, missing IS NULL AS f FROM 't'",
			payload: `{"n":null,"temp":1}`, want: `{"a":true,"b":true,"c":true,"d":false,"e":true,"f":false}`, ok: true},
		{name: "in", sql: "SELECT temp IN [30, 31] AS a, temp NOT IN [30, 31] AS b, 'x' IN 5 AS c, missing IN [1] AS d, 'b' IN tags AS e FROM 't'",
			payload: `{"temp":31,"tags":["a","b"]}`, want: `{"a":true,"b":false,"e":true}`, ok: true},
		{name: "precedence", sql: "SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b, 1 < 2 AND 2 < 3 OR false AS c, NOT 1 = 2 AS d, 10 - 4 - 3 AS e, 2 * 3 % 4 AS f FROM 't'",
			payload: `{}`, want: `{"a":7,"b":9,"c":true,"d":true,"e":3,"f":2}`, ok: true},
		{name: "array index", sql: "SELECT arr[1] AS a, arr[5] AS b, arr[-1] AS c, o.list[0].k AS d, arr[0] FROM 't'",
			payload: `{"arr":[10,20],"o":{"list":[{"k":"v"}]}}`, want: `{"a":20,"d":"v","arr":10}`, ok: true},
		{name: "field of non-object", sql: "SELECT s.x AS a, arr.x AS b FROM 't'", payload: `{"s":"str","arr":[1]}`, want: `{}`, ok: true},
		{name: "duplicate payload keys keep the last value", sql: "SELECT a FROM 't'", payload: `{"a":1,"a":2}`, want: `{"a":2}`, ok: true},
		{name: "field named value", sql: "SELECT value FROM 't'", payload: `{"value":5}`, want: `{"value":5}`, ok: true},
		{name: "select value of field value", sql: "SELECT VALUE value FROM 't'", payload: `{"value":5}`, want: `5`, ok: true},
		{name: "reserved key via get", sql: "SELECT get(*, 'end') AS e FROM 't'", payload: `{"end":1}`, want: `{"e":1}`, ok: true},
		{name: "function names are case-insensitive", sql: "SELECT Round(1.5) AS r, IsUndefined(x) AS u, UPPER('a') AS up FROM 't'",
			payload: `{}`, want: `{"r":2,"u":true,"up":"A"}`, ok: true},

		// Output shape.
		{name: "unaliased names", sql: "SELECT a.b, arr[0], topic(), cast(t AS String), 1 + 1, 'lit', get(*, 't') FROM 't'",
			payload: `{"a":{"b":2},"arr":[1],"t":3}`, exact: true, ok: true,
			want: `{"b":2,"arr":1,"topic":"sensors/d1/data","cast":"3","_5":2,"_6":"lit","get":3}`},
		{name: "star merges in place", sql: "SELECT arr[0], * FROM 't'", payload: `{"a":1,"arr":[1]}`,
			want: `{"arr":[1],"a":1}`, exact: true, ok: true},
		{name: "alias replaces in place", sql: "SELECT *, 'hot' AS temp FROM 't'", payload: `{"temp":31,"color":"red"}`,
			want: `{"temp":"hot","color":"red"}`, exact: true, ok: true},
		{name: "dotted alias merges into a copy", sql: "SELECT *, a AS x, 1 AS a.c FROM 't'", payload: `{"a":{"b":2}}`,
			want: `{"a":{"b":2,"c":1},"x":{"b":2}}`, exact: true, ok: true},
		{name: "dotted alias over a scalar", sql: "SELECT *, 1 AS a.c FROM 't'", payload: `{"a":5}`, want: `{"a":{"c":1}}`, ok: true},
		{name: "numbers keep their text", sql: "SELECT *, 1 AS k FROM 't'", payload: `{"x":1.50,"y":1e2,"z":10.0,"w":-0.000001,"v":12345678901234567890}`,
			want: `{"x":1.50,"y":100,"z":10,"w":-0.000001,"v":12345678901234567890,"k":1}`, exact: true, ok: true},
		{name: "computed decimals", sql: "SELECT 0.1 + 0.2 AS a, 1.5e300 * 10 AS b, 1e-7 * 1 AS c, 1e300 * 1e300 AS d FROM 't'", payload: `{}`,
			want: `{"a":0.30000000000000004,"b":1.5e+301,"c":1e-7}`, exact: true, ok: true},
		{name: "strings are escaped", sql: "SELECT *, 'tab\there' AS t FROM 't'", payload: `{"s":"é\u0001\"<>\\/"}`,
			want: `{"s":"é\u0001\"<>\\/","t":"tab\there"}`, exact: true, ok: true},
		{name: "undefined array items are left out", sql: "SELECT [1, missing, 3] AS a, {'x': missing, 'y': 2} AS o FROM 't'", payload: `{}`,
			want: `{"a":[1,3],"o":{"y":2}}`, exact: true, ok: true},

		// Errors.
		{name: "aws_lambda is not local", sql: "SELECT aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:f', *) AS r FROM 't'",
			payload: `{}`, ok: true, err: ErrNotLocal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := mustParse(t, tc.sql)
			e := env
			if tc.env != nil {
				e = *tc.env
			}
			out, ok, err := st.Evaluate([]byte(tc.payload), e)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (out %s)", ok, tc.ok, out)
			}
			if !ok || tc.err != nil {
				if out != nil {
					t.Errorf("out = %q, want nil", out)
				}
				return
			}
			if tc.exact {
				if string(out) != tc.want {
					t.Errorf("got  %s\nwant %s", out, tc.want)
				}
			} else if !jsonEqual(t, string(out), tc.want) {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
		})
	}
}

// sensorML is the message of AWS: iot-sql-nested-queries.
const sensorML = `{"e": [
  { "n": "temperature", "u": "Cel", "t": 1234, "v": 22.5 },
  { "n": "light", "u": "lm", "t": 1235, "v": 135 },
  { "n": "acidity", "u": "pH", "t": 1235, "v": 7 }
]}`

func TestEvaluateDoesNotAliasPayload(t *testing.T) {
	payload := []byte(`{"a":1}`)
	out, _, _ := mustParse(t, "SELECT * FROM 't'").Evaluate(payload, testEnv())
	out[0] = 'X'
	if payload[0] != '{' {
		t.Fatalf("Evaluate returned the caller's payload slice")
	}
}

func TestEvaluateIsRepeatable(t *testing.T) {
	// A statement is reused for every message; evaluation must not keep state, nor change a payload
	// object it shares with the output.
	st := mustParse(t, "SELECT *, a AS x, 1 AS a.c, (SELECT VALUE v FROM list) AS vs FROM 't' WHERE a.b = 2")
	payload := []byte(`{"a":{"b":2},"list":[{"v":1},{"v":2}]}`)
	var first []byte
	for i := 0; i < 3; i++ {
		out, ok, err := st.Evaluate(payload, testEnv())
		if err != nil || !ok {
			t.Fatalf("run %d: ok=%v err=%v", i, ok, err)
		}
		if i == 0 {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Fatalf("run %d: %s, first run %s", i, out, first)
		}
	}
}

func TestEvaluateConcurrently(t *testing.T) {
	st := mustParse(t, "SELECT temp * 2 AS t2, upper(name) AS n, regexp_replace(name, '(\\w)', '$1.') AS r FROM 't' WHERE temp > 1")
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var last string
			for i := 0; i < 200; i++ {
				out, _, err := st.Evaluate([]byte(`{"temp":3,"name":"ab"}`), testEnv())
				if err != nil {
					last = err.Error()
					break
				}
				last = string(out)
			}
			done <- last
		}()
	}
	for g := 0; g < 8; g++ {
		if got, want := <-done, `{"t2":6,"n":"AB","r":"a.b."}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
