package loadtest

import (
	"strings"
	"testing"

	"github.com/iotlab/iotlab/emulator/policy"
)

// The policy iotlab gets must be one CreatePolicy accepts; the bench would fail at its first step.
func TestPolicyDocumentParses(t *testing.T) {
	if _, err := policy.Parse(PolicyDocument("123456789012", "eu-west-1")); err != nil {
		t.Fatalf("policy.Parse: %v", err)
	}
}

func TestMosquittoConf(t *testing.T) {
	m := MosquittoConfig{Port: 18883, CAFile: "/w/ca.pem", CertFile: "/w/server.pem", KeyFile: "/w/server.key"}
	conf := m.Conf("/w/acl")
	golden(t, "mosquitto.conf", conf)
	// The lines the comparison depends on, whatever else changes in the golden file.
	for _, line := range []string{"listener 18883 127.0.0.1", "max_inflight_messages 0", "require_certificate true", "use_identity_as_username true", "allow_anonymous false"} {
		if !strings.Contains(conf, line+"\n") {
			t.Errorf("mosquitto.conf lacks %q", line)
		}
	}
}

// Mosquitto applies `topic` lines before any `user` line to anonymous clients only; the bench's
// clients are named by their certificates, so every rule must be a pattern.
func TestMosquittoACLUsesPatternsOnly(t *testing.T) {
	for _, line := range strings.Split(strings.TrimSpace(MosquittoACL), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "pattern ") {
			t.Errorf("ACL line %q is not a pattern", line)
		}
	}
	if !strings.Contains(MosquittoACL, "pattern write bench/%c/#") {
		t.Error("ACL does not limit publishing to the client's own topics, as the policy's ${iot:ClientId} does")
	}
}
