// Package target is where exercises run: a local iotlab (in this process, or one already running, found
// through its health endpoint) or a real AWS account. A Target is the same value either way — AWS SDK
// clients for the control plane, iot-data and STS, the MQTT endpoint with its root CA, and, when there is
// one, the lab listener — so that the runner, the fleet and the checklist probes have one code path, and
// switching to AWS is a change of target, not of code.
//
// Resources a run creates are recorded in a Manifest (a file in the state dir for AWS) so that Cleanup
// can delete exactly them.
package target

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iotlab/iotlab/exercises"
)

// Kind names a kind of target.
type Kind string

const (
	Local Kind = "local"
	AWS   Kind = "aws"
)

// Target is a place to run exercises. Build it with InProcess, Running or NewAWS; Close it when done.
type Target struct {
	Kind    Kind
	Account string
	Region  string
	// Caller is the STS caller ARN (who creates resources).
	Caller string
	// Endpoint is the host devices connect to, as DescribeEndpoint(iot:Data-ATS) answers: the server name
	// of the mTLS endpoint. MQTTAddr is the host:port dialled.
	Endpoint string
	MQTTAddr string
	// RootCAs verify the endpoint's certificate (Amazon Root CA 1, or the local CA); RootCAFile is where
	// it came from, for the learner's own clients.
	RootCAs    *x509.CertPool
	RootCAFile string
	// ALPNAddr is the host:port that plays AWS's port 443 (MQTT with ALPN x-amzn-mqtt-ca, HTTPS with
	// x-amzn-http-ca or none); "" when a local iotlab runs without --alpn-addr. HTTPSAddr is the device
	// HTTPS endpoint (AWS's 8443). AWS: protocols
	ALPNAddr  string
	HTTPSAddr string
	// LabAddr is the lab listener's host:port; "" when there is none (AWS).
	LabAddr string
	// APIURL is the API's base URL; "" for AWS's own endpoints.
	APIURL string
	// StateDir is the local instance's state dir ("" for AWS); LogFile its AWS-format log.
	StateDir string
	LogFile  string
	// RuleRoleARN is the IAM role rule actions run with.
	RuleRoleARN string
	// APIThrottle says a local iotlab throttles its API as AWS does (--api-throttle); AWS always does.
	APIThrottle bool

	IoT  *iot.Client
	Data *iotdataplane.Client
	STS  *sts.Client

	// Manifest records what runs create here.
	Manifest *Manifest
	// Throwaway says the target disappears with its resources (an ephemeral instance): no cleanup needed.
	Throwaway bool
	// Quiet is how long "nothing arrives" is waited for; Wait bounds every "it arrives".
	Quiet, Wait time.Duration

	events  func(func(exercises.Event)) (cancel func())
	closeMu sync.Mutex // guards closers
	closers []func() error
}

// Has reports whether the target offers a capability.
func (t *Target) Has(c exercises.Capability) bool {
	switch c {
	case exercises.CapLab:
		return t.LabAddr != ""
	case exercises.CapLocalLogs:
		return t.LogFile != ""
	case exercises.CapRuleRole:
		return t.RuleRoleARN != ""
	case exercises.CapAPIThrottle:
		return t.Kind == AWS || t.APIThrottle
	}
	return false
}

// Why says why the target lacks a capability, for "not applicable" rows.
func (t *Target) Why(c exercises.Capability) string {
	switch c {
	case exercises.CapLab:
		return "AWS IoT Core has no plain-MQTT lab listener"
	case exercises.CapLocalLogs:
		return "AWS IoT logs go to CloudWatch Logs (they need an IAM role)"
	case exercises.CapRuleRole:
		return "rule actions need an IAM role: pass --rule-role-arn"
	case exercises.CapAPIThrottle:
		return "this iotlab does not throttle its API (start it with --api-throttle)"
	}
	return string(c) + " is not available"
}

// Observe registers fn for the broker's own account of traffic — with the deciding policy statement —
// when the target can tell (an in-process iotlab). ok is false otherwise.
func (t *Target) Observe(fn func(exercises.Event)) (cancel func(), ok bool) {
	if t.events == nil {
		return func() {}, false
	}
	return t.events(fn), true
}

// TLS is the client TLS configuration for a device certificate on the mTLS endpoint.
func (t *Target) TLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      t.RootCAs,
		ServerName:   t.Endpoint,
		MinVersion:   tls.VersionTLS12,
	}
}

// String says where the target is: account, region, endpoint.
func (t *Target) String() string {
	s := fmt.Sprintf("%s target: account %s, region %s, endpoint %s (MQTT %s)", t.Kind, t.Account, t.Region, t.Endpoint, t.MQTTAddr)
	if t.Caller != "" {
		s += ", caller " + t.Caller
	}
	if t.APIURL != "" {
		s += ", API " + t.APIURL
	}
	if t.LabAddr != "" {
		s += ", lab " + t.LabAddr
	}
	return s
}

// OnClose adds a function Close runs (in reverse order).
func (t *Target) OnClose(f func() error) {
	t.closeMu.Lock()
	t.closers = append(t.closers, f)
	t.closeMu.Unlock()
}

// Close releases what the target holds (an in-process instance it started, say).
func (t *Target) Close() error {
	t.closeMu.Lock()
	cl := t.closers
	t.closers = nil
	t.closeMu.Unlock()
	var errs []error
	for i := len(cl) - 1; i >= 0; i-- {
		if err := cl[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Identity is who and where the target's credentials act.
type Identity struct {
	Account, Arn, Region, Endpoint string
}

// Identity asks STS and DescribeEndpoint.
func (t *Target) Identity(ctx context.Context) (Identity, error) {
	id, err := t.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("target: sts: %w", err)
	}
	host, err := describeEndpoint(ctx, t.IoT)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Account: aws.ToString(id.Account), Arn: aws.ToString(id.Arn), Region: t.Region, Endpoint: host}, nil
}

func describeEndpoint(ctx context.Context, c *iot.Client) (string, error) {
	ep, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	if err != nil {
		return "", fmt.Errorf("target: describe endpoint: %w", err)
	}
	return aws.ToString(ep.EndpointAddress), nil
}

// httpClient bounds every API call.
func httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second}
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
