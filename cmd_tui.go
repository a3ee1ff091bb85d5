package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises/target"
	"github.com/iotlab/iotlab/tui"
	"github.com/iotlab/iotlab/tui/course"
	"github.com/iotlab/iotlab/tui/plain"
)

// cmdTUI is `iotlab tui` (and `iotlab` alone in a terminal): the walkthrough through the chapters, on
// the local target — the iotlab already serving the state dir, or one embedded on free ports — or,
// with --target aws, on a real account after showing what would be created. --plain prints the same
// steps as a transcript and exits 1 when an expected outcome fails.
func cmdTUI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf targetFlags
	tf.register(fs)
	plainOut := fs.Bool("plain", false, "print a transcript of the steps (classes, CI) instead of the interactive UI; exit 1 when an outcome fails")
	chapterList := fs.String("chapter", "", "--plain: the chapters to run, e.g. 2,4,7 (default all); interactive: the chapter to open")
	traffic := fs.Bool("traffic", false, "--plain: print each step's MQTT and API traffic too")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if tf.kind != "local" && tf.kind != "aws" {
		fmt.Fprintf(stderr, "iotlab: --target %q: want local or aws\n", tf.kind)
		return 2
	}
	chapters, err := parseChapters(*chapterList)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 2
	}
	if !*plainOut && !isTerminal(stdin) {
		fmt.Fprintln(stderr, "iotlab: the walkthrough needs a terminal; use `iotlab tui --plain` for a transcript")
		return 2
	}
	// SIGHUP too: a closed terminal window still stops an embedded iotlab cleanly (an ephemeral state
	// dir is removed).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Quitting cancels a step still running before the course closes its runs.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The interactive UI owns the screen; the transcript shows the refusals itself (the broker's
	// AWS-format log lines would repeat them): --log-level brings them to stderr.
	logOut := io.Discard
	if *plainOut && given(&tf, "log-level") {
		logOut = stderr
	}
	local, mode, err := openWalkthroughLocal(ctx, &tf, logOut)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	c := course.New(local, course.Options{LocalMode: mode, OpenAWS: func(ctx context.Context) (*target.Target, error) {
		aws := tf
		aws.kind, aws.yes = "aws", true // the walkthrough asks itself, after showing the plan
		return aws.openAWS(ctx, strings.NewReader(""), io.Discard)
	}})
	defer func() {
		cancel()
		cctx, cancelClose := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancelClose()
		if err := c.Close(cctx); err != nil {
			fmt.Fprintln(stderr, "iotlab: closing:", err)
		}
	}()

	if *plainOut {
		return walkthroughPlain(ctx, c, &tf, chapters, *traffic, stdin, stdout, stderr)
	}
	o := tui.Options{Context: ctx, StartAWS: tf.kind == "aws"}
	if len(chapters) > 0 {
		o.Chapter = chapters[0]
	}
	// While the UI owns the screen, stray writes to os.Stderr (the AWS SDK's warnings, say) would
	// scribble over it: they go nowhere until it is done.
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		saved := os.Stderr
		os.Stderr = null
		defer func() { os.Stderr = saved; null.Close() }()
	}
	p := tea.NewProgram(tui.New(c, o), tea.WithAltScreen(), tea.WithInput(stdin), tea.WithOutput(stdout), tea.WithContext(ctx))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	cleanupHint(c.Info(), stdout)
	return 0
}

// walkthroughPlain is --plain: on AWS it shows the plan and asks (or takes --yes) before anything is
// created; without usable credentials it says so and stays local.
func walkthroughPlain(ctx context.Context, c *course.Course, tf *targetFlags, chapters []int, traffic bool, stdin io.Reader, stdout, stderr io.Writer) int {
	note := ""
	if tf.kind == "aws" {
		plan, err := c.ProbeAWS(ctx)
		if err != nil {
			note = course.Explain(err)
			fmt.Fprintln(stderr, "iotlab:", note)
		} else {
			printPlan(stdout, plan)
			if !tf.yes {
				fmt.Fprintf(stdout, "Create these in account %s as the steps run? [y/N] ", plan.Account)
				line, _ := bufio.NewReader(stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					fmt.Fprintln(stdout, "\nnothing created")
					return 1
				}
			}
			if _, err := c.UseAWS(ctx); err != nil {
				fmt.Fprintln(stderr, "iotlab:", err)
				return 1
			}
		}
	}
	o := plain.Options{Chapters: chapters, Note: note}
	if traffic {
		o.Events = c.Events()
	}
	sum := plain.Run(ctx, c, stdout, o)
	cleanupHint(c.Info(), stdout)
	if !sum.OK() {
		return 1
	}
	return 0
}

