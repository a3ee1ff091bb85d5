package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/iotlab/iotlab/exercises/check"
)

// cmdCheck is `iotlab check`: every chapter's expectations and the checklist probes against a target,
// as a table; non-zero exit on any failure.
func cmdCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf targetFlags
	tf.register(fs)
	report := fs.String("report", "", "also write the full report to FILE (.json: JSON, otherwise Markdown)")
	chapters := fs.String("chapters", "", "only these chapters, e.g. 4,5 (default all)")
	noProbes := fs.Bool("no-probes", false, "skip the checklist probes")
	keep := fs.Bool("keep", false, "keep what the check created (default: delete it, unless the iotlab is a throwaway)")
	width := fs.Int("width", 48, "cut table cells to this many characters (0: whole)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o := check.Options{NoProbes: *noProbes}
	if *chapters != "" {
		for _, s := range strings.Split(*chapters, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				fmt.Fprintf(stderr, "iotlab: --chapters %q: %v\n", *chapters, err)
				return 2
			}
			o.Chapters = append(o.Chapters, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := tf.open(ctx, startThrowaway, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	defer t.Close()
	// A throwaway instance goes away with its resources; anything else is cleaned up unless --keep.
	o.Cleanup = !*keep && !t.Throwaway
	fmt.Fprintf(stderr, "checking %s\n", t)
	rep := check.Run(ctx, t, o)
	rep.WriteTable(stdout, *width)
	if *report != "" {
		if err := writeReport(*report, rep); err != nil {
			fmt.Fprintln(stderr, "iotlab:", err)
			return 1
		}
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

func writeReport(path string, rep *check.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		err = rep.WriteJSON(f)
	} else {
		rep.WriteMarkdown(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
