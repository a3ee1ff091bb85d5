package tui

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares a view with testdata/<name>.golden (ANSI sequences stripped: the files pin layout
// and words; colours are Styles' business).
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = ansi.Strip(got) + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test ./tui -update rewrites it)\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

var at = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// populate gives the app the state of a class half-way through: chapter 2 done, chapter 7 at step 3
// with one failure, and the traffic of that step.
func populate(t *testing.T, a *App) {
	t.Helper()
	pass := func(b, e, o string) exercises.Outcome {
		return exercises.Outcome{Behaviour: b, Expected: e, Observed: o, Status: exercises.Pass}
	}
	p2 := "iotlab-k3x9ab-c2-"
	for i, s := range a.state.chapter(2).sc.Steps {
		var outs []exercises.Outcome
		for _, e := range s.Expect {
			b, w := e.Describe()
			outs = append(outs, pass(course.Show(p2, b), course.Show(p2, w), course.Show(p2, w)))
		}
		drive(t, a, stepDoneMsg{chapter: 2, step: i, result: course.Result{Status: exercises.Pass, Outcomes: outs, Duration: 310 * time.Millisecond}})
	}
	p := "iotlab-k3x9ab-c7-"
	drive(t, a, stepDoneMsg{chapter: 7, step: 0, result: course.Result{Status: exercises.Pass, Duration: 40 * time.Millisecond}})
	drive(t, a, stepDoneMsg{chapter: 7, step: 1, result: course.Result{Status: exercises.Pass, Duration: 150 * time.Millisecond, Outcomes: []exercises.Outcome{
		pass("sensor may publish to "+p+"home/livingroom/temperature", "PUBACK 0x00", "PUBACK 0x00"),
		pass("the statement deciding "+p+"livingroom-sensor's iot:Publish", "ALLOWED by statement PublishHome", `ALLOWED by policy "`+p+`sensor-policy" v1 statement 2 (Sid "PublishHome")`),
	}}})
	drive(t, a, stepDoneMsg{chapter: 7, step: 2, result: course.Result{Status: exercises.Fail, Duration: 420 * time.Millisecond, Outcomes: []exercises.Outcome{
		pass("MQTT 5: PUBACK 0x87", "refused (MQTT 5 PUBACK ≥ 0x80; 3.1.1 connection closed)", "PUBACK 0x87 (not authorized)"),
		{Behaviour: "the statement deciding " + p + "livingroom-sensor's iot:Publish", Expected: "EXPLICIT_DENY by statement DenyDoor",
			Observed: `IMPLICIT_DENY: no statement allows iot:Publish on topic/` + p + `home/hall/door/cmd`, Status: exercises.Fail},
		{Behaviour: "AWS IoT log entry for " + p + "livingroom-sensor", Expected: "Publish-In Failure", Observed: "Publish-In Failure AUTHORIZATION_FAILURE", Status: exercises.Pass},
	}}})
	id := "iotlab-k3x9ab-c7-livingroom-sensor"
	drive(t, a, eventsMsg{events: []exercises.Event{
		{Time: at, Step: "policy/denied", Source: "runner", Kind: exercises.EvStep},
		{Time: at, Step: "policy/denied", Source: "client", Kind: exercises.EvPublish, Client: id, Topic: p + "home/hall/door/cmd", Payload: "open", QoS: 1},
		{Time: at, Step: "policy/denied", Source: "broker", Kind: exercises.EvRefused, Client: id, Topic: p + "home/hall/door/cmd", Action: "iot:Publish",
			Effect: "IMPLICIT_DENY", Decision: "IMPLICIT_DENY: no statement allows iot:Publish on topic/" + p + "home/hall/door/cmd"},
		{Time: at, Step: "policy/denied", Source: "client", Kind: exercises.EvRefused, Client: id, Detail: "PUBACK 0x87 not authorized", Code: 0x87},
		{Time: at, Step: "policy/denied", Source: "client", Kind: exercises.EvPublish, Client: id, Topic: p + "home/livingroom/temperature", Payload: `{"temperature": 21.5}`, QoS: 1},
		{Time: at, Step: "policy/denied", Source: "broker", Kind: exercises.EvBroker, Client: id, Topic: p + "home/livingroom/temperature", Action: "iot:Publish",
			Effect: "ALLOWED", Policy: p + "sensor-policy", Sid: "PublishHome", Decision: `ALLOWED by policy "` + p + `sensor-policy" v1 statement 2 (Sid "PublishHome")`},
		{Time: at, Step: "policy/denied", Source: "client", Kind: exercises.EvPubAck, Client: id, Detail: "PUBACK 0x00"},
		{Time: at, Step: "policy/denied", Source: "client", Kind: exercises.EvReceive, Client: "iotlab-k3x9ab-c7-hall-display", Topic: p + "home/livingroom/temperature", Payload: `{"temperature": 21.5}`, QoS: 1},
		{Time: at, Step: "policy/denied", Source: "api", Kind: exercises.EvAPIError, Action: "DescribeThing", Detail: "ResourceNotFoundException: " + p + "hall-door"},
	}})
}

