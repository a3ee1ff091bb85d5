// Package sql is AWS IoT SQL, version 2016-03-23, as the rules engine uses it: Parse checks a rule's
// SQL as CreateTopicRule does, Statement.Matches tells whether a published topic triggers the rule,
// Statement.Evaluate runs the WHERE and SELECT clauses on one message, and Template expands the
// ${expression} substitution templates of rule actions.
//
// The package is pure: no I/O, no clock, no randomness, no package state beyond the function table.
// What functions need from the outside (topic, client ID, principal, clock reading, UUIDs) comes in
// an Env.
//
// # Grammar
//
//	statement := SELECT [VALUE] item {, item} [FROM 'topic/filter'] [WHERE expr]
//	item      := * | * AS name | expr [AS name{.name}]
//	expr      := expr OR expr | expr AND expr | NOT expr
//	           | expr (= | <> | != | < | <= | > | >=) expr
//	           | expr IS [NOT] (NULL | UNDEFINED) | expr [NOT] IN expr
//	           | expr (+ | -) expr | expr (* | / | %) expr | - expr
//	           | expr.name | expr[expr] | name | * | function(args) | cast(expr AS type)
//	           | CASE expr WHEN constant THEN expr … [ELSE expr] END
//	           | (SELECT [VALUE] item {, item} FROM expr [WHERE expr])
//	           | 'string' | "string" | number | true | false | null
//	           | [expr, …] | {'key': expr, …} | (expr)
//
// Keywords and function names are case-insensitive; field names are not. FROM takes a topic filter
// in single quotes (AWS: iot-sql-from) and may be left out, as AWS allows for rules used only
// through Basic Ingest (AWS: iot-basic-ingest); such a statement matches no topic. Strings take
// single or double quotes, JSON backslash escapes, and a doubled quote; a backslash before any other
// character stays, so '\d+' is a regular expression. Words reserved by the grammar (SELECT FROM WHERE
// AS AND OR NOT IS IN CASE WHEN THEN ELSE END TRUE FALSE NULL) cannot be field names: read such a
// key with get(*, 'end'). VALUE is a keyword only right after SELECT and before an expression, so
// "SELECT value FROM …" selects the field "value". Comments are not supported, as on AWS
// (AWS: iot-sql-reference). '||' is rejected with a hint: AWS concatenates with + and concat().
//
// Not on AWS's pages, and accepted here: "!=" (a synonym of "<>") and IS [NOT] NULL / UNDEFINED
// (the same as isNull() and isUndefined()); whether AWS's parser accepts them is unverified. IN is
// on the current AWS operator page.
//
// # Values
//
// The types are AWS's (AWS: iot-sql-data-types): Int (an int64 here; an overflowing result becomes
// a Decimal), Decimal (a float64 here, not 34 digits), Boolean, String, Array, Object, Null and
// Undefined. As in SQL version 2016-03-23, a whole number such as 10.0, in the payload or the SQL,
// is an Int: 10.0/4 is 2. A field the payload lacks is Undefined; Undefined propagates through
// operators and functions, is left out of the SELECT result, and makes WHERE false. Operators and
// functions follow AWS's tables: comparing mismatched types with = is false, ordering operators
// convert numeric Strings, + concatenates when a String is involved, AND/OR/NOT take Booleans or
// "true"/"false" Strings and give Undefined otherwise, and a function called with wrong arguments
// gives Undefined (a wrong number of arguments included).
//
// # Output
//
// SELECT * with nothing else returns the payload bytes unchanged. Other SELECT lists build a JSON
// object: * merges the payload's members in payload order, then each item is added under its alias
// (a dotted alias nests: AS a.b gives {"a":{"b":…}}), replacing a member of the same name in place.
// An unaliased item is named after the last field of a field path (a.b.c gives "c", a[0] gives "a")
// or after a function (topic(2) gives "topic", cast() gives "cast"); AWS documents neither, and
// other expressions get "_n", n being the item's 1-based position. SELECT VALUE e returns e's JSON
// (nothing when Undefined). JSON strings are written with only the escapes JSON requires.
//
// A payload that is not JSON (binary) passes SELECT * unchanged, and can be read with
// encode(*, 'base64'); a SELECT list that reads payload fields of a binary payload fails with
// ErrBinaryPayload, and field names in WHERE are Undefined (AWS: binary-payloads). A payload that is
// JSON but not an object (an array, a number) passes SELECT *, … unchanged, since members cannot be
// added to it; an empty payload takes added members ({"ts":…}).
//
// # Functions
//
// Implemented (AWS: iot-sql-functions): abs accountid acos asin atan atan2 bitand bitnot bitor
// bitxor cast ceil chr clientid concat cos cosh decode encode endswith exp floor get get_or_default
// indexof isNull isUndefined length ln log lower lpad ltrim md5 mod nanvl newuuid numbytes power
// principal rand regexp_matches regexp_replace regexp_substr remainder replace round rpad rtrim sha1
// sha224 sha256 sha384 sha512 sign sin sinh sourceip sql_version sqrt startswith substring tan tanh
// timestamp topic traceid trim trunc upper.
//
// Parsed but failing at evaluation with ErrNotLocal: the functions that call AWS services
// (aws_lambda, get_dynamodb, get_secret, get_thing_shadow, get_registry_data,
// machinelearning_predict) and those not implemented yet (md2, parse_time, time_to_epoch,
// transform, get_mqtt_property, get_user_properties). An unknown function name is a parse error.
//
// Regular expressions use Go's RE2 syntax rather than Java's (no back-references or look-arounds);
// regexp_replace accepts Java's $1 group references. String positions (length, substring, indexof,
// get) count Unicode code points, where Java counts UTF-16 units.
//
// # Topics
//
// Matches applies MQTT filter matching to the FROM filter. Basic Ingest topics
// ("$aws/rules/<ruleName>/…") are routed by the caller to the named rule, not matched against FROM;
// SplitBasicIngest gives the rule name and the topic that topic() must see (without the prefix).
//
// # AWS pages
//
// Under https://docs.aws.amazon.com/iot/latest/developerguide/: iot-sql-reference.html,
// iot-sql-select.html, iot-sql-from.html, iot-sql-where.html, iot-sql-data-types.html,
// iot-sql-operators.html, iot-sql-functions.html, iot-sql-literals.html, iot-sql-case.html,
// iot-sql-json.html, iot-sql-nested-queries.html, iot-substitution-templates.html,
// binary-payloads.html, iot-basic-ingest.html, iot-rule-sql-version.html, republish-rule-action.html.
package sql
