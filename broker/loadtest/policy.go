package loadtest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// The bench's authorization, once as an AWS IoT policy for iotlab and once as the equivalent Mosquitto
// ACL: devices connect as "bench-…" client IDs, publish only under their own client ID, subscribe to
// and receive anything under bench/ except bench/secret/ (an explicit deny, so that the engine
// evaluates one). Topics: bench/<client-id>/flow<n> for traffic, bench/<client-id>/cmd for the connection
// scale's idle subscriptions.

// PolicyName is the policy attached to every bench certificate.
const PolicyName = "iotlab-bench"

// ClientPrefix starts every bench client ID.
const ClientPrefix = "bench-"

// PolicyDocument is the AWS IoT policy for account and region.
func PolicyDocument(account, region string) string {
	arn := "arn:aws:iot:" + region + ":" + account + ":"
	return `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "` + arn + `client/` + ClientPrefix + `*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "` + arn + `topic/bench/${iot:ClientId}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "` + arn + `topicfilter/bench/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "` + arn + `topic/bench/*"},
    {"Effect": "Deny", "Action": ["iot:Publish", "iot:Receive"], "Resource": "` + arn + `topic/bench/secret/*"}
  ]
}`
}

// MosquittoACL is PolicyDocument for Mosquitto. Mosquitto has no connect permission: a client is
// admitted when its certificate chains to the device CA (require_certificate). Every line is a
// pattern: Mosquitto applies `topic` lines before the first `user` line to anonymous clients only,
// and bench clients are named by their certificates (use_identity_as_username).
const MosquittoACL = `# iotlab bench: the equivalent of the iotlab-bench policy
pattern write bench/%c/#
pattern read bench/#
pattern deny bench/secret/#
`

// MosquittoConfig is baseline (b): Mosquitto 2 on one loopback port with mutual TLS.
type MosquittoConfig struct {
	Port int
	// CAFile holds the certificates client certificates must chain to (iotlab's root and device CA);
	// CertFile and KeyFile are iotlab's server certificate and key.
	CAFile, CertFile, KeyFile string
}

// Conf is mosquitto.conf, with the ACL file at aclPath.
func (m MosquittoConfig) Conf(aclPath string) string {
	var b strings.Builder
	line := func(k string, v ...any) {
		b.WriteString(k)
		for _, x := range v {
			fmt.Fprintf(&b, " %v", x)
		}
		b.WriteByte('\n')
	}
	b.WriteString("# written by iotlab bench; baseline (b)\n")
	line("per_listener_settings", "false")
	line("allow_anonymous", "false")
	line("persistence", "false")
	// 2.0.11 stalls QoS 1 behind its default window of 20 (fixed upstream in 2.0.13).
	line("max_inflight_messages", 0)
	// Go sets TCP_NODELAY on every connection; Mosquitto only when asked. Same transport both ways.
	line("set_tcp_nodelay", "true")
	line("connection_messages", "false")
	line("log_dest", "stderr")
	line("log_type", "error")
	line("log_type", "warning")
	line("acl_file", aclPath)
	line("listener", m.Port, "127.0.0.1")
	line("cafile", m.CAFile)
	line("certfile", m.CertFile)
	line("keyfile", m.KeyFile)
	line("require_certificate", "true")
	line("use_identity_as_username", "true")
	return b.String()
}

// Write writes mosquitto.conf and the ACL into dir and returns the configuration's path. Run as root,
// Mosquitto drops to the user mosquitto, so the files (and dir) are given to that user when it exists.
func (m MosquittoConfig) Write(dir string) (string, error) {
	acl := filepath.Join(dir, "acl")
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(acl, []byte(MosquittoACL), 0o600); err != nil {
		return "", fmt.Errorf("loadtest: %w", err)
	}
	if err := os.WriteFile(conf, []byte(m.Conf(acl)), 0o600); err != nil {
		return "", fmt.Errorf("loadtest: %w", err)
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("mosquitto"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			for _, f := range []string{dir, acl, conf, m.CAFile, m.CertFile, m.KeyFile} {
				if err := os.Chown(f, uid, gid); err != nil {
					return "", fmt.Errorf("loadtest: mosquitto's files: %w", err)
				}
			}
		}
	}
	return conf, nil
}
