package target

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises"
)

// Local waits: an in-process broker answers in microseconds, a loaded laptop in milliseconds.
const (
	localQuiet = 400 * time.Millisecond
	localWait  = 5 * time.Second
)

// InProcess is the local target of an iotlab running in this process. Its broker's events (with the
// deciding policy statement) are observable. The caller still owns inst.
func InProcess(ctx context.Context, inst *instance.Instance) (*Target, error) {
	t, err := fromHealth(ctx, inst.HealthInfo())
	if err != nil {
		return nil, err
	}
	if b := inst.Broker; b != nil {
		t.events = func(fn func(exercises.Event)) func() {
			return b.Subscribe(func(e broker.Event) { fn(fromBroker(e)) })
		}
	}
	return t, nil
}

// Running is the local target of an iotlab already running, found through its health endpoint
// (GET <apiURL>/_iotlab/health). When stateDir is set, the instance must serve that state dir.
func Running(ctx context.Context, apiURL, stateDir string) (*Target, error) {
	h, err := Health(ctx, apiURL)
	if err != nil {
		return nil, err
	}
	if stateDir != "" && filepath.Clean(h.StateDir) != filepath.Clean(stateDir) {
		return nil, fmt.Errorf("target: the iotlab at %s serves %s, not %s", apiURL, h.StateDir, stateDir)
	}
	return fromHealth(ctx, h)
}

// Health asks a running iotlab for its facts.
func Health(ctx context.Context, apiURL string) (instance.Health, error) {
	var h instance.Health
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiURL, "/")+"/_iotlab/health", nil)
	if err != nil {
		return h, fmt.Errorf("target: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, fmt.Errorf("target: no iotlab answers at %s: %w", apiURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("target: %s/_iotlab/health answered %s: not an iotlab", apiURL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Status != "ok" {
		return h, fmt.Errorf("target: %s/_iotlab/health: unexpected answer (%v)", apiURL, err)
	}
	return h, nil
}

func fromHealth(ctx context.Context, h instance.Health) (*Target, error) {
	cfg := aws.Config{
		Region:           h.Region,
		Credentials:      credentials.NewStaticCredentialsProvider("iotlab", "iotlab", ""),
		BaseEndpoint:     aws.String(h.API),
		HTTPClient:       httpClient(),
		RetryMaxAttempts: 3,
	}
	t := &Target{
		Kind: Local, Account: h.Account, Region: h.Region, APIURL: h.API, StateDir: h.StateDir,
		RootCAFile:  h.RootCA,
		RuleRoleARN: "arn:aws:iam::" + h.Account + ":role/iotlab-rules",
		APIThrottle: h.APIThrottle,
		IoT:         iot.NewFromConfig(cfg),
		Data:        iotdataplane.NewFromConfig(cfg),
		STS:         sts.NewFromConfig(cfg),
		Manifest:    NewManifest(""),
		Quiet:       localQuiet,
		Wait:        localWait,
	}
	if h.StateDir != "" {
		t.LogFile = filepath.Join(h.StateDir, "logs", "AWSIotLogsV2.log")
	}
	if h.Lab != "" {
		u, err := url.Parse(h.Lab)
		if err != nil {
			return nil, fmt.Errorf("target: lab address %q: %w", h.Lab, err)
		}
		t.LabAddr = u.Host
	}
	t.ALPNAddr = h.ALPN
	if h.HTTPS != "" {
		u, err := url.Parse(h.HTTPS)
		if err != nil {
			return nil, fmt.Errorf("target: HTTPS address %q: %w", h.HTTPS, err)
		}
		t.HTTPSAddr = u.Host
	}
	if h.MQTT != "" {
		u, err := url.Parse(h.MQTT)
		if err != nil {
			return nil, fmt.Errorf("target: MQTT address %q: %w", h.MQTT, err)
		}
		t.MQTTAddr = u.Host
	}
	pem, err := os.ReadFile(h.RootCA)
	if err != nil {
		return nil, fmt.Errorf("target: root CA: %w", err)
	}
	t.RootCAs = x509.NewCertPool()
	if !t.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("target: root CA %s holds no certificate", h.RootCA)
	}
	// The server name is what DescribeEndpoint answers, as on AWS; the address dialled is the broker's
	// own (the endpoint host may resolve to another loopback address than the one it listens on).
	if t.Endpoint, err = describeEndpoint(ctx, t.IoT); err != nil {
		return nil, err
	}
	return t, nil
}

// fromBroker turns the broker's account of an operation into an exercises event.
func fromBroker(e broker.Event) exercises.Event {
	ev := exercises.Event{
		Time: e.Time, Source: "broker", Kind: exercises.EvBroker, Client: e.ClientID, Topic: e.Topic,
		QoS: int(e.QoS), Retain: e.Retain, Action: e.Action, Detail: e.Kind.String(),
	}
	if len(e.Payload) > 0 {
		ev.Payload = string(e.Payload)
	}
	if e.Reason != "" {
		ev.Detail += " " + e.Reason
	}
	if e.Action != "" {
		d := e.Decision
		ev.Decision = d.Explain()
		ev.Effect, ev.Policy, ev.Sid = d.Effect.String(), d.Policy, d.Sid
	}
	switch e.Kind {
	case broker.EventDeny, broker.EventConnectFailed:
		ev.Kind = exercises.EvRefused
	}
	return ev
}
