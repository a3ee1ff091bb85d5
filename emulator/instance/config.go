// Package instance is the composition root of one running iotlab: it owns a state directory and starts,
// on it, the AWS API (control plane, iot-data, STS), the mTLS MQTT broker and the lab listener. It is the
// only emulator package that imports broker/: everything below it stays unaware of its neighbours.
package instance

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iotlab/iotlab/emulator/rules"
)

// Defaults. Every listener is on loopback unless the user asks for another address.
const (
	DefaultAPIAddr      = "127.0.0.1:4580"
	DefaultMQTTAddr     = "127.0.0.1:8883"
	DefaultHTTPSAddr    = "127.0.0.1:8443" // --https-addr's; an empty Config.HTTPSAddr is off (see there)
	DefaultLabAddr      = "127.0.0.1:1883"
	DefaultEndpointHost = "localhost"
	DefaultAccount      = "123456789012"
	DefaultRegion       = "eu-west-1"
)

// Config is what `iotlab up` (and every other command) is told through flags or IOTLAB_* variables.
type Config struct {
	StateDir     string // "" means DefaultStateDir()
	Ephemeral    bool   // a throwaway state dir, removed by Close
	APIAddr      string
	MQTTAddr     string
	HTTPSAddr    string // device HTTPS endpoint (AWS's 8443); "" or "off": none, so embedders never take a fixed port
	ALPNAddr     string // AWS's 443 (ALPN x-amzn-mqtt-ca: MQTT; x-amzn-http-ca, none: HTTPS); "" or "off": none
	LabAddr      string // "off" disables the lab listener
	LabACL       string
	EndpointHost string
	Account      string
	Region       string
	LogLevel     string // debug, info, warn, error
	// Functions are the local handlers of rules' lambda actions, by function name or ARN; FunctionSpecs
	// are the --function flags (NAME=URL or NAME=COMMAND), added to them at Start.
	Functions     map[string]rules.Function
	FunctionSpecs StringList
	Limits        string // "aws" (default) or "none": rate and count quotas off, never identity or policy
	// RequireAuth makes the API verify SigV4 signatures against Credentials, an AWS shared-credentials
	// file ("" = <state-dir>/credentials, generated with one pair on first use).
	RequireAuth bool
	Credentials string
	// APIThrottle answers API calls beyond AWS's per-API rate quotas with ThrottlingException, as AWS
	// does (`--api-throttle`; off by default, see awsapi's throttle.go).
	APIThrottle bool
	// HandshakeTimeout bounds the mTLS broker's wait from accept to MQTT CONNECT (0 = the broker's 10 s).
	HandshakeTimeout time.Duration
	Version          string

	hooks *storeHooks // tests only: fault injection into the state stores (hooks.go)
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.APIAddr, DefaultAPIAddr)
	def(&c.MQTTAddr, DefaultMQTTAddr)
	def(&c.LabAddr, DefaultLabAddr)
	def(&c.EndpointHost, DefaultEndpointHost)
	def(&c.Account, DefaultAccount)
	def(&c.Region, DefaultRegion)
	def(&c.LogLevel, "info")
	def(&c.Version, "dev")
	return c
}

// DefaultStateDir is $XDG_STATE_HOME/iotlab, or ~/.local/state/iotlab: per user, outside any project.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "iotlab"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("instance: no home directory for the default state dir (use --state-dir): %w", err)
	}
	return filepath.Join(home, ".local", "state", "iotlab"), nil
}

// StringList is a repeatable flag.
type StringList []string

func (l *StringList) String() string     { return fmt.Sprint([]string(*l)) }
func (l *StringList) Set(v string) error { *l = append(*l, v); return nil }
