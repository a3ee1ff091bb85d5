package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/iotlab/iotlab/exercises/target"
)

// cmdAWS is `iotlab aws list|cleanup`: the resources iotlab created in an AWS account, from the manifest
// in the state dir.
func cmdAWS(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "cleanup") {
		fmt.Fprintln(stderr, "usage: iotlab aws list|cleanup [--profile P] [--region R] [--yes]")
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("aws "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf targetFlags
	tf.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	tf.kind = "aws"
	yes := tf.yes
	tf.yes = true // nothing is created: no need to ask here
	t, err := tf.openAWS(context.Background(), stdin, io.Discard)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	var mine []target.Resource
	for _, r := range t.Manifest.Resources("") {
		if r.Account == t.Account && r.Region == t.Region {
			mine = append(mine, r)
		}
	}
	fmt.Fprintf(stdout, "AWS account %s, region %s: %d resources created by iotlab (%s)\n", t.Account, t.Region, len(mine), t.Manifest.Path())
	for _, r := range mine {
		name := r.Name
		if r.ID != "" {
			name += " " + r.ID
		}
		if r.Target != "" {
			name += " → " + r.Target
		}
		fmt.Fprintf(stdout, "  %-16s %s %s\n", r.Kind, name, r.Note)
	}
	if sub == "list" || len(mine) == 0 {
		return 0
	}
	if !yes {
		fmt.Fprint(stdout, "Delete them? [y/N] ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "nothing deleted")
			return 1
		}
	}
	rep := t.Cleanup(context.Background(), mine)
	fmt.Fprintf(stdout, "deleted %d, left %d\n", len(rep.Deleted), len(rep.Left))
	for _, r := range rep.Left {
		if r.Note != "" {
			fmt.Fprintf(stdout, "  left %s %s: %s\n", r.Kind, r.Name, r.Note)
		}
	}
	for _, err := range rep.Errors {
		fmt.Fprintln(stderr, "iotlab:", err)
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}
