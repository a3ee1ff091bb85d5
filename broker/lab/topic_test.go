package lab

import "testing"

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		// MQTT 3.1.1 §4.7.1.2 and MQTT 5 §4.7.1.2
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"#", "sport", true},
		{"#", "/", true},
		// §4.7.1.3
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player2", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+/tennis/#", "sport/tennis/player1", true},
		{"sport/+/player1", "sport/tennis/player1", true},
		{"sport/+/#", "sport/tennis", true},
		// §4.7.2: [MQTT-4.7.2-1]
		{"#", "$SYS/broker/uptime", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"a/+", "a/$b", true}, // the rule is for the first level only
		// §4.7.3: case sensitive, levels compared exactly
		{"ACCOUNTS", "Accounts", false},
		{"a/b", "a/b/", false},
		{"a/b", "a//b", false},
		{"a b", "a b", true},
	}
	for _, tc := range cases {
		if got := matchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
	if !matchTopicLoose("#", "$SYS/x") {
		t.Error(`matchTopicLoose("#", "$SYS/x") = false, want true`)
	}
}

func TestValidFilter(t *testing.T) {
	cases := map[string]bool{
		"#": true, "+": true, "a/#": true, "a/+/b": true, "+/+": true, "/": true, "a//b": true, "$SYS/#": true,
		"": false, "a#": false, "a/#/b": false, "a/b+": false, "#/a": false, "++": false, "a/+b/c": false,
	}
	for f, want := range cases {
		if got := validFilter(f); got != want {
			t.Errorf("validFilter(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestShareTopicFilter(t *testing.T) {
	cases := map[string]string{
		"$share/g/a/b": "a/b",
		"$share/g/#":   "#",
		"$SHARE/g/x":   "x",
		"a/b":          "a/b",
		"$shared/g/x":  "$shared/g/x",
	}
	for in, want := range cases {
		if got := shareTopicFilter(in); got != want {
			t.Errorf("shareTopicFilter(%q) = %q, want %q", in, got, want)
		}
	}
}
