package sql

import "testing"

func TestMatches(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"A/b", "a/b", false},
		// AWS: iot-sql-from examples.
		{"topic/#", "topic/subtopic", true},
		{"topic/#", "topic/subtopic-2", true},
		{"topic/#", "topic/subtopic-3/details", true},
		{"topic/#", "topic-2/subtopic-x", false},
		{"topic/+", "topic/subtopic", true},
		{"topic/+", "topic/subtopic-3/details", false},
		{"topic/+", "topic-2/subtopic-x", false},
		// MQTT 3.1.1 §4.7.
		{"sport/#", "sport", true}, // [MQTT-4.7.1-2] "#" includes the parent level
		{"sport/tennis/#", "sport/tennis/player1/ranking", true},
		{"#", "a/b/c", true},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "/finance", true}, // empty levels
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"a/+/c", "a//c", true},
		{"+/#", "a", true},
		{"a/+/#", "a", false},
		// [MQTT-4.7.2-1] $-topics are not matched by a leading wildcard.
		{"#", "$SYS/x", false},
		{"+/events/presence/+/+", "$aws/events/presence/connected/c1", false},
		{"$aws/events/presence/+/+", "$aws/events/presence/connected/c1", true}, // checklist 97
		{"$aws/events/presence/+/+", "$aws/events/presence/disconnected/c1", true},
		{"$aws/events/#", "$aws/events/subscriptions/subscribed/c1", true},
		// Not topics.
		{"a/#", "a/+", false},
		{"#", "", false},
	}
	for _, tc := range tests {
		st := mustParse(t, "SELECT * FROM '"+tc.filter+"'")
		if got := st.Matches(tc.topic); got != tc.want {
			t.Errorf("filter %q topic %q: Matches = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
	if mustParse(t, "SELECT *").Matches("a") {
		t.Errorf("a statement without FROM matched a topic")
	}
}

func TestSplitBasicIngest(t *testing.T) {
	tests := []struct {
		topic, rule, rest string
		ok                bool
	}{
		// AWS: iot-basic-ingest.
		{"$aws/rules/BuildingManager/Buildings/Building5/Floor2/Room201/Lights", "BuildingManager", "Buildings/Building5/Floor2/Room201/Lights", true},
		{"$aws/rules/r1", "r1", "", true},
		{"$aws/rules/r1/", "r1", "", true},
		{"$aws/rules/", "", "", false},
		{"$aws/things/t/shadow/update", "", "", false},
		{"sensors/d1", "", "", false},
	}
	for _, tc := range tests {
		rule, rest, ok := SplitBasicIngest(tc.topic)
		if rule != tc.rule || rest != tc.rest || ok != tc.ok {
			t.Errorf("SplitBasicIngest(%q) = %q, %q, %v; want %q, %q, %v", tc.topic, rule, rest, ok, tc.rule, tc.rest, tc.ok)
		}
	}
	// topic(n) sees the topic without the prefix (AWS: iot-sql-functions#iot-function-topic).
	_, rest, _ := SplitBasicIngest("$aws/rules/BuildingManager/Buildings/Building5/Floor2/Room201/Lights")
	env := testEnv()
	env.Topic = rest
	out, _, err := mustParse(t, "SELECT topic() AS t, topic(3) AS t3").Evaluate([]byte(`{}`), env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"t":"Buildings/Building5/Floor2/Room201/Lights","t3":"Floor2"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
