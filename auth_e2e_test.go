package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"
)

// iotAs is an IoT client of p signing with the given pair.
func (p *proc) iotAs(key, secret string) *iot.Client {
	return iot.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(p.apiURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
}

// bannerExport returns the access key pair the banner's export line gives.
func (p *proc) bannerExport(t *testing.T) (key, secret string) {
	t.Helper()
	for _, l := range p.banner {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "export AWS_ACCESS_KEY_ID="); ok {
			k, s, _ := strings.Cut(rest, " AWS_SECRET_ACCESS_KEY=")
			return k, s
		}
	}
	t.Fatalf("no AWS_ACCESS_KEY_ID export in the banner:\n%s", strings.Join(p.banner, "\n"))
	return "", ""
}

func wantRefused(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) || ae.ErrorCode() != code || re.HTTPStatusCode() != 403 {
		t.Fatalf("got %v, want 403 %s", err, code)
	}
}

// TestUpRequireAuth: `iotlab up --require-auth` generates a pair into <state-dir>/credentials, prints it
// in the banner, accepts only requests signed with it (wrong secret: 403 InvalidSignatureException;
// unknown key: 403 UnrecognizedClientException), and keeps it across restarts; --credentials FILE
// supplies the pairs instead, and needs --require-auth.
func TestUpRequireAuth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := startUp(t, dir, "--require-auth")
	key, secret := p.bannerExport(t)
	if !strings.HasPrefix(key, "AKIA") || len(secret) != 40 {
		t.Fatalf("banner pair %q %q is not AWS-shaped", key, secret)
	}
	file, err := os.ReadFile(filepath.Join(dir, "credentials"))
	if err != nil || !strings.Contains(string(file), "aws_access_key_id = "+key) || !strings.Contains(string(file), "aws_secret_access_key = "+secret) {
		t.Fatalf("credentials file %q (%v) does not hold the banner's pair", file, err)
	}
	if _, err := p.iotAs(key, secret).ListThings(ctx, &iot.ListThingsInput{}); err != nil {
		t.Fatalf("the banner's pair: %v", err)
	}
	_, err = p.iotAs(key, secret+"x").ListThings(ctx, &iot.ListThingsInput{})
	wantRefused(t, err, "InvalidSignatureException")
	_, err = p.iot().ListThings(ctx, &iot.ListThingsInput{}) // AKID/SECRET
	wantRefused(t, err, "UnrecognizedClientException")

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p2 := startUp(t, dir, "--require-auth")
	if k2, s2 := p2.bannerExport(t); k2 != key || s2 != secret {
		t.Fatalf("after a restart the pair changed: %s → %s", key, k2)
	}

	credFile := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(credFile, []byte("[default]\naws_access_key_id = AKIDONE\naws_secret_access_key = one\n[lab]\naws_access_key_id = AKIDTWO\naws_secret_access_key = two\n"), 0o600)
	p3 := startUp(t, t.TempDir(), "--require-auth", "--credentials", credFile)
	for _, pair := range [][2]string{{"AKIDONE", "one"}, {"AKIDTWO", "two"}} {
		if _, err := p3.iotAs(pair[0], pair[1]).ListThings(ctx, &iot.ListThingsInput{}); err != nil {
			t.Fatalf("%s from --credentials: %v", pair[0], err)
		}
	}
	_, err = p3.iotAs(key, secret).ListThings(ctx, &iot.ListThingsInput{})
	wantRefused(t, err, "UnrecognizedClientException")

	if _, err := tryStartUp(t, t.TempDir(), "--credentials", credFile); err == nil || !strings.Contains(err.Error(), "--require-auth") {
		t.Fatalf("--credentials without --require-auth: got %v, want an error naming --require-auth", err)
	}
}
