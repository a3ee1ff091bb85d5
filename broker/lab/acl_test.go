package lab

import (
	"strings"
	"testing"
)

// testACL exercises every element of the syntax. It is also the file the broker-level ACL tests use, and the
// one that was run through Mosquitto 2.0.11 to record the behaviour these tests expect.
const testACL = `# Anonymous clients (no username): the "topic" lines before any "user" line.
topic read sensors/#
topic write cmd/#
topic readwrite rw/#
topic deny rw/secret
topic plain/x
topic readwrite $SYS/#
topic readwrite spaced topic/x

user alice
topic readwrite alice/#

user carol
topic read #

user dave
topic write #

# Patterns apply to every client.
pattern readwrite clients/%c/#
pattern deny clients/%c/locked
pattern read users/%u/#
`

func mustParse(t *testing.T, text string) *aclTable {
	t.Helper()
	a, err := parseACL("test.acl", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestACLCheck(t *testing.T) {
	a := mustParse(t, testACL)
	cases := []struct {
		name             string
		client, username string
		topic            string
		access           aclAccess
		allowed          bool
		line             int
	}{
		{"anonymous read grant", "c1", "", "sensors/temp", aclRead, true, 2},
		{"anonymous read grant matches parent level", "c1", "", "sensors", aclRead, true, 2},
		{"read grant is not write", "c1", "", "sensors/temp", aclWrite, false, 0},
		{"write grant", "c1", "", "cmd/lamp", aclWrite, true, 3},
		{"write grant is not read", "c1", "", "cmd/lamp", aclRead, false, 0},
		{"readwrite read", "c1", "", "rw/x", aclRead, true, 4},
		{"readwrite write", "c1", "", "rw/x", aclWrite, true, 4},
		{"deny beats an earlier grant", "c1", "", "rw/secret", aclRead, false, 5},
		{"deny covers write too", "c1", "", "rw/secret", aclWrite, false, 5},
		{"deny is exact, not a prefix", "c1", "", "rw/secret/sub", aclWrite, true, 4},
		{"no access word means readwrite", "c1", "", "plain/x", aclWrite, true, 6},
		{"$SYS needs a $ line", "c1", "", "$SYS/broker/uptime", aclRead, true, 7},
		{"topic with a space", "c1", "", "spaced topic/x", aclRead, true, 8},
		{"nothing granted", "c1", "", "other", aclRead, false, 0},
		{"anonymous lines do not apply to users", "c1", "alice", "rw/x", aclWrite, false, 0},
		{"user block", "c1", "alice", "alice/diary", aclWrite, true, 11},
		{"user block is not for anonymous", "c1", "", "alice/diary", aclRead, false, 0},
		{"another user's block", "c1", "carol", "alice/diary", aclWrite, false, 0},
		{"read # reads all", "c1", "carol", "alice/diary", aclRead, true, 14},
		{"# does not match $ topics", "c1", "carol", "$SYS/broker/uptime", aclRead, false, 0},
		{"write # writes all", "c1", "dave", "sensors/temp", aclWrite, true, 17},
		{"user without a block gets patterns only", "bobc", "bob", "sensors/temp", aclRead, false, 0},
		{"pattern %c", "c1", "", "clients/c1/state", aclWrite, true, 20},
		{"pattern %c for another client", "c1", "", "clients/c2/state", aclWrite, false, 0},
		{"pattern deny before pattern grant", "c1", "", "clients/c1/locked", aclWrite, false, 21},
		{"pattern %u", "bobc", "bob", "users/bob/inbox", aclRead, true, 22},
		{"pattern %u is read only", "bobc", "bob", "users/bob/inbox", aclWrite, false, 0},
		{"pattern %u skipped without username", "c1", "", "users//inbox", aclRead, false, 0},
		{"patterns apply to users too", "alicec", "alice", "clients/alicec/x", aclRead, true, 20},
		{"client id with / spans levels", "a/b", "", "clients/a/b/x", aclWrite, true, 20},
		{"wildcard in client id denies patterns", "c+", "", "clients/c1/x", aclWrite, false, 0},
		{"wildcard in username denies patterns", "c9", "a#b", "clients/c9/x", aclWrite, false, 0},
		{"wildcard username without a block", "c9", "x+y", "x", aclRead, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := a.check(tc.client, tc.username, tc.topic, tc.access)
			if d.Allowed != tc.allowed || d.Line != tc.line {
				t.Errorf("check(%q, %q, %q, %v) = %v, want allowed=%v line=%d",
					tc.client, tc.username, tc.topic, tc.access, d, tc.allowed, tc.line)
			}
		})
	}
}

func TestACLOnlyPatterns(t *testing.T) {
	a := mustParse(t, "pattern write devices/%c/state\n")
	if d := a.check("d1", "", "devices/d1/state", aclWrite); !d.Allowed {
		t.Errorf("anonymous client with only patterns: %v, want allowed", d)
	}
	if d := a.check("d1", "", "devices/d1/state", aclRead); d.Allowed {
		t.Errorf("read of a write pattern: %v, want denied", d)
	}
}

func TestACLNoRulesForClient(t *testing.T) {
	a := mustParse(t, "user alice\ntopic a\n")
	if d := a.check("c1", "", "a", aclRead); d.Allowed {
		t.Errorf("anonymous client with no lines and no patterns: %v, want denied", d)
	}
}

func TestACLUserBlocksMerge(t *testing.T) {
	a := mustParse(t, "user alice\ntopic read a\nuser bob\ntopic b\nuser alice\ntopic write c\n")
	for _, topic := range []string{"a", "c"} {
		want := aclRead
		if topic == "c" {
			want = aclWrite
		}
		if d := a.check("x", "alice", topic, want); !d.Allowed {
			t.Errorf("alice %v %s: %v, want allowed (repeated user blocks add up)", want, topic, d)
		}
	}
}

func TestACLParse(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		wantErr string // "" = parses
	}{
		{"comments and blank lines", "# c\n\n   \n\t\ntopic a\n", ""},
		{"windows line ends", "topic a\r\nuser u\r\ntopic b\r\n", ""},
		{"trailing spaces", "topic read a/b   \n", ""},
		{"extra spaces between words", "topic   read   a/b\n", ""},
		{"leading spaces", "   topic a\n", ""},
		{"topic named like an access word", "topic read\n", ""},
		{"bad access word", "# c\n\ntopic reed a\n", "test.acl:3: invalid access type \"reed\""},
		{"space in topic without access word", "topic my topic\n", "test.acl:1: invalid access type \"my\""},
		{"missing topic", "topic\n", "test.acl:1: missing topic"},
		{"missing username", "user\n", "test.acl:1: missing username"},
		{"unknown keyword", "topic a\nallow b\n", "test.acl:2: invalid line \"allow b\""},
		{"indented comment", "  # note\n", "test.acl:1: invalid line \"  # note\" (a comment must start in the first column)"},
		{"tabs", "topic\tread\ta\n", "test.acl:1: invalid line \"topic\\tread\\ta\" (separate words with spaces, not tabs)"},
		{"# not last", "pattern read a/#/b\n", "test.acl:1: invalid topic \"a/#/b\""},
		{"+ inside a level", "topic read a/b+\n", "test.acl:1: invalid topic \"a/b+\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseACL("test.acl", strings.NewReader(tc.text))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("no error, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestACLTopicWithSpaceKeepsInnerSpaces(t *testing.T) {
	a := mustParse(t, "topic read  a  b/c \n")
	if d := a.check("c", "", "a  b/c", aclRead); !d.Allowed {
		t.Errorf("got %v, want allowed for topic \"a  b/c\"", d)
	}
}

func TestExpandPattern(t *testing.T) {
	cases := []struct{ pattern, client, user, want string }{
		{"a/%c/b", "c1", "u1", "a/c1/b"},
		{"a/%u/b", "c1", "u1", "a/u1/b"},
		{"%c/%u/%c", "c", "u", "c/u/c"},
		{"a/%x/%", "c", "u", "a/%x/%"},
		{"a/%%c", "c", "u", "a/%c"},
		{"a/%u", "c", "", "a/%u"},
		{"plain", "c", "u", "plain"},
	}
	for _, tc := range cases {
		if got := expandPattern(tc.pattern, tc.client, tc.user); got != tc.want {
			t.Errorf("expandPattern(%q, %q, %q) = %q, want %q", tc.pattern, tc.client, tc.user, got, tc.want)
		}
	}
}

func BenchmarkACLCheck(b *testing.B) {
	a, err := parseACL("bench", strings.NewReader(testACL))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		a.check("c1", "", "clients/c1/state", aclWrite)
	}
}
