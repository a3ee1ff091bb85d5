package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// fixture is a small course shaped like the real one (a lab chapter, a policy chapter with a set-up
// step), so that the screens' tests do not change whenever the chapters are edited.
func fixture() []exercises.Scenario {
	lr := "@{home}/livingroom/temperature"
	door := "@{home}/hall/door/cmd"
	return []exercises.Scenario{
		{Chapter: 2, ID: "topics", Title: "Topic structure and filters", Listeners: []exercises.Listener{exercises.Lab},
			Doc:     "https://docs.aws.amazon.com/iot/latest/developerguide/topics.html",
			Summary: "A smart-home topic tree on the lab listener; the single-level + and multi-level # wildcards; who receives what.",
			Steps: []exercises.Step{
				{ID: "subscribers", Title: "Two subscribers", Listener: exercises.Lab,
					Do: "mosquitto_sub -t 'home/#'; mosquitto_sub -t 'home/+/temperature'",
					Actions: []exercises.Action{
						exercises.Connect{Client: "dashboard"}, exercises.Subscribe{Client: "dashboard", Filters: []string{"@{home}/#"}},
						exercises.Connect{Client: "thermostat"}, exercises.Subscribe{Client: "thermostat", Filters: []string{"@{home}/+/temperature"}},
					},
					Expect: []exercises.Expectation{
						exercises.Granted{Client: "dashboard", Filter: "@{home}/#", QoS: 0},
						exercises.Granted{Client: "thermostat", Filter: "@{home}/+/temperature", QoS: 0},
					}},
				{ID: "temperature", Title: "A living-room temperature", Listener: exercises.Lab,
					Do:      "mosquitto_pub -t home/livingroom/temperature -m 21.5",
					Actions: []exercises.Action{exercises.Publish{Client: "sensor", Topic: lr, Payload: "21.5"}},
					Expect: []exercises.Expectation{
						exercises.Receives{Client: "dashboard", Topic: lr, Payload: "21.5", Why: "home/# matches every level below home"},
						exercises.Receives{Client: "thermostat", Topic: lr, Payload: "21.5", Why: "home/+/temperature matches any room"},
					}},
				{ID: "parent", Title: "# also matches its parent level", Listener: exercises.Lab,
					Do:      "mosquitto_pub -t home -m hello",
					Actions: []exercises.Action{exercises.Publish{Client: "sensor", Topic: "@{home}", Payload: "hello"}},
					Expect:  []exercises.Expectation{exercises.Receives{Client: "dashboard", Topic: "@{home}", Payload: "hello"}}},
			}},
		{Chapter: 7, ID: "policy", Title: "The IoT policy", Listeners: []exercises.Listener{exercises.API, exercises.MTLS},
			Doc:     "https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html",
			Summary: "What a policy allows and refuses, which statement decides (an explicit Deny beats an Allow), what MQTT 3.1.1 and 5 clients see.",
			Steps: []exercises.Step{
				{ID: "setup", Title: "The sensor's policy", Listener: exercises.API, Setup: true,
					Do:      "create the policy, provision the living-room sensor with it",
					Actions: []exercises.Action{exercises.CreatePolicy{Name: "@{sensor-policy}"}, exercises.Provision{Device: "livingroom-sensor", Policy: "@{sensor-policy}"}}},
				{ID: "allowed", Title: "An allowed publish", Listener: exercises.MTLS,
					Do: "connect as livingroom-sensor (MQTT 5) and publish the temperature",
					Actions: []exercises.Action{exercises.Connect{Client: "sensor", Device: "livingroom-sensor", Version: 5},
						exercises.Publish{Client: "sensor", Topic: lr, Payload: "21.5", QoS: 1}},
					Expect: []exercises.Expectation{
						exercises.PublishAllowed{Client: "sensor", Topic: lr},
						exercises.DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "ALLOWED", Sid: "PublishHome"},
					}},
				{ID: "denied", Title: "The door is not the sensor's", Listener: exercises.MTLS,
					Do:      "the sensor publishes to the door's command topic",
					Actions: []exercises.Action{exercises.Publish{Client: "sensor", Topic: door, Payload: "open", QoS: 1}},
					Expect: []exercises.Expectation{
						exercises.PublishRefused{Client: "sensor", Topic: door, Why: "MQTT 5: PUBACK 0x87"},
						exercises.DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "EXPLICIT_DENY", Sid: "DenyDoor"},
						exercises.LogEntry{Client: "@{livingroom-sensor}", EventType: "Publish-In", Status: "Failure"},
					}},
				{ID: "lab-only", Title: "Only on the lab listener", Listener: exercises.Lab,
					Do:     "something AWS has no listener for",
					Expect: []exercises.Expectation{exercises.Receives{Client: "x", Topic: "y"}}},
			}},
	}
}

// fakeCourse is a Course without a broker: it records what ran and answers from tables.
type fakeCourse struct {
	mu       sync.Mutex
	chapters []exercises.Scenario
	info     course.Info
	results  map[string]course.Result // "chapter/step id"
	ran      []string
	events   chan exercises.Event
	inv      course.Inventory
	plan     course.Plan
	planErr  error
	restarts map[int]int
}

