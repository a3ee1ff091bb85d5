package instance

import (
	"bufio"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// credentialsFile is where --require-auth keeps the generated access key pair when --credentials is not
// given, in the AWS shared-credentials format (so AWS_SHARED_CREDENTIALS_FILE can point at it).
const credentialsFile = "credentials"

// Credential is one access key pair of the API (--require-auth).
type Credential struct {
	Profile         string
	AccessKeyID     string
	SecretAccessKey string
}

// ParseCredentials reads an AWS shared-credentials file: [profile] sections with aws_access_key_id and
// aws_secret_access_key ("#" and ";" start comments; other keys, such as aws_session_token, are ignored).
// Every section must hold both keys; at least one pair is required.
func ParseCredentials(r io.Reader) ([]Credential, error) {
	var out []Credential
	var cur *Credential
	line := 0
	flush := func() error {
		if cur == nil {
			return nil
		}
		if cur.AccessKeyID == "" || cur.SecretAccessKey == "" {
			return fmt.Errorf("profile [%s] needs both aws_access_key_id and aws_secret_access_key", cur.Profile)
		}
		out = append(out, *cur)
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";"):
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &Credential{Profile: strings.TrimSpace(s[1 : len(s)-1])}
		default:
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: want key = value", line)
			}
			if cur == nil {
				return nil, fmt.Errorf("line %d: %s outside a [profile] section", line, strings.TrimSpace(k))
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "aws_access_key_id":
				cur.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				cur.SecretAccessKey = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no access key pair in it")
	}
	return out, nil
}

// loadCredentials returns the API's credentials for --require-auth: those of path (--credentials), or of
// <state-dir>/credentials, which is created with one random pair the first time.
func loadCredentials(path, stateDir string, rnd io.Reader) (string, []Credential, error) {
	generate := path == ""
	if generate {
		path = filepath.Join(stateDir, credentialsFile)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && generate {
		c, err := newCredential(rnd)
		if err != nil {
			return "", nil, fmt.Errorf("instance: credentials: %w", err)
		}
		body := fmt.Sprintf("# iotlab's API credentials (--require-auth): requests must be SigV4-signed with this pair.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.AccessKeyID, c.SecretAccessKey)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return "", nil, fmt.Errorf("instance: credentials: %w", err)
		}
		return path, []Credential{c}, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("instance: credentials: %w", err)
	}
	defer f.Close()
	creds, err := ParseCredentials(f)
	if err != nil {
		return "", nil, fmt.Errorf("instance: credentials %s: %w", path, err)
	}
	return path, creds, nil
}

// newCredential makes a pair shaped like AWS's: "AKIA" and 16 base-32 characters, a 40-character secret.
func newCredential(rnd io.Reader) (Credential, error) {
	var id [10]byte
	var secret [30]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return Credential{}, err
	}
	if _, err := io.ReadFull(rnd, secret[:]); err != nil {
		return Credential{}, err
	}
	return Credential{
		Profile:         "default",
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
	}, nil
}

// credentialMap is the API's view: access key id → secret.
func credentialMap(creds []Credential) map[string]string {
	m := make(map[string]string, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c.SecretAccessKey
	}
	return m
}