func samplePlan() course.Plan {
	p := course.Plan{Account: "210987654321", Region: "us-east-1", Endpoint: "a1b2c3-ats.iot.us-east-1.amazonaws.com",
		MQTTAddr: "a1b2c3-ats.iot.us-east-1.amazonaws.com:8883", Caller: "arn:aws:iam::210987654321:user/trainer",
		Manifest: "/home/trainer/.local/state/iotlab/aws-resources.json", Prefix: "iotlab-k3x9ab-",
		NotApplicable: map[string]int{"AWS IoT Core has no plain-MQTT lab listener": 9}}
	add := func(ch int, kind, name, tag, note string) {
		p.Resources = append(p.Resources, course.Planned{Chapter: ch, Kind: kind, Name: name, Tag: tag, Note: note})
	}
	add(1, "billing-group", "iotlab-k3x9ab-c1-home-billing", "iotlab=exercise", "")
	add(1, "thing-type", "iotlab-k3x9ab-c1-room-sensor", "iotlab=exercise", "")
	for _, th := range []string{"livingroom-sensor", "kitchen-sensor", "bedroom-sensor", "hall-door"} {
		add(1, "thing", "iotlab-k3x9ab-c1-"+th, "", "")
	}
	add(7, "policy", "iotlab-k3x9ab-c7-sensor-policy", "iotlab=exercise", "")
	add(7, "thing", "iotlab-k3x9ab-c7-livingroom-sensor", "", "")
	add(7, "certificate", "for iotlab-k3x9ab-c7-livingroom-sensor", "", "key made by AWS")
	return p
}

func sampleInventory() course.Inventory {
	p := "iotlab-k3x9ab-"
	return course.Inventory{Prefix: p,
		Things: []course.Thing{
			{Name: p + "c7-kitchen-sensor", Attrs: map[string]string{"room": "kitchen"}},
			{Name: p + "c7-livingroom-sensor", Type: p + "c7-room-sensor", Attrs: map[string]string{"room": "livingroom", "floor": "0"}},
			{Name: p + "c7-hall-display"},
		},
		Certificates: []course.Certificate{
			{ID: "4019b99fb0da3a60763c0ae89b481ec7608223541c5e4f108f63709de8637d23", Device: p + "c7-livingroom-sensor", Status: "ACTIVE"},
			{ID: "9a1c0b7e6d5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b", Device: p + "c7-kitchen-sensor", Status: "INACTIVE"},
		},
		Policies: []course.Policy{{Name: p + "c7-sensor-policy", Sids: []string{"ConnectAsItsThing", "PublishHome", "DenyDoor"}}},
		Sessions: []course.Session{
			{Client: p + "c2-dashboard", Version: "MQTT 3.1.1", Connected: true, Subscriptions: []string{p + "c2-home/#"}},
			{Client: p + "c4-hall-display", Version: "MQTT 3.1.1", Persistent: true, Subscriptions: []string{p + "c4-home/+/temperature"}},
			{Client: p + "c7-kitchen-sensor", Version: "MQTT 5", Refused: "CONNACK 0x87 session present=false"},
		},
		Retained: []course.Retained{{Topic: p + "c5-home/livingroom/temperature", Payload: "21.5", QoS: 1}},
	}
}

func TestGoldenChapters(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	populate(t, a)
	press(t, a, "down")
	golden(t, "chapters_80x24", a.View())
}

func TestGoldenExercise(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	populate(t, a)
	drive(t, a, openChapterMsg{chapter: 7})
	a.ex.Show(2)
	golden(t, "exercise_80x24", a.View())
	press(t, a, "v")
	golden(t, "exercise_verbose_80x24", a.View())
	press(t, a, "v", "d")
	golden(t, "exercise_details_80x24", a.View())
	press(t, a, "esc")
	drive(t, a, tea.WindowSizeMsg{Width: 120, Height: 32})
	golden(t, "exercise_120x32", a.View())
}

func TestGoldenExerciseNotRun(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	drive(t, a, openChapterMsg{chapter: 2})
	golden(t, "exercise_todo_80x24", a.View())
}

func TestGoldenInspect(t *testing.T) {
	f := newFake()
	f.inv = sampleInventory()
	a := newApp(t, f, Options{})
	drive(t, a, openInspectMsg{})
	golden(t, "inspect_things_80x24", a.View())
	press(t, a, "tab", "tab", "tab")
	golden(t, "inspect_sessions_80x24", a.View())
}

func TestGoldenAWSSwitch(t *testing.T) {
	f := newFake()
	f.plan = samplePlan()
	a := newApp(t, f, Options{})
	press(t, a, "A")
	golden(t, "aws_switch_80x24", a.View())
	press(t, a, "y")
	golden(t, "aws_chapters_80x24", a.View())
}

func TestGoldenHelp(t *testing.T) {
	a := newApp(t, newFake(), Options{})
	drive(t, a, openChapterMsg{chapter: 2})
	press(t, a, "?")
	golden(t, "help_exercise_80x24", a.View())
}
