package main

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// These tests run `iotlab check`, `iotlab devices` and `iotlab aws` as a user would.

// runBin runs the binary with args and extra environment, bounded by d.
func runBin(t *testing.T, d time.Duration, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("iotlab %s: no answer within %s\n%s", strings.Join(args, " "), d, out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// TestCheckLocalPasses: `iotlab check --target local` on a throwaway iotlab passes every chapter and
// every probed checklist item, and writes its report.
func TestCheckLocalPasses(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.md")
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	start := time.Now()
	out, code := runBin(t, 3*time.Minute, env, "check", "--target", "local", "--api-addr", "127.0.0.1:0", "--report", report)
	if code != 0 {
		t.Fatalf("iotlab check --target local: exit %d\n%s", code, failingRows(out))
	}
	t.Logf("iotlab check --target local took %s", time.Since(start).Round(time.Millisecond))
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// The throwaway instance throttles its API and has probe 96's failing function: both probes pass.
	for _, want := range []string{"## chapter 1: The registry", "## chapter 10: The switch to AWS", "§11.45", "| PASS |", "| PASS | §11.79 |", "| PASS | §11.96 |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// failingRows keeps the lines of a check table worth reading in a failure message.
func failingRows(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "PASS") && !strings.HasPrefix(l, "—") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestCheckAWSTargetAgainstStandIn: `iotlab check --target aws` through the standard AWS credential
// chain against a second iotlab standing in for AWS (its own endpoint, CA and credentials), with
// AWS_ENDPOINT_URL pointing elsewhere (the aws target ignores it). It shows the account before creating
// anything, the switch chapter passes, and `iotlab aws list` finds nothing left but deprecated thing
// types.
func TestCheckAWSTargetAgainstStandIn(t *testing.T) {
	standInState := t.TempDir()
	p := startUp(t, standInState)
	state := t.TempDir()
	env := []string{"AWS_ACCESS_KEY_ID=AKIDSTANDIN", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=eu-west-1",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_CONFIG_FILE=" + filepath.Join(state, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(state, "none")}
	standIn := []string{"--aws-endpoint-url", p.apiURL, "--aws-mqtt-port", p.mqttPort, "--root-ca", filepath.Join(standInState, "root-ca.pem"), "--state-dir", state}
	args := append([]string{"check", "--target", "aws", "--yes", "--keep", "--chapters", "10", "--no-probes", "--rule-role-arn", "arn:aws:iam::123456789012:role/iotlab-rules"}, standIn...)
	out, code := runBin(t, 3*time.Minute, env, args...)
	if code != 0 {
		t.Fatalf("iotlab check --target aws: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "AWS account 123456789012") || !strings.Contains(out, "region eu-west-1") || !strings.Contains(out, "endpoint localhost:"+p.mqttPort) {
		t.Errorf("the account, region and endpoint are not shown first:\n%s", out)
	}
	if !strings.Contains(out, "chapters: 4 expectations — 4 pass") {
		t.Errorf("unexpected summary:\n%s", out)
	}
	// --keep left the switch chapter's fleet in the "account", listed in the manifest; cleanup deletes it.
	list, code := runBin(t, time.Minute, env, append([]string{"aws", "list"}, standIn...)...)
	if code != 0 || !strings.Contains(list, "certificate") || !strings.Contains(list, "hall-lock") {
		t.Fatalf("iotlab aws list: exit %d\n%s", code, list)
	}
	clean, code := runBin(t, time.Minute, env, append([]string{"aws", "cleanup", "--yes"}, standIn...)...)
	if code != 0 || !strings.Contains(clean, "left 0") {
		t.Fatalf("iotlab aws cleanup: exit %d\n%s", code, clean)
	}
	list, _ = runBin(t, time.Minute, env, append([]string{"aws", "list"}, standIn...)...)
	if !strings.Contains(list, ": 0 resources created by iotlab") {
		t.Fatalf("after cleanup:\n%s", list)
	}
	things, err := p.iot().ListThings(context.Background(), &iot.ListThingsInput{})
	if err != nil || len(things.Things) != 0 {
		t.Fatalf("the stand-in still has %d things after cleanup (%v)", len(things.Things), err)
	}
	// Without --yes and with a "no", nothing is created.
	cmd := exec.Command(binPath, append([]string{"check", "--target", "aws", "--chapters", "1", "--no-probes"}, standIn...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("n\n")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "nothing created") {
		t.Fatalf("unconfirmed aws check: err %v\n%s", err, b)
	}
}

// TestDevicesObeyAndStopOnCtrlC: `iotlab devices` against a running iotlab publishes readings, the lock
// obeys a desired state set through iot-data, and SIGINT (Ctrl-C) stops it cleanly.
func TestDevicesObeyAndStopOnCtrlC(t *testing.T) {
	p := startUp(t, t.TempDir())
	cmd := exec.Command(binPath, "devices", "--api-url", p.apiURL, "--interval", "100ms", "--rooms", "kitchen")
	out, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(what string, match func(string) bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("iotlab devices ended before %s (stderr: %s)", what, stderr.String())
				}
				if match(l) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within 20s (stderr: %s)", what, stderr.String())
			}
		}
	}
	waitLine("devices connected", func(l string) bool { return strings.Contains(l, "3 devices connected") })
	waitLine("kitchen reading", func(l string) bool {
		return strings.Contains(l, "kitchen-sensor → home/kitchen/kitchen-sensor/temperature")
	})
	data := iotdataplane.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(p.apiURL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if _, err := data.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("hall-lock"),
		Payload: []byte(`{"state": {"desired": {"lock": "unlocked"}}}`)}); err != nil {
		t.Fatal(err)
	}
	waitLine("the lock obeying", func(l string) bool { return strings.Contains(l, "hall-lock: unlocked") })
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("iotlab devices after Ctrl-C: %v (stderr: %s)", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("iotlab devices did not stop within 15s of Ctrl-C")
	}
}
