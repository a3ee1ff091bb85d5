package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/tui/course"
)

// Course is what the walkthrough needs from the exercises; *course.Course is the real one, tests use
// a fake. Every method that does I/O is called from a tea.Cmd, never from Update or View.
type Course interface {
	Chapters() []exercises.Scenario
	// ChapterOf maps an event's Step ("scenario/step") to its chapter.
	ChapterOf(step string) int
	Info() course.Info
	Prefix(chapter int) string
	Applicable(s exercises.Step) (bool, string)
	RunStep(ctx context.Context, chapter int, s exercises.Step) course.Result
	Restart(ctx context.Context, chapter int) error
	Events() <-chan exercises.Event
	Inventory(ctx context.Context) (course.Inventory, error)
	ProbeAWS(ctx context.Context) (course.Plan, error)
	UseAWS(ctx context.Context) (course.Info, error)
}

// Intents: what a screen asks the App to do (screens do no I/O).
type (
	openChapterMsg struct{ chapter int }
	backMsg        struct{}
	openInspectMsg struct{}
	// runMsg runs the chapter's steps up to and including step (all: to the end).
	runMsg struct {
		chapter, step int
		all           bool
	}
	restartMsg     struct{ chapter int }
	probeAWSMsg    struct{}
	awsDecisionMsg struct{ yes bool }
	refreshMsg     struct{}
)

// Results: what a tea.Cmd reports.
type (
	stepDoneMsg struct {
		chapter, step int
		result        course.Result
	}
	eventsMsg struct {
		events []exercises.Event
		closed bool
	}
	inventoryMsg struct {
		inv course.Inventory
		err error
	}
	planMsg struct {
		plan course.Plan
		err  error
	}
	switchedMsg struct {
		info course.Info
		err  error
	}
	restartedMsg struct {
		chapter int
		prefix  string
		err     error
	}
)

// send wraps a message in a command.
func send(m tea.Msg) tea.Cmd { return func() tea.Msg { return m } }
