package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
	"github.com/iotlab/iotlab/exercises/target"
)

// cmdDevices is `iotlab devices`: the simulated smart home against a target until Ctrl-C.
func cmdDevices(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf targetFlags
	tf.register(fs)
	rooms := fs.String("rooms", strings.Join(fleet.DefaultRooms, ","), "rooms with a temperature sensor")
	interval := fs.Duration("interval", 5*time.Second, "time between readings")
	prefix := fs.String("prefix", "", `name prefix of things, policy and topic root (default: none locally, "iotlab-" on aws)`)
	quiet := fs.Bool("quiet", false, "do not print every message")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *interval < 10*time.Millisecond {
		fmt.Fprintln(stderr, "iotlab: --interval must be at least 10ms")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := tf.open(ctx, startConfigured, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	defer t.Close()
	if !tf.set("prefix") && t.Kind == target.AWS {
		*prefix = "iotlab-"
	}
	credsDir := filepath.Join(t.StateDir, "devices")
	if t.Kind == target.AWS {
		credsDir = filepath.Join(tf.inst.StateDir, "aws-devices", t.Account+"-"+t.Region)
	}
	var mu sync.Mutex // guards stdout
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, time.Now().Format("15:04:05 ")+format+"\n", a...)
	}
	onPacket := func(tr client.Trace) {
		s := tr.Summary()
		switch {
		case s.Kind == "refused" || s.Kind == "closed" && tr.Err != nil && ctx.Err() == nil:
			say("%s: %s %s", tr.ClientID, s.Kind, s.Detail)
		case *quiet:
		case s.Kind == "publish":
			say("%s → %s %s", tr.ClientID, s.Topic, s.Payload)
		case s.Kind == "receive":
			say("%s ← %s %s", tr.ClientID, s.Topic, s.Payload)
		}
	}
	n := exercises.Namer{Prefix: *prefix, Account: t.Account, Region: t.Region}
	fmt.Fprintf(stdout, "provisioning the smart home on the %s…\n", t)
	f, err := fleet.Start(ctx, t, fleet.Options{Names: n, Run: "devices", Rooms: strings.Split(*rooms, ","), Interval: *interval,
		CredsDir: credsDir, DeviceOptions: fleet.DeviceOptions{OnPacket: onPacket, Logf: func(format string, a ...any) { say(format, a...) }}})
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	say("%d devices connected; certificates in %s; topics under %s/…; command the lock with its shadow or %s/hall/%s/cmd. Ctrl-C stops.",
		len(f.Devices), credsDir, n.Expand("@{home}"), n.Expand("@{home}"), n.Expand("@{hall-lock}"))
	<-ctx.Done()
	say("stopping: every device disconnects")
	f.Stop()
	if t.Kind == target.AWS && t.Manifest.Path() != "" {
		fmt.Fprintf(stdout, "The devices stay registered in AWS; `iotlab aws cleanup` deletes them.\n")
	}
	return 0
}
