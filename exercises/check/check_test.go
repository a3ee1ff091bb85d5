package check_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/check"
	"github.com/iotlab/iotlab/exercises/target"
)

// TestProbesLocal runs every checklist probe against an in-process iotlab: each must pass or be
// explicitly not probed. (The chapters run in exercises/runner's tests, and everything together in the
// root package's `iotlab check` test.)
func TestProbesLocal(t *testing.T) {
	inst, err := instance.Start(instance.Config{StateDir: t.TempDir(), APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		LabAddr: "127.0.0.1:0", LogLevel: "error"}, nil)
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
	if n := rep.Counts(); n[exercises.Pass] < 70 || n[exercises.NotProbed]+n[exercises.Pass]+n[exercises.Fail]+n[exercises.NotApplicable] != len(check.Checklist) {
		t.Errorf("counts %v over %d items", n, len(check.Checklist))
	}
	var b strings.Builder
	rep.WriteTable(&b, 0)
	if rep.Failed() {
		t.Errorf("check failed:\n%s", b.String())
	} else {
		t.Log(rep.Summary())
	}
}
