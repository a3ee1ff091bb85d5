package instance

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Credential
		wantErr  string
	}{
		{"one profile", "[default]\naws_access_key_id = AKID1\naws_secret_access_key = s1\n",
			[]Credential{{"default", "AKID1", "s1"}}, ""},
		{"two profiles, comments, a session token and odd spacing", "# mine\n[default]\n  aws_access_key_id=AKID1\naws_secret_access_key   =  s/1+x=\naws_session_token = tok\n\n; other\n[lab]\nAWS_ACCESS_KEY_ID = AKID2\naws_secret_access_key = s2\n",
			[]Credential{{"default", "AKID1", "s/1+x="}, {"lab", "AKID2", "s2"}}, ""},
		{"secret missing", "[default]\naws_access_key_id = AKID1\n", nil, "needs both"},
		{"key outside a profile", "aws_access_key_id = AKID1\n", nil, "outside a [profile]"},
		{"not key = value", "[default]\nhello\n", nil, "key = value"},
		{"empty", "# nothing\n", nil, "no access key pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestGeneratedCredentialsAreKept: without --credentials, the first start writes one AWS-shaped pair to
// <state-dir>/credentials (mode 0600); later starts read it back.
func TestGeneratedCredentialsAreKept(t *testing.T) {
	dir := t.TempDir()
	path, first, err := loadCredentials("", dir, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "credentials") || len(first) != 1 {
		t.Fatalf("got %s %+v", path, first)
	}
	if c := first[0]; !strings.HasPrefix(c.AccessKeyID, "AKIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 {
		t.Fatalf("pair %+v is not shaped like AWS's (AKIA + 16, 40-character secret)", c)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v, want mode 0600", fi, err)
	}
	_, again, err := loadCredentials("", dir, rand.Reader)
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("second load: %+v %v, want %+v", again, err, first)
	}
	if _, _, err := loadCredentials(filepath.Join(dir, "nope"), dir, rand.Reader); err == nil {
		t.Fatal("a --credentials file that does not exist was accepted")
	}
}

func TestCredentialsNeedRequireAuth(t *testing.T) {
	c := testConfig(t.TempDir())
	c.Credentials = "/somewhere"
	if _, err := Start(c, nil); err == nil || !strings.Contains(err.Error(), "--require-auth") {
		t.Fatalf("got %v, want an error naming --require-auth", err)
	}
}
