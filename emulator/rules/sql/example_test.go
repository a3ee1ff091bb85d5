package sql_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/iotlab/iotlab/emulator/rules/sql"
)

func Example() {
	st, err := sql.Parse("SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30")
	if err != nil {
		fmt.Println(err)
		return
	}
	env := sql.Env{
		Topic:     "sensors/d1/data",
		ClientID:  "c1",
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	fmt.Println(st.Topic(), st.Matches(env.Topic), st.Matches("sensors/d1/status"))
	for _, payload := range []string{`{"temp":31}`, `{"temp":20}`, `{"humidity":40}`} {
		out, ok, err := st.Evaluate([]byte(payload), env)
		fmt.Printf("%s → ok=%v %s %v\n", payload, ok, out, err)
	}
	// Output:
	// sensors/+/data true false
	// {"temp":31} → ok=true {"temp":31,"dev":"d1","cid":"c1","ts":1704164645000} <nil>
	// {"temp":20} → ok=false  <nil>
	// {"humidity":40} → ok=false  <nil>
}

func ExampleParse_error() {
	_, err := sql.Parse("SELECT temp FROM sensors/+/data")
	var pe *sql.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Message)
		fmt.Println("column", pe.Column)
	}
	// Output:
	// Syntax error at line 1, column 18: FROM needs a topic filter in single quotes, such as 'sensors/+/data', but found 'sensors'
	// column 18
}

func ExampleStatement_Evaluate_binary() {
	// A payload that is not JSON passes SELECT * unchanged and can be base64-encoded; reading its
	// fields in the SELECT list fails (checklist 98).
	payload := []byte{0xca, 0xfe}
	for _, q := range []string{
		"SELECT * FROM 'cam/+'",
		"SELECT encode(*, 'base64') AS data FROM 'cam/+'",
		"SELECT temp FROM 'cam/+'",
	} {
		st, _ := sql.Parse(q)
		out, ok, err := st.Evaluate(payload, sql.Env{Topic: "cam/1"})
		fmt.Printf("%q ok=%v err=%v\n", out, ok, errors.Is(err, sql.ErrBinaryPayload))
	}
	// Output:
	// "\xca\xfe" ok=true err=false
	// "{\"data\":\"yv4=\"}" ok=true err=false
	// "" ok=true err=true
}

func ExampleSubstitute() {
	env := sql.Env{Topic: "sensors/d1/data", ClientID: "c1"}
	payload := []byte(`{"temp":31,"room":"hall"}`)
	for _, tmpl := range []string{"alerts/${topic(2)}", "$$aws/things/${clientid()}/shadow/update", "${room}: ${temp * 2}"} {
		s, err := sql.Substitute(tmpl, payload, env)
		fmt.Println(s, err)
	}
	// Output:
	// alerts/d1 <nil>
	// $aws/things/c1/shadow/update <nil>
	// hall: 62 <nil>
}

func ExampleSplitBasicIngest() {
	rule, topic, ok := sql.SplitBasicIngest("$aws/rules/BuildingManager/Buildings/Building5/Lights")
	fmt.Println(rule, topic, ok)
	// Output:
	// BuildingManager Buildings/Building5/Lights true
}
