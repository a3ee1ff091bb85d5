package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// These tests run the real binary as a user would: `iotlab up` in its own process.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iotlab-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "iotlab")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `iotlab up`.
type proc struct {
	cmd      *exec.Cmd
	apiURL   string
	labAddr  string // host:port
	mqttPort string
	stdout   *bufio.Scanner
	stderr   *strings.Builder
	banner   []string // the lines before "ready"
}

func startUp(t *testing.T, stateDir string, extra ...string) *proc {
	t.Helper()
	p, err := tryStartUp(t, stateDir, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tryStartUp(t *testing.T, stateDir string, extra ...string) (*proc, error) {
	t.Helper()
	args := append([]string{"up", "--state-dir", stateDir, "--api-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--lab-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "IOTLAB_LOG_LEVEL=warn")
	out, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, stdout: bufio.NewScanner(out), stderr: &stderr}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for p.stdout.Scan() {
		line := p.stdout.Text()
		p.banner = append(p.banner, line)
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "export AWS_ENDPOINT_URL="); ok {
			p.apiURL = u
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "MQTT" && f[1] == "(mTLS)" {
			_, p.mqttPort, _ = strings.Cut(strings.TrimPrefix(f[2], "mqtts://"), ":")
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "lab" && f[1] == "MQTT" {
			p.labAddr = strings.TrimPrefix(f[2], "mqtt://")
		}
		if line == "ready" {
			go io.Copy(io.Discard, out)
			return p, nil
		}
	}
	cmd.Wait()
	return nil, fmt.Errorf("iotlab up exited before ready: %s", stderr.String())
}

func (p *proc) iot() *iot.Client {
	return iot.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(p.apiURL),
		RetryMaxAttempts: 1,
	})
}

func TestUpHealthAndShutdown(t *testing.T) {
	dir := t.TempDir()
	p := startUp(t, dir)
	resp, err := http.Get(p.apiURL + "/_iotlab/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Status, StateDir, API, Account, Region string
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Status != "ok" || h.StateDir != dir || h.API != p.apiURL || h.Account != "123456789012" || h.Region != "eu-west-1" {
		t.Fatalf("health = %+v", h)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v (stderr: %s)", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("iotlab up did not exit within 10s of SIGTERM")
	}
}

func TestSecondUpOnSameStateDirRefuses(t *testing.T) {
	dir := t.TempDir()
	startUp(t, dir)
	_, err := tryStartUp(t, dir)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second up: got %v, want an 'in use' error", err)
	}
}

func TestStateSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	p := startUp(t, dir)
	ctx := context.Background()
	if _, err := p.iot().CreateThing(ctx, &iot.CreateThingInput{
		ThingName:        aws.String("hall-door"),
		AttributePayload: nil,
	}); err != nil {
		t.Fatal(err)
	}
	before, err := p.iot().DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("hall-door")})
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Kill() // SIGKILL: no chance to flush
	p.cmd.Wait()

	p2 := startUp(t, dir)
	after, err := p2.iot().DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("hall-door")})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if aws.ToString(after.ThingId) != aws.ToString(before.ThingId) || aws.ToString(after.ThingArn) != aws.ToString(before.ThingArn) {
		t.Fatalf("after restart got id %s arn %s, want %s %s", aws.ToString(after.ThingId), aws.ToString(after.ThingArn), aws.ToString(before.ThingId), aws.ToString(before.ThingArn))
	}
}

func TestReset(t *testing.T) {
	dir := t.TempDir()
	p := startUp(t, dir)
	if _, err := p.iot().CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("t1")}); err != nil {
		t.Fatal(err)
	}
	// Reset refuses while the state dir is in use.
	if code := run([]string{"reset", "--yes", "--state-dir", dir}, strings.NewReader(""), io.Discard, io.Discard); code == 0 {
		t.Fatal("reset of a state dir in use succeeded")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	// Without --yes it asks, and "n" keeps everything.
	var out strings.Builder
	if code := run([]string{"reset", "--state-dir", dir}, strings.NewReader("n\n"), &out, io.Discard); code == 0 {
		t.Fatalf("reset answered n: exit 0, output %q", out.String())
	}
	if code := run([]string{"reset", "--yes", "--state-dir", dir}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
		t.Fatal("reset --yes failed")
	}
	p2 := startUp(t, dir)
	l, err := p2.iot().ListThings(context.Background(), &iot.ListThingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Things) != 0 {
		t.Fatalf("after reset got %d things, want 0", len(l.Things))
	}
}

func TestResetRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("precious"), 0o600)
	if code := run([]string{"reset", "--yes", "--state-dir", dir}, strings.NewReader(""), io.Discard, io.Discard); code == 0 {
		t.Fatal("reset emptied a folder that is not a state dir")
	}
	if _, err := os.Stat(filepath.Join(dir, "thesis.tex")); err != nil {
		t.Fatal("foreign file removed")
	}
}

// TestUpIssuesCertificates guards the wiring of the local CA into the API.
func TestUpIssuesCertificates(t *testing.T) {
	dir := t.TempDir()
	p := startUp(t, dir)
	out, err := p.iot().CreateKeysAndCertificate(context.Background(), &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(out.CertificatePem), "-----BEGIN CERTIFICATE-----") || out.KeyPair == nil ||
		!strings.Contains(aws.ToString(out.KeyPair.PrivateKey), "PRIVATE KEY") {
		t.Fatalf("CreateKeysAndCertificate answered %+v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "root-ca.pem")); err != nil {
		t.Fatalf("root CA not written to the state dir: %v", err)
	}
}

// TestLabListenerWithMosquittoClients drives the lab listener of the real binary with Debian's clients:
// a retained message set by mosquitto_pub is read by mosquitto_sub, also after a restart.
func TestLabListenerWithMosquittoClients(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed: run `make deps` (make test does)")
	}
	dir := t.TempDir()
	p := startUp(t, dir)
	host, port, _ := strings.Cut(p.labAddr, ":")
	if port == "" {
		t.Fatalf("no lab address in the banner")
	}
	pub := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-r", "-t", "home/hall/temperature", "-m", "21.5")
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	sub := func(port string) string {
		out, err := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv5", "-t", "home/+/temperature", "-C", "1", "-W", "5").CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_sub: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := sub(port); got != "21.5" {
		t.Fatalf("retained: got %q, want 21.5", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p2 := startUp(t, dir)
	_, port2, _ := strings.Cut(p2.labAddr, ":")
	if got := sub(port2); got != "21.5" {
		t.Fatalf("retained after restart: got %q, want 21.5", got)
	}
}

// TestLabACLFlag: with --lab-acl, what the file does not grant is refused (Mosquitto drops the publish).
func TestLabACLFlag(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed: run `make deps` (make test does)")
	}
	dir := t.TempDir()
	acl := filepath.Join(t.TempDir(), "acl")
	os.WriteFile(acl, []byte("topic readwrite home/#\n"), 0o600)
	p := startUp(t, dir, "--lab-acl", acl)
	host, port, _ := strings.Cut(p.labAddr, ":")
	for _, tc := range []struct{ topic, want string }{{"home/hall/temperature", "ok"}, {"office/temperature", ""}} {
		exec.Command("mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-r", "-t", tc.topic, "-m", "ok").Run()
		out, _ := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-t", tc.topic, "-C", "1", "-W", "2").CombinedOutput()
		if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, tc.want) || (tc.want == "" && got == "ok") {
			t.Fatalf("%s: got %q, want %q", tc.topic, got, tc.want)
		}
	}
	// A bad ACL file is a clear start-up error.
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("topic reed home/#\n"), 0o600)
	if _, err := tryStartUp(t, t.TempDir(), "--lab-acl", bad); err == nil || !strings.Contains(err.Error(), "reed") {
		t.Fatalf("bad ACL: got %v", err)
	}
}