func newFake() *fakeCourse {
	ev := make(chan exercises.Event)
	close(ev) // listen returns at once: tests hand eventsMsg to Update themselves
	return &fakeCourse{
		chapters: fixture(),
		info: course.Info{Kind: "local", Mode: "embedded iotlab", Account: "123456789012", Region: "eu-west-1",
			Endpoint: "localhost", RunID: "k3x9ab", Observing: true,
			APIURL: "http://127.0.0.1:4580", MQTTAddr: "127.0.0.1:8883", LabAddr: "127.0.0.1:1883"},
		results:  map[string]course.Result{},
		events:   ev,
		restarts: map[int]int{},
	}
}

func (f *fakeCourse) Chapters() []exercises.Scenario { return f.chapters }
func (f *fakeCourse) ChapterOf(step string) int {
	id, _, _ := strings.Cut(step, "/")
	for _, s := range f.chapters {
		if s.ID == id {
			return s.Chapter
		}
	}
	return 0
}
func (f *fakeCourse) Info() course.Info { return f.info }
func (f *fakeCourse) Prefix(ch int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.restarts[ch]; n > 0 {
		return "iotlab-k3x9ab-c" + string(rune('0'+ch)) + "r" + string(rune('0'+n)) + "-"
	}
	return "iotlab-k3x9ab-c" + string(rune('0'+ch)) + "-"
}
func (f *fakeCourse) Applicable(s exercises.Step) (bool, string) {
	if f.info.Kind == "aws" && s.Listener == exercises.Lab {
		return false, "AWS IoT Core has no plain-MQTT lab listener"
	}
	return true, ""
}
func (f *fakeCourse) RunStep(ctx context.Context, ch int, s exercises.Step) course.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := string(rune('0'+ch)) + "/" + s.ID
	f.ran = append(f.ran, key)
	if r, ok := f.results[key]; ok {
		return r
	}
	r := course.Result{Status: exercises.Pass, Duration: 120 * time.Millisecond}
	for _, e := range s.Expect {
		b, w := e.Describe()
		r.Outcomes = append(r.Outcomes, exercises.Outcome{Behaviour: b, Expected: w, Observed: w, Status: exercises.Pass})
	}
	return r
}
func (f *fakeCourse) Restart(ctx context.Context, ch int) error {
	f.mu.Lock()
	f.restarts[ch]++
	f.mu.Unlock()
	return nil
}
func (f *fakeCourse) Events() <-chan exercises.Event { return f.events }
func (f *fakeCourse) Inventory(ctx context.Context) (course.Inventory, error) {
	return f.inv, nil
}
func (f *fakeCourse) ProbeAWS(ctx context.Context) (course.Plan, error) { return f.plan, f.planErr }
func (f *fakeCourse) UseAWS(ctx context.Context) (course.Info, error) {
	if f.planErr != nil {
		return course.Info{}, f.planErr
	}
	f.info = course.Info{Kind: "aws", Mode: "AWS account", Account: "210987654321", Region: "us-east-1",
		Endpoint: "a1b2c3-ats.iot.us-east-1.amazonaws.com", MQTTAddr: "a1b2c3-ats.iot.us-east-1.amazonaws.com:8883", RunID: "k3x9ab"}
	return f.info, nil
}

func (f *fakeCourse) ranSteps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

var errNoCreds = errors.New("target: sts: operation error STS: GetCallerIdentity, failed to retrieve credentials: no EC2 IMDS role found")

// asciiStyles are the styles without colours, for golden files.
func asciiStyles() *Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	st := DefaultStyles(r)
	return &st
}

// newApp is an App on the fake at 80×24.
func newApp(t *testing.T, f *fakeCourse, o Options) *App {
	t.Helper()
	o.Styles = asciiStyles()
	a := New(f, o)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return a
}

// keyMsg turns "enter", "esc", "tab", "up", … or a character into a key press.
func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// drive feeds msg to the app and then, synchronously, every message its commands produce, until none
// is left; it returns the messages seen (tea.QuitMsg stops it).
func drive(t *testing.T, a *App, msg tea.Msg) []tea.Msg {
	t.Helper()
	var seen []tea.Msg
	queue := []tea.Msg{msg}
	for n := 0; len(queue) > 0; n++ {
		if n > 1000 {
			t.Fatal("drive: too many messages")
		}
		m := queue[0]
		queue = queue[1:]
		seen = append(seen, m)
		if _, ok := m.(tea.QuitMsg); ok {
			return seen
		}
		if b, ok := m.(tea.BatchMsg); ok {
			for _, c := range b {
				if c != nil {
					queue = append(queue, c())
				}
			}
			continue
		}
		_, cmd := a.Update(m)
		if cmd != nil {
			if out := cmd(); out != nil {
				queue = append(queue, out)
			}
		}
	}
	return seen
}

// press drives a sequence of keys.
func press(t *testing.T, a *App, keys ...string) []tea.Msg {
	t.Helper()
	var seen []tea.Msg
	for _, k := range keys {
		seen = append(seen, drive(t, a, keyMsg(k))...)
	}
	return seen
}
