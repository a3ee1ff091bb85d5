package target

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// AmazonRootCA1 is where Debian and most Linux distributions keep Amazon Root CA 1, the CA of every
// iot:Data-ATS endpoint. AWS: server-authentication
const AmazonRootCA1 = "/etc/ssl/certs/Amazon_Root_CA_1.pem"

// ManifestFile is the AWS manifest's name in the state dir.
const ManifestFile = "aws-resources.json"

// AWS waits: a real account is a network round trip away.
const (
	awsQuiet = 2 * time.Second
	awsWait  = 20 * time.Second
)

// AWSOptions configure the aws target. The zero value uses the standard AWS configuration: profile,
// region and credentials from the environment and ~/.aws, exactly as the AWS CLI and boto3 find them.
type AWSOptions struct {
	Profile string // "" = AWS_PROFILE or default
	Region  string // "" = AWS_REGION or the profile's

	// RuleRoleARN is the IAM role topic rules act with (republish needs one); "" makes the steps that
	// need it not applicable.
	RuleRoleARN string
	// StateDir holds the manifest of created resources ("" = no manifest file).
	StateDir string

	// The rest lets a test stand a second iotlab in for AWS; users never set them.
	//
	// Endpoint is the base URL of the iot, iot-data and STS APIs (default: AWS's own endpoints). The
	// AWS_ENDPOINT_URL* variables are ignored either way: iotlab's banner tells users to export them, and
	// "aws" must mean AWS.
	Endpoint string
	// MQTTPort is the port of the endpoint host (default 8883).
	MQTTPort int
	// RootCAFile is the CA of the endpoint (default: Amazon Root CA 1 from the system's store).
	RootCAFile string
	// Credentials replace the standard credential chain.
	Credentials aws.CredentialsProvider
}

// NewAWS opens the aws target: it asks STS who the credentials are and DescribeEndpoint where devices
// connect, so the caller can show both before anything is created.
func NewAWS(ctx context.Context, o AWSOptions) (*Target, error) {
	t, cfg, err := awsClients(ctx, o)
	if err != nil {
		return nil, err
	}
	id, err := t.Identity(ctx)
	if err != nil {
		return nil, err
	}
	t.Account, t.Caller, t.Endpoint = id.Account, id.Arn, id.Endpoint
	port := o.MQTTPort
	if port == 0 {
		port = 8883
	}
	t.MQTTAddr = hostPort(t.Endpoint, port)
	t.ALPNAddr, t.HTTPSAddr = hostPort(t.Endpoint, 443), hostPort(t.Endpoint, 8443)
	data := endpoint(o.Endpoint)
	if data == nil {
		// iot-data lives on the account's own endpoint. AWS: iot-connect-devices (iot:Data-ATS)
		data = aws.String("https://" + t.Endpoint)
	}
	t.Data = iotdataplane.NewFromConfig(cfg, func(do *iotdataplane.Options) { do.BaseEndpoint = data })

	t.RootCAFile = o.RootCAFile
	if t.RootCAFile == "" {
		if _, err := os.Stat(AmazonRootCA1); err == nil {
			t.RootCAFile = AmazonRootCA1
		}
	}
	if t.RootCAFile != "" {
		pem, err := os.ReadFile(t.RootCAFile)
		if err != nil {
			return nil, fmt.Errorf("target: root CA: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target: %s holds no certificate", t.RootCAFile)
		}
	} else if t.RootCAs, err = x509.SystemCertPool(); err != nil {
		return nil, fmt.Errorf("target: no Amazon Root CA 1 (%s) and no system certificates: %w", AmazonRootCA1, err)
	}

	path := ""
	if o.StateDir != "" {
		if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		path = filepath.Join(o.StateDir, ManifestFile)
	}
	if t.Manifest, err = OpenManifest(path); err != nil {
		return nil, err
	}
	return t, nil
}

// awsClients loads the standard AWS configuration and makes the control-plane and STS clients, without
// any network call.
func awsClients(ctx context.Context, o AWSOptions) (*Target, aws.Config, error) {
	var lo []func(*config.LoadOptions) error
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(o.Credentials))
	}
	// The SDK's own client, so that AWS_CA_BUNDLE keeps working; every call bounded.
	lo = append(lo, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(30*time.Second)))
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, cfg, fmt.Errorf("target: aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, cfg, errors.New("target: no AWS region: pass --region, set AWS_REGION or give the profile a region")
	}
	// AWS_ENDPOINT_URL (and _IOT, _STS, …) point the SDKs at an emulator; the aws target never follows
	// them. Each client's option function runs after the SDK has read them, so this wins.
	cfg.BaseEndpoint = nil
	base := endpoint(o.Endpoint)
	t := &Target{
		Kind:        AWS,
		Region:      cfg.Region,
		APIURL:      o.Endpoint,
		RuleRoleARN: o.RuleRoleARN,
		IoT:         iot.NewFromConfig(cfg, func(io *iot.Options) { io.BaseEndpoint = base }),
		STS:         sts.NewFromConfig(cfg, func(so *sts.Options) { so.BaseEndpoint = base }),
		Quiet:       awsQuiet,
		Wait:        awsWait,
	}
	return t, cfg, nil
}

// endpoint is a client's BaseEndpoint: the given URL, or nil for the SDK's own resolution of AWS's.
func endpoint(u string) *string {
	if u == "" {
		return nil
	}
	return aws.String(u)
}
