package shadow

import (
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		topic string
		want  Topic
		ok    bool
	}{
		{"$aws/things/lamp/shadow/update", Topic{ID{"lamp", ""}, "update", ""}, true},
		{"$aws/things/lamp/shadow/get", Topic{ID{"lamp", ""}, "get", ""}, true},
		{"$aws/things/lamp/shadow/delete", Topic{ID{"lamp", ""}, "delete", ""}, true},
		{"$aws/things/lamp/shadow/update/delta", Topic{ID{"lamp", ""}, "update", "delta"}, true},
		{"$aws/things/lamp/shadow/update/documents", Topic{ID{"lamp", ""}, "update", "documents"}, true},
		{"$aws/things/lamp/shadow/get/accepted", Topic{ID{"lamp", ""}, "get", "accepted"}, true},
		{"$aws/things/lamp/shadow/delete/rejected", Topic{ID{"lamp", ""}, "delete", "rejected"}, true},
		{"$aws/things/lamp/shadow/name/cfg/update", Topic{ID{"lamp", "cfg"}, "update", ""}, true},
		{"$aws/things/lamp/shadow/name/cfg/get/rejected", Topic{ID{"lamp", "cfg"}, "get", "rejected"}, true},
		{"$aws/things/a:b_c-D9/shadow/name/$x:y_z-1/delete", Topic{ID{"a:b_c-D9", "$x:y_z-1"}, "delete", ""}, true},
		{"$aws/things/name/shadow/get", Topic{ID{"name", ""}, "get", ""}, true},
		{"$aws/things/shadow/shadow/name/name/get", Topic{ID{"shadow", "name"}, "get", ""}, true},
		{"$aws/things/" + long(128) + "/shadow/name/" + long(64) + "/get", Topic{ID{long(128), long(64)}, "get", ""}, true},

		{"$aws/things/" + long(129) + "/shadow/get", Topic{}, false},
		{"$aws/things/lamp/shadow/name/" + long(65) + "/get", Topic{}, false},
		{"$aws/things/lamp/shadow/get/delta", Topic{}, false},
		{"$aws/things/lamp/shadow/delete/documents", Topic{}, false},
		{"$aws/things/lamp/shadow/update/foo", Topic{}, false},
		{"$aws/things/lamp/shadow/list", Topic{}, false},
		{"$aws/things/lamp/shadow", Topic{}, false},
		{"$aws/things/lamp/shadow/", Topic{}, false},
		{"$aws/things/lamp/shadow/name/cfg", Topic{}, false},
		{"$aws/things/lamp/shadow/name/get", Topic{}, false},
		{"$aws/things/lamp/shadow/name//get", Topic{}, false},
		{"$aws/things//shadow/get", Topic{}, false},
		{"$aws/things/lamp/shadow/update/accepted/x", Topic{}, false},
		{"$aws/things/lamp/shadow/update/", Topic{}, false},
		{"$aws/things/lamp/shadow/name/cfg/get/", Topic{}, false},
		{"$aws/things/lamp/shadow/#", Topic{}, false},
		{"$aws/things/+/shadow/update", Topic{}, false},
		{"$aws/things/la mp/shadow/update", Topic{}, false},
		{"$aws/things/lamp$/shadow/update", Topic{}, false},
		{"$aws/things/lamp/jobs/get", Topic{}, false},
		{"aws/things/lamp/shadow/get", Topic{}, false},
		{"$aws/things/lamp/shadow/GET", Topic{}, false},
		{"", Topic{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.topic, func(t *testing.T) {
			got, ok := ParseTopic(tc.topic)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
			if ok && got.String() != tc.topic {
				t.Errorf("String: got %q, want %q", got.String(), tc.topic)
			}
		})
	}
}

func TestResponseTopic(t *testing.T) {
	tests := []struct {
		thing, shadow, op, kind, want string
	}{
		{"lamp", "", OpUpdate, KindAccepted, "$aws/things/lamp/shadow/update/accepted"},
		{"lamp", "", OpUpdate, KindDelta, "$aws/things/lamp/shadow/update/delta"},
		{"lamp", "cfg", OpUpdate, KindDocuments, "$aws/things/lamp/shadow/name/cfg/update/documents"},
		{"lamp", "cfg", OpDelete, KindRejected, "$aws/things/lamp/shadow/name/cfg/delete/rejected"},
	}
	for _, tc := range tests {
		if got := ResponseTopic(tc.thing, tc.shadow, tc.op, tc.kind); got != tc.want {
			t.Errorf("ResponseTopic(%q, %q, %q, %q): got %q, want %q", tc.thing, tc.shadow, tc.op, tc.kind, got, tc.want)
		}
	}
	req, _ := ParseTopic("$aws/things/lamp/shadow/get")
	if got, want := req.Response(KindRejected), "$aws/things/lamp/shadow/get/rejected"; got != want {
		t.Errorf("Response: got %q, want %q", got, want)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name         string
		thing, named bool
	}{
		{"a", true, true},
		{"Thing_1:x-y", true, true},
		{"$", false, true},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), true, false},
		{strings.Repeat("a", 128), true, false},
		{strings.Repeat("a", 129), false, false},
		{"", false, false},
		{"a/b", false, false},
		{"a b", false, false},
		{"é", false, false},
		{"a~b", false, false},
	}
	for _, tc := range tests {
		if got := ValidThingName(tc.name); got != tc.thing {
			t.Errorf("ValidThingName(%q): got %v, want %v", tc.name, got, tc.thing)
		}
		if got := ValidShadowName(tc.name); got != tc.named {
			t.Errorf("ValidShadowName(%q): got %v, want %v", tc.name, got, tc.named)
		}
	}
	if !(ID{Thing: "t"}).Valid() || !(ID{Thing: "t", Shadow: "s"}).Valid() || (ID{Shadow: "s"}).Valid() || (ID{Thing: "t", Shadow: "s/"}).Valid() {
		t.Error("ID.Valid")
	}
}
