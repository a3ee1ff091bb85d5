package runner_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/runner"
	"github.com/iotlab/iotlab/exercises/target"
)

// startInstance starts an in-process iotlab on free ports.
func startInstance(t *testing.T) *instance.Instance {
	t.Helper()
	inst, err := instance.Start(instance.Config{StateDir: t.TempDir(), APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		LabAddr: "127.0.0.1:0", LogLevel: "error"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// startLocal starts an in-process iotlab and returns it as a local target.
func startLocal(t *testing.T) *target.Target {
	t.Helper()
	tg, err := target.InProcess(context.Background(), startInstance(t))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// report lists a scenario's rows that did not pass, with the step's events for the failing ones.
func report(res runner.ScenarioResult) string {
	var b strings.Builder
	for _, s := range res.Steps {
		for _, o := range s.Outcomes {
			if o.Status == exercises.Fail {
				fmt.Fprintf(&b, "  %s/%s: %s: expected %s, observed %s\n", res.Scenario.ID, s.Step.ID, o.Behaviour, o.Expected, o.Observed)
			}
		}
		if s.Status == exercises.Fail {
			for _, e := range s.Events {
				fmt.Fprintf(&b, "      %s\n", e)
			}
		}
	}
	return b.String()
}

// TestChaptersLocal runs every chapter against a local in-process iotlab: every expectation must pass.
func TestChaptersLocal(t *testing.T) {
	tg := startLocal(t)
	for _, sc := range exercises.Chapters() {
		t.Run(fmt.Sprintf("%02d-%s", sc.Chapter, sc.ID), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r := runner.New(tg, runner.Options{Prefix: fmt.Sprintf("t%s-c%d-", runner.NewRunID(), sc.Chapter)})
			defer r.Close(ctx)
			res := r.RunScenario(ctx, sc)
			for _, s := range res.Steps {
				if s.Status == exercises.NotApplicable || s.Status == exercises.Skipped {
					t.Errorf("%s: %s on the local target", s.Step.ID, s.Status)
				}
			}
			if res.Status != exercises.Pass {
				t.Errorf("chapter %d failed:\n%s", sc.Chapter, report(res))
			}
		})
	}
}

// TestChaptersAWSStandIn runs every chapter through the aws target's code path — the standard AWS
// configuration, STS, DescribeEndpoint, Amazon-Root-CA-style trust, the manifest and cleanup — against a
// second iotlab standing in for AWS, with AWS_ENDPOINT_URL pointing at the first one (which the aws
// target must ignore). Steps on the lab listener are not applicable; nothing touches a real account.
func TestChaptersAWSStandIn(t *testing.T) {
	local := startInstance(t)
	standIn := startInstance(t)
	t.Setenv("AWS_ENDPOINT_URL", local.APIURL())
	t.Setenv("AWS_ENDPOINT_URL_IOT", local.APIURL())
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	_, port, _ := net.SplitHostPort(standIn.Broker.Addr().String())
	p, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	state := t.TempDir()
	tg, err := target.NewAWS(ctx, target.AWSOptions{
		Region: "eu-west-1", Endpoint: standIn.APIURL(), MQTTPort: p, RootCAFile: standIn.CA.RootPath(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", ""),
		RuleRoleARN: "arn:aws:iam::123456789012:role/iotlab-rules", StateDir: state,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Short waits: the stand-in is on this machine.
	tg.Quiet, tg.Wait = 400*time.Millisecond, 5*time.Second
	if tg.Kind != target.AWS || tg.Endpoint != "localhost" || tg.Has(exercises.CapLab) || tg.Has(exercises.CapLocalLogs) {
		t.Fatalf("aws target = %s (lab %v, logs %v)", tg, tg.Has(exercises.CapLab), tg.Has(exercises.CapLocalLogs))
	}
	for _, sc := range exercises.Chapters() {
		t.Run(fmt.Sprintf("%02d-%s", sc.Chapter, sc.ID), func(t *testing.T) {
			r := runner.New(tg, runner.Options{Prefix: fmt.Sprintf("iotlab-t%s-c%d-", runner.NewRunID(), sc.Chapter), Cleanup: true})
			res := r.RunScenario(ctx, sc)
			for _, s := range res.Steps {
				applicable, _ := r.Applicable(s.Step)
				if applicable == (s.Status == exercises.NotApplicable) {
					t.Errorf("%s: status %s on the aws target (applicable %v)", s.Step.ID, s.Status, applicable)
				}
				if s.Step.Listener == exercises.Lab && applicable {
					t.Errorf("%s: a lab step is applicable on the aws target", s.Step.ID)
				}
			}
			if res.Status == exercises.Fail {
				t.Errorf("chapter %d failed on the aws target:\n%s", sc.Chapter, report(res))
			}
			if err := r.Close(ctx); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	// Everything created was recorded and deleted, but for thing types (AWS deletes them only five
	// minutes after deprecation): those are left, deprecated, with a note.
	for _, r := range tg.Manifest.Resources("") {
		if r.Kind != target.KindThingType || r.Note == "" {
			t.Errorf("left in the manifest: %+v", r)
		}
	}
	// Nothing reached the iotlab AWS_ENDPOINT_URL names.
	if n := len(listThings(t, local)); n != 0 {
		t.Errorf("the instance named by AWS_ENDPOINT_URL has %d things: the aws target followed it", n)
	}
}

func listThings(t *testing.T, inst *instance.Instance) []string {
	t.Helper()
	tg, err := target.InProcess(context.Background(), inst)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tg.IoT.ListThings(context.Background(), &iot.ListThingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, th := range out.Things {
		names = append(names, *th.ThingName)
	}
	return names
}

// TestRunStepReportsEventsAndDuration is the regression test for RunStep returning its result before
// the deferred function had filled in Events and Duration.
func TestRunStepReportsEventsAndDuration(t *testing.T) {
	tg := startLocal(t)
	r := runner.New(tg, runner.Options{Prefix: "t" + runner.NewRunID() + "-d-"})
	defer r.Close(context.Background())
	sc, _ := exercises.Chapter(2)
	res := r.RunStep(context.Background(), sc.ID, sc.Steps[0])
	if res.Duration <= 0 {
		t.Errorf("Duration = %v, want > 0", res.Duration)
	}
	if len(res.Events) == 0 {
		t.Errorf("no Events in the result")
	}
}
