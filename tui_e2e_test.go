package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotlab/iotlab/exercises"
)

// These tests drive the walkthrough of the real binary: --plain as CI runs it, and the interactive UI
// in a real terminal (tmux: keys in, the pane's text out).

// TestTUIPlainLocal: the transcript of chapters 2, 4 and 7 on an embedded iotlab, every outcome ✓.
func TestTUIPlainLocal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "tui", "--plain", "--ephemeral", "--chapter", "2,4,7")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iotlab tui --plain: %v\n%s", err, out)
	}
	s := string(out)
	if strings.Contains(s, "✗ FAIL") || strings.Contains(s, "○ SKIP") {
		t.Errorf("a ✗ (or a skip) in the transcript:\n%s", s)
	}
	want := 0
	for _, n := range []int{2, 4, 7} {
		sc, _ := exercises.Chapter(n)
		if !strings.Contains(s, fmt.Sprintf("== Chapter %d · %s", n, sc.Title)) {
			t.Errorf("no chapter %d heading", n)
		}
		for _, st := range sc.Steps {
			want += len(st.Expect)
		}
	}
	if got := strings.Count(s, "✓ PASS  "); got < want {
		t.Errorf("%d ✓ PASS lines, want %d (one per expected outcome):\n%s", got, want, s)
	}
	if !regexp.MustCompile(`(?m)^== PASS: \d+ ✓ passed, 0 ✗ failed`).MatchString(s) {
		t.Errorf("no passing summary:\n%s", s)
	}
}

// TestTUIPlainAttaches: with an iotlab already serving the state dir, the walkthrough uses it.
func TestTUIPlainAttaches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startUp(t, dir)
	addr := strings.TrimPrefix(p.apiURL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, "tui", "--plain", "--state-dir", dir, "--api-addr", addr, "--chapter", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("iotlab tui --plain: %v\n%s", err, out)
	}
	pid := fmt.Sprintf("attached to iotlab pid %d", p.cmd.Process.Pid)
	if !strings.Contains(string(out), pid) || !strings.Contains(string(out), "== PASS") {
		t.Errorf("want %q and a pass:\n%s", pid, out)
	}
}

// TestTUIWithoutATerminal: the interactive walkthrough refuses a pipe and points to --plain; with no
// arguments at all, iotlab runs `up` (scripts, make run).
func TestTUIWithoutATerminal(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binPath, "tui", "--ephemeral").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--plain") {
		t.Errorf("tui without a terminal: %v\n%s", err, out)
	}

	cmd := exec.Command(binPath)
	cmd.Env = append(os.Environ(), "IOTLAB_STATE_DIR="+t.TempDir(), "IOTLAB_API_ADDR=127.0.0.1:0", "IOTLAB_MQTT_ADDR=127.0.0.1:0", "IOTLAB_LAB_ADDR=127.0.0.1:0", "IOTLAB_HTTPS_ADDR=127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return
		}
	}
	t.Fatal("iotlab with no arguments and no terminal did not run `up`")
}

// pane is a tmux session on a private server, 80×24.
type pane struct {
	t    *testing.T
	sock string
}

var paneSeq atomic.Int64

func newPane(t *testing.T, env []string, command string) *pane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux not installed: run `make deps` (make test does)")
	}
	p := &pane{t: t, sock: fmt.Sprintf("iotlab-e2e-%d-%d", os.Getpid(), paneSeq.Add(1))}
	args := []string{"new-session", "-d", "-x", "80", "-y", "24", "-s", "e2e"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	p.tmux(append(args, command)...)
	t.Cleanup(func() { exec.Command("tmux", "-L", p.sock, "kill-server").Run() })
	return p
}

func (p *pane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends tmux key names ("Enter", "Escape", "a", …), one call each. Callers wait for the screen
// after an Escape before the next key: an Escape and a key read together are Alt+key.
func (p *pane) keys(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		p.tmux("send-keys", "-t", "e2e", k)
	}
}

func (p *pane) screen() string { return p.tmux("capture-pane", "-p", "-t", "e2e") }

