package check_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/emulator/rules"
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/check"
	"github.com/iotlab/iotlab/exercises/target"
)

// notProbed are the checklist items without a probe yet. Any other item must be probed and pass
// locally: a probe that goes missing, or turns "not applicable" on iotlab, fails the test.
var notProbed = []int{}

// TestProbesLocal runs every checklist probe against an in-process iotlab that throttles its API as
// AWS does (--api-throttle) and has the failing function of probe 96: each must pass, but for the
// items of notProbed. (The chapters run in exercises/runner's tests, and everything together in the
// root package's `iotlab check` test.)
func TestProbesLocal(t *testing.T) {
	inst, err := instance.Start(instance.Config{StateDir: t.TempDir(), APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		LabAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", ALPNAddr: "127.0.0.1:0", LogLevel: "error", APIThrottle: true,
		Functions: map[string]rules.Function{check.FailingFunction: {Command: []string{"false"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, err := target.InProcess(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	rep := check.Run(ctx, tg, check.Options{NoChapters: true})
	var b strings.Builder
	rep.WriteTable(&b, 0)
	if len(rep.Rows) != len(check.Checklist) {
		t.Errorf("%d rows for %d items", len(rep.Rows), len(check.Checklist))
	}
	for _, row := range rep.Rows {
		want := exercises.Pass
		if slices.Contains(notProbed, n(row.ID)) {
			want = exercises.NotProbed
		}
		if row.Status != want {
			t.Errorf("%s %s: %v, want %v (observed: %s)", row.ID, row.Behaviour, row.Status, want, row.Observed)
		}
		// 96 ran the local function, which exited 1: a failing Lambda, not a missing one.
		if row.ID == "§11.96" && !strings.Contains(row.Observed, "exit status 1") {
			t.Errorf("§11.96: the error document does not carry the function's failure: %s", row.Observed)
		}
	}
	if t.Failed() {
		t.Logf("table:\n%s", b.String())
	} else {
		t.Log(rep.Summary())
	}
}

// n is the item number of a checklist row ID ("§11.37" → 37).
func n(id string) int {
	v, _ := strconv.Atoi(strings.TrimPrefix(id, "§11."))
	return v
}
