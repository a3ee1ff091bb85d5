// Command iotlab is AWS IoT Core on a laptop. This file is flags and wiring only; see docs/ARCHITECTURE.md.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iotlab/iotlab/emulator/instance"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "up"
	if len(args) == 0 && isTerminal(stdin) {
		cmd = "tui"
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "up":
		return cmdUp(args, stdout, stderr)
	case "reset":
		return cmdReset(args, stdin, stdout, stderr)
	case "tui":
		return cmdTUI(args, stdin, stdout, stderr)
	case "bench":
		return cmdBench(args, stdout, stderr)
	case "check":
		return cmdCheck(args, stdin, stdout, stderr)
	case "devices":
		return cmdDevices(args, stdin, stdout, stderr)
	case "aws":
		return cmdAWS(args, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "iotlab", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "iotlab: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: iotlab <command> [flags]

commands:
  up        run the AWS API, the mTLS MQTT broker and the lab listener until Ctrl-C
  reset     empty a state dir (asks unless --yes)
  tui       the walkthrough: the chapters step by step with live devices (--plain: a transcript; --target aws)
  check     run every chapter's expectations and the AWS IoT checklist against a target (local or aws)
  devices   a simulated smart-home fleet (sensors, hall door, lock) against a target; Ctrl-C stops it
  aws       list | cleanup: the resources iotlab created in a real AWS account
  bench     the end-to-end benchmark table (iotlab vs raw mochi vs Mosquitto)
  version   print the version

With no arguments, iotlab opens the walkthrough (tui) when its standard input is a terminal and runs
'up' otherwise (scripts, make run).

Every flag can also be set as IOTLAB_<FLAG> (e.g. IOTLAB_STATE_DIR). Run 'iotlab <command> -h' for flags.
`)
}

// commonFlags are shared by every command that works on a state dir.
func commonFlags(fs *flag.FlagSet, c *instance.Config) {
	str := func(p *string, name, def, help string) {
		fs.StringVar(p, name, envOr(name, def), help)
	}
	def, _ := instance.DefaultStateDir()
	str(&c.StateDir, "state-dir", def, "state directory")
	fs.BoolVar(&c.Ephemeral, "ephemeral", envOr("ephemeral", "") == "true", "use a throwaway state dir, removed on exit")
	str(&c.APIAddr, "api-addr", instance.DefaultAPIAddr, "AWS API listen address (port 0 picks one)")
	str(&c.MQTTAddr, "mqtt-addr", instance.DefaultMQTTAddr, "mTLS MQTT listen address")
	str(&c.HTTPSAddr, "https-addr", instance.DefaultHTTPSAddr, `device HTTPS (iot-data with client certificates, AWS's 8443) listen address, or "off"`)
	str(&c.ALPNAddr, "alpn-addr", "off", `listen address playing AWS's 443 (ALPN x-amzn-mqtt-ca: MQTT; x-amzn-http-ca or none: HTTPS), or "off"`)
	str(&c.LabAddr, "lab-addr", instance.DefaultLabAddr, `lab (plain MQTT) listen address, or "off"`)
	str(&c.LabACL, "lab-acl", "", "Mosquitto-style ACL file for the lab listener")
	str(&c.EndpointHost, "endpoint-host", instance.DefaultEndpointHost, "host DescribeEndpoint returns (must resolve here)")
	str(&c.Account, "account", instance.DefaultAccount, "AWS account id")
	str(&c.Region, "region", instance.DefaultRegion, "AWS region the broker serves")
	str(&c.LogLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	str(&c.Limits, "limits", "aws", `broker quotas: "aws" or "none" (load tests; identity and policy still checked)`)
	fs.Var(&c.FunctionSpecs, "function", "a rules lambda handler: NAME=URL or NAME=COMMAND (repeatable)")
	fs.BoolVar(&c.RequireAuth, "require-auth", envOr("require-auth", "") == "true", "verify the API's SigV4 signatures against --credentials")
	fs.BoolVar(&c.APIThrottle, "api-throttle", envOr("api-throttle", "") == "true", "throttle API calls beyond AWS's per-API rate quotas (ThrottlingException), as AWS does")
	str(&c.Credentials, "credentials", "", "AWS shared-credentials file of the API's keys for --require-auth (default: <state-dir>/credentials, generated)")
	fs.DurationVar(&c.HandshakeTimeout, "mqtt-handshake-timeout", envDuration("mqtt-handshake-timeout"), "longest wait from TCP accept to MQTT CONNECT (0: 10s)")
}

// envOr reads IOTLAB_<NAME> (dashes as underscores) or returns def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv("IOTLAB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

// envDuration reads IOTLAB_<NAME> as a duration; 0 when unset or unreadable.
func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(envOr(name, "0"))
	return d
}

func cmdUp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c instance.Config
	commonFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.Version = version
	inst, err := instance.Start(c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "iotlab:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	fmt.Fprint(stdout, inst.Banner())
	fmt.Fprintln(stdout, "ready")
	<-sig
	signal.Stop(sig)
	fmt.Fprintln(stdout, "shutting down")
	if err := inst.Close(); err != nil {
		fmt.Fprintln(stderr, "iotlab: shutdown:", err)
		return 1
	}
	return 0
}

func cmdReset(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c instance.Config
	commonFlags(fs, &c)
	yes := fs.Bool("yes", false, "do not ask")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*yes {
		fmt.Fprintf(stdout, "Empty %s (things, certificates, policies, sessions)? [y/N] ", c.StateDir)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "not reset")
			return 1
		}
	}
	if err := instance.Reset(c.StateDir); err != nil {
		if errors.Is(err, instance.ErrInUse) {
			fmt.Fprintln(stderr, "iotlab: stop the running iotlab first:", err)
		} else {
			fmt.Fprintln(stderr, "iotlab:", err)
		}
		return 1
	}
	fmt.Fprintln(stdout, "reset", c.StateDir)
	return 0
}
