package plain

import (
	"context"
	"strings"
	"testing"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

type fake struct {
	results map[string]course.Result
	ran     []string
}

func (f *fake) Chapters() []exercises.Scenario {
	step := func(id string, setup bool, expect ...exercises.Expectation) exercises.Step {
		return exercises.Step{ID: id, Title: "step " + id, Do: "do " + id, Listener: exercises.MTLS, Setup: setup, Expect: expect}
	}
	recv := exercises.Receives{Client: "display", Topic: "@{home}/livingroom/temperature", Payload: "21.5"}
	return []exercises.Scenario{
		{Chapter: 2, ID: "topics", Title: "Topics", Steps: []exercises.Step{step("a", false, recv), step("b", false, recv)}},
		{Chapter: 7, ID: "policy", Title: "Policy", Steps: []exercises.Step{step("setup", true), step("c", false, recv, recv)}},
	}
}
func (f *fake) Info() course.Info {
	return course.Info{Kind: "local", Mode: "embedded iotlab", Account: "123456789012", Region: "eu-west-1", Endpoint: "localhost", RunID: "ab12cd"}
}
func (f *fake) Prefix(ch int) string { return "iotlab-ab12cd-c" + string(rune('0'+ch)) + "-" }
func (f *fake) RunStep(ctx context.Context, ch int, s exercises.Step) course.Result {
	key := string(rune('0'+ch)) + "/" + s.ID
	f.ran = append(f.ran, key)
	if r, ok := f.results[key]; ok {
		return r
	}
	r := course.Result{Status: exercises.Pass}
	for _, e := range s.Expect {
		b, w := e.Describe()
		b = strings.ReplaceAll(b, "@{home}", f.Prefix(ch)+"home")
		r.Outcomes = append(r.Outcomes, exercises.Outcome{Behaviour: b, Expected: w, Observed: w, Status: exercises.Pass})
	}
	return r
}

func TestTranscriptAllPass(t *testing.T) {
	var b strings.Builder
	sum := Run(context.Background(), &fake{}, &b, Options{})
	out := b.String()
	if !sum.OK() || sum.Pass != 4 || sum.Fail != 0 {
		t.Fatalf("summary %+v, want 4 passed\n%s", sum, out)
	}
	for _, want := range []string{
		"target: local (embedded iotlab), account 123456789012, region eu-west-1",
		"== Chapter 2 · Topics",
		"-- Step 1/2 · step a [mqtts]",
		"   ✓ PASS  display receives on home/livingroom/temperature: expected \"21.5\", observed \"21.5\"",
		"   ✓ PASS  the step's actions ran",
		"== PASS: 4 ✓ passed, 0 ✗ failed, 0 – not applicable, 0 ○ skipped (chapters 2, 7)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "iotlab-ab12cd-c2-") {
		t.Error("the transcript shows the run's prefix")
	}
}

func TestTranscriptFailMarksAndSkips(t *testing.T) {
	f := &fake{results: map[string]course.Result{
		"2/b": {Status: exercises.Fail, Outcomes: []exercises.Outcome{{Behaviour: "display receives", Expected: `"21.5"`, Observed: "nothing within 5s", Status: exercises.Fail}}},
		"7/setup": {Status: exercises.Fail, Err: "create policy: AccessDeniedException",
			Outcomes: []exercises.Outcome{{Behaviour: "the step's actions run", Expected: "no error", Observed: "AccessDeniedException", Status: exercises.Fail}}},
	}}
	var b strings.Builder
	sum := Run(context.Background(), f, &b, Options{Note: "no AWS credentials: staying local"})
	out := b.String()
	if sum.OK() || sum.Fail != 2 || sum.Skipped != 2 || sum.Pass != 1 {
		t.Fatalf("summary %+v, want 1 passed, 2 failed, 2 skipped\n%s", sum, out)
	}
	for _, want := range []string{
		"note: no AWS credentials: staying local",
		`   ✗ FAIL  display receives: expected "21.5", observed nothing within 5s`,
		"   ✗ FAIL  the step's actions run: expected no error, observed AccessDeniedException",
		"   ○ SKIP  display receives on home/livingroom/temperature: expected \"21.5\" — skipped: an earlier set-up step failed",
		"== FAIL: 1 ✓ passed, 2 ✗ failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.Join(f.ran, " "), "7/c") {
		t.Error("a step after a failed set-up ran")
	}
}

func TestTranscriptChapters(t *testing.T) {
	f := &fake{}
	var b strings.Builder
	sum := Run(context.Background(), f, &b, Options{Chapters: []int{7}})
	if strings.Join(f.ran, " ") != "7/setup 7/c" || len(sum.Chapters) != 1 {
		t.Fatalf("ran %v, chapters %v; want chapter 7 only", f.ran, sum.Chapters)
	}
}

func TestTranscriptTraffic(t *testing.T) {
	ch := make(chan exercises.Event, 4)
	ch <- exercises.Event{Source: "runner", Kind: exercises.EvStep}
	ch <- exercises.Event{Source: "client", Kind: exercises.EvPublish, Client: "iotlab-ab12cd-c2-sensor", Topic: "iotlab-ab12cd-c2-home/t", Payload: "21.5"}
	var b strings.Builder
	Run(context.Background(), &fake{}, &b, Options{Chapters: []int{2}, Events: ch})
	if out := b.String(); !strings.Contains(out, `      | publish     client   sensor home/t "21.5"`) || strings.Contains(out, "step ") && strings.Contains(out, "| step") {
		t.Errorf("traffic not printed as expected:\n%s", out)
	}
}