func printPlan(w io.Writer, p course.Plan) {
	fmt.Fprintf(w, "AWS account %s (%s), region %s, endpoint %s\n", p.Account, p.Caller, p.Region, p.MQTTAddr)
	fmt.Fprintf(w, "The chapters create, as their steps run (names %sc<chapter>-…, tagged iotlab=exercise where AWS takes tags):\n", p.Prefix)
	for _, r := range p.Resources {
		tag := r.Tag
		if tag == "" {
			tag = "name prefix only"
		}
		fmt.Fprintf(w, "  ch%-2d %-15s %-50s %s\n", r.Chapter, r.Kind, r.Name, tag)
	}
	fmt.Fprintf(w, "  = %s\n", strings.Join(p.Kinds(), ", "))
	for _, r := range p.Reasons() {
		fmt.Fprintf(w, "  not run: %s\n", r)
	}
	if p.Manifest != "" {
		fmt.Fprintf(w, "They are listed in %s; `iotlab aws cleanup` deletes exactly them.\n", p.Manifest)
	}
}

func cleanupHint(in course.Info, w io.Writer) {
	if in.Kind == target.AWS {
		fmt.Fprintf(w, "What the walkthrough created in AWS account %s (%s) is listed in %s: `iotlab aws cleanup` deletes it.\n",
			in.Account, in.Region, in.Manifest)
	}
}

// openWalkthroughLocal is the local target: the iotlab serving the state dir (at --api-url, or at
// --api-addr when its health endpoint says it serves this state dir), else one embedded in this process
// on that state dir (or a throwaway one with --ephemeral), on free loopback ports unless addresses are
// given. The embedded one shows the broker's policy decisions; an attached one cannot.
func openWalkthroughLocal(ctx context.Context, tf *targetFlags, logOut io.Writer) (*target.Target, string, error) {
	if tf.apiURL != "" {
		t, err := target.Running(ctx, tf.apiURL, "")
		return t, "attached to " + tf.apiURL, err
	}
	c := tf.inst
	if !c.Ephemeral {
		if abs, err := filepath.Abs(c.StateDir); err == nil {
			c.StateDir = abs
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		h, err := target.Health(hctx, "http://"+c.APIAddr)
		cancel()
		if err == nil && filepath.Clean(h.StateDir) == c.StateDir {
			t, err := target.Running(ctx, "http://"+c.APIAddr, c.StateDir)
			return t, fmt.Sprintf("attached to iotlab pid %d", h.PID), err
		}
	}
	c.Version = version
	if !given(tf, "log-level") {
		c.LogLevel = "error"
	}
	for _, a := range []struct {
		name string
		addr *string
	}{{"api-addr", &c.APIAddr}, {"mqtt-addr", &c.MQTTAddr}, {"lab-addr", &c.LabAddr}, {"https-addr", &c.HTTPSAddr}} {
		if !given(tf, a.name) {
			*a.addr = "127.0.0.1:0"
		}
	}
	inst, err := instance.Start(c, logOut)
	if errors.Is(err, instance.ErrInUse) {
		return nil, "", fmt.Errorf("%w: another iotlab holds %s but does not answer at %s; pass --api-url (or use --ephemeral)", err, c.StateDir, tf.inst.APIAddr)
	}
	if err != nil {
		return nil, "", err
	}
	t, err := target.InProcess(ctx, inst)
	if err != nil {
		inst.Close()
		return nil, "", err
	}
	t.OnClose(inst.Close)
	t.Throwaway = c.Ephemeral
	mode := "embedded iotlab"
	if c.Ephemeral {
		mode = "embedded, ephemeral"
	}
	return t, mode, nil
}

// given reports whether a flag was set on the command line or through its IOTLAB_ variable.
func given(tf *targetFlags, name string) bool {
	_, env := os.LookupEnv("IOTLAB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	return env || tf.set(name)
}

func parseChapters(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--chapter %q: want chapter numbers such as 2,4,7", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// isTerminal reports whether r is a terminal (the rule for `iotlab` with no arguments: the walkthrough
// in a terminal, `up` otherwise).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
