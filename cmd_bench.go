package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/iotlab/iotlab/broker/loadtest"
)

// cmdBench is `iotlab bench`: the end-to-end benchmark table (broker/loadtest), `iotlab bench compare
// OLD.json NEW.json`, and the hidden `iotlab bench baseline-mochi` the table's baseline (a) runs as.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "baseline-mochi":
			return cmdBenchBaselineMochi(args[1:], stdout, stderr)
		case "compare":
			return cmdBenchCompare(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: iotlab bench [flags]
       iotlab bench compare OLD.json NEW.json

Starts this binary's broker (iotlab up --limits none), raw mochi and mosquitto as child processes on
127.0.0.1, drives them from this process and prints one table of figures with their baselines, all
measured in this run. "make bench" builds the binary, runs the Go benchmarks and then this.

flags:
`)
		fs.PrintDefaults()
	}
	var cfg loadtest.Config
	fs.BoolVar(&cfg.Quick, "quick", false, "small counts, one round, at most a minute")
	jsonPath := fs.String("json", "", "also write the results to this JSON file")
	comparePath := fs.String("compare", "", "a previous --json file to compare the results with")
	fs.StringVar(&cfg.GoBench, "gobench", "", "`go test -bench` output to fold in (policy engine figures)")
	phases := fs.String("phases", "", "comma-separated subset of: "+strings.Join(loadtest.AllPhases, ","))
	fs.IntVar(&cfg.Connections, "connections", 0, "devices of the connections phase (default 10000, 500 with --quick)")
	fs.StringVar(&cfg.Mosquitto, "mosquitto", "", "mosquitto binary (default /usr/sbin/mosquitto or PATH)")
	fs.StringVar(&cfg.Dir, "dir", "", "work dir, kept afterwards (default: a temporary one, removed)")
	fs.StringVar(&cfg.Exe, "iotlab", "", "iotlab binary under test (default: this one)")
	// Experiments: a fourth broker, raw mochi with these options, measured beside the stock baseline (a).
	fs.IntVar(&cfg.MochiTuned.WritesPending, "mochi-writes-pending", 0, "add raw mochi with this Capabilities.MaximumClientWritesPending (mochi: 8192)")
	mochiInflight := fs.Int("mochi-max-inflight", 0, "add raw mochi with this Capabilities.MaximumInflight (mochi: 8192)")
	fs.IntVar(&cfg.MochiTuned.WriteBuffer, "mochi-write-buffer", 0, "add raw mochi with this ClientNetWriteBufferSize (mochi: 2048)")
	fs.IntVar(&cfg.MochiTuned.ReadBuffer, "mochi-read-buffer", 0, "add raw mochi with this ClientNetReadBufferSize (mochi: 2048)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iotlab bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.MochiTuned.MaxInflight = uint16(min(max(*mochiInflight, 0), 65535))
	if *phases != "" {
		cfg.Phases = strings.Split(*phases, ",")
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "iotlab bench:", err)
			return 1
		}
		cfg.Exe = exe
	}
	cfg.Log = stderr
	// Run bounds itself (7.5 minutes, or one with --quick); Ctrl-C ends it early, with a table.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "iotlab bench:", err)
		return 1
	}
	if err != nil {
		rep.Note("run cut short: %v", err)
	}
	loadtest.Print(stdout, rep)
	if *jsonPath != "" {
		if err := rep.WriteJSON(*jsonPath); err != nil {
			fmt.Fprintln(stderr, "iotlab bench:", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nresults written to %s\n", *jsonPath)
	}
	if *comparePath != "" {
		old, err := loadtest.ReadReport(*comparePath)
		if err != nil {
			fmt.Fprintln(stderr, "iotlab bench:", err)
			return 1
		}
		loadtest.Compare(stdout, old, rep)
	}
	if err != nil {
		return 1
	}
	return 0
}

func cmdBenchCompare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: iotlab bench compare OLD.json NEW.json")
		return 2
	}
	old, err := loadtest.ReadReport(args[0])
	if err == nil {
		var cur *loadtest.Report
		if cur, err = loadtest.ReadReport(args[1]); err == nil {
			loadtest.Compare(stdout, old, cur)
			return 0
		}
	}
	fmt.Fprintln(stderr, "iotlab bench:", err)
	return 1
}

// cmdBenchBaselineMochi runs baseline (a) until SIGTERM/SIGINT; the bench starts it as a child process.
func cmdBenchBaselineMochi(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench baseline-mochi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.RawMochi
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "listen address")
	fs.StringVar(&o.CertFile, "cert", "", "server certificate (PEM)")
	fs.StringVar(&o.KeyFile, "key", "", "server key (PEM)")
	fs.IntVar(&o.WritesPending, "writes-pending", 0, "Capabilities.MaximumClientWritesPending (0 = mochi's default)")
	inflight := fs.Int("max-inflight", 0, "Capabilities.MaximumInflight (0 = mochi's default)")
	fs.IntVar(&o.WriteBuffer, "write-buffer", 0, "ClientNetWriteBufferSize (0 = mochi's default)")
	fs.IntVar(&o.ReadBuffer, "read-buffer", 0, "ClientNetReadBufferSize (0 = mochi's default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.CertFile == "" || o.KeyFile == "" {
		fmt.Fprintln(stderr, "iotlab bench baseline-mochi: --cert and --key are required")
		return 2
	}
	o.MaxInflight = uint16(min(max(*inflight, 0), 65535))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := o.Run(ctx, stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "iotlab bench baseline-mochi:", err)
		return 1
	}
	return 0
}