// waitFor polls the pane until ok holds, for at most d.
func (p *pane) waitFor(what string, d time.Duration, ok func(string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting %s for %s; the screen:\n%s", d, what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *pane) waitText(text string, d time.Duration) string {
	p.t.Helper()
	return p.waitFor(fmt.Sprintf("%q", text), d, func(s string) bool { return strings.Contains(s, text) })
}

// TestTUIInTerminal walks through chapters 2, 4 and 7 in a real terminal, as a trainer would: `iotlab`
// with no arguments opens the walkthrough; each chapter is run with a, its outcomes are ✓, its row in
// the chapter list says PASS; the policy chapter shows the deciding statement; inspect, help, resize,
// quit.
func TestTUIInTerminal(t *testing.T) {
	t.Parallel()
	p := newPane(t, []string{"IOTLAB_EPHEMERAL=true", "IOTLAB_LOG_LEVEL=error"},
		fmt.Sprintf("%s; echo EXIT=$?; sleep 120", binPath))
	s := p.waitText("Progress", 20*time.Second)
	if !strings.Contains(s, "LOCAL · embedded, ephemeral") || !strings.Contains(s, "The registry") {
		t.Fatalf("the chapter list:\n%s", s)
	}
	for _, n := range []int{2, 4, 7} {
		sc, _ := exercises.Chapter(n)
		p.keys(fmt.Sprint(n))
		p.waitText(fmt.Sprintf("Chapter %d · %s", n, sc.Title), 10*time.Second)
		p.keys("a")
		last := fmt.Sprintf("[%d", len(sc.Steps))
		s := p.waitFor(fmt.Sprintf("chapter %d to finish", n), time.Minute, func(s string) bool {
			return strings.Contains(s, last) && !strings.Contains(s, "running") && !strings.Contains(s, "queued")
		})
		if strings.Contains(s, "✗ FAIL") {
			t.Errorf("chapter %d: a failure on screen:\n%s", n, s)
		}
		if n == 7 {
			// Back through the steps to a refused operation: the pane names the deciding statement.
			denied := regexp.MustCompile(`✗ \S+ +DENIED +(EXPLICIT_DENY by \S+/\S+|IMPLICIT_DENY: no statement allows)`)
			for i := len(sc.Steps); i > 1 && !denied.MatchString(s); i-- {
				p.keys("p")
				s = p.waitText(fmt.Sprintf("[%d", i-1), 5*time.Second)
			}
			if !denied.MatchString(s) {
				t.Errorf("no step of chapter 7 shows a refusal with its policy statement; the last screen:\n%s", s)
			}
			p.keys("i")
			s = p.waitFor("the chapter's things", 10*time.Second, func(s string) bool {
				return regexp.MustCompile(`(?m)^c7-\S+`).MatchString(s)
			})
			if !strings.Contains(s, "[Things") {
				t.Errorf("inspect:\n%s", s)
			}
			p.keys("Tab", "Tab", "Tab")
			p.waitText("[Sessions", 5*time.Second)
			p.keys("Escape")
			p.waitText("Chapter 7 · ", 5*time.Second)
		}
		p.keys("Escape")
		s = p.waitText("Progress", 5*time.Second)
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^.{0,4}%2d  %s .*$`, n, regexp.QuoteMeta(sc.Title))).FindString(s)
		if want := fmt.Sprintf("✓ PASS %2d/%d", len(sc.Steps), len(sc.Steps)); !strings.Contains(row, want) {
			t.Errorf("chapter %d row %q, want %q", n, row, want)
		}
	}
	p.keys("?")
	p.waitText("Marks", 5*time.Second)
	p.keys("Escape")
	p.tmux("resize-window", "-t", "e2e", "-x", "110", "-y", "30")
	p.waitText("iotlab · AWS IoT Core walkthrough", 5*time.Second)
	p.keys("q")
	p.waitText("EXIT=0", 15*time.Second)
}

// TestTUIPlainOnAWSStandIn: --target aws shows the account and every resource before creating any,
// creates nothing without a yes, and `iotlab aws cleanup` deletes exactly what the run created. A
// second iotlab stands in for AWS (the testing-only --aws-endpoint-url flags).
func TestTUIPlainOnAWSStandIn(t *testing.T) {
	t.Parallel()
	awsDir, state := t.TempDir(), t.TempDir()
	aws := startUp(t, awsDir)
	flags := []string{"--state-dir", state, "--region", "eu-west-1", "--aws-endpoint-url", aws.apiURL,
		"--aws-mqtt-port", aws.mqttPort, "--root-ca", awsDir + "/root-ca.pem"}
	run := func(stdin string, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, append(args, flags...)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=", "AWS_PROFILE=")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("n\n", "tui", "--plain", "--target", "aws", "--chapter", "7")
	if code != 1 || !strings.Contains(out, "AWS account 123456789012") || !strings.Contains(out, "nothing created") {
		t.Fatalf("declined: exit %d\n%s", code, out)
	}
	for _, want := range []string{`policy +iotlab-\S+-c7-sensor-policy +iotlab=exercise`, `thing +iotlab-\S+-c7-livingroom-sensor +name prefix only`,
		`certificate +iotlab-\S+-c7-livingroom-sensor`, `not run: \d+ steps?: AWS IoT logs go to CloudWatch`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the plan lacks %s:\n%s", want, out)
		}
	}
	if list, _ := run("", "aws", "list"); !strings.Contains(list, ": 0 resources") {
		t.Fatalf("something was created without a yes:\n%s", list)
	}

	out, code = run("y\n", "tui", "--plain", "--target", "aws", "--chapter", "7")
	if code != 0 || !strings.Contains(out, "target: aws (AWS account)") || !strings.Contains(out, "== PASS") || !strings.Contains(out, "iotlab aws cleanup") {
		t.Fatalf("accepted: exit %d\n%s", code, out)
	}
	list, _ := run("", "aws", "list")
	if strings.Contains(list, ": 0 resources") || !strings.Contains(list, "certificate") {
		t.Fatalf("nothing listed after the run:\n%s", list)
	}
	out, code = run("", "aws", "cleanup", "--yes")
	if code != 0 || !strings.Contains(out, "left 0") {
		t.Fatalf("cleanup: exit %d\n%s", code, out)
	}
	if list, _ := run("", "aws", "list"); !strings.Contains(list, ": 0 resources") {
		t.Fatalf("left after cleanup:\n%s", list)
	}
}
