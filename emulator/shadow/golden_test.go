package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// bench is a tiny MQTT-side transport: it routes a publish on a shadow request topic to Update, Get
// or Delete over an in-memory store and records what the service would publish, the way the broker
// is expected to.
type bench struct {
	store map[ID]*Stored
	out   bytes.Buffer
}

func newBench() *bench { return &bench{store: map[ID]*Stored{}} }

// seed puts a shadow in the store in its persisted form.
func (b *bench) seed(t *testing.T, id ID, persistedForm string) {
	t.Helper()
	b.store[id] = stored(t, persistedForm)
	fmt.Fprintf(&b.out, "# stored %s\n%s\n\n", id, indent(persistedForm))
}

func (b *bench) note(format string, args ...any) {
	fmt.Fprintf(&b.out, "# "+format+"\n\n", args...)
}

// publish handles one request at time at.
func (b *bench) publish(t *testing.T, topic, payload string, at time.Time) {
	t.Helper()
	tp, ok := ParseTopic(topic)
	if !ok || tp.Kind != "" {
		t.Fatalf("%s is not a shadow request topic", topic)
	}
	shown := indent(payload)
	if len(payload) > 300 {
		shown = fmt.Sprintf("(%d bytes) %s…", len(payload), payload[:60])
	}
	fmt.Fprintf(&b.out, "> %s @%d\n%s\n", topic, at.Unix(), shown)
	cur := b.store[tp.ID]
	switch tp.Op {
	case OpUpdate:
		next, resp, rej := Update(cur, []byte(payload), at)
		if rej != nil {
			b.emit(tp.Response(KindRejected), rej.JSON())
			break
		}
		b.store[tp.ID] = next
		b.emit(tp.Response(KindAccepted), resp.Accepted)
		b.emit(tp.Response(KindDocuments), resp.Documents)
		if resp.Delta != nil {
			b.emit(tp.Response(KindDelta), resp.Delta)
		}
	case OpGet:
		doc, rej := Get(tp.ID, cur, []byte(payload), at)
		if rej != nil {
			b.emit(tp.Response(KindRejected), rej.JSON())
			break
		}
		b.emit(tp.Response(KindAccepted), doc)
	case OpDelete:
		tomb, doc, rej := Delete(tp.ID, cur, []byte(payload), at)
		if rej != nil {
			b.emit(tp.Response(KindRejected), rej.JSON())
			break
		}
		b.store[tp.ID] = tomb
		b.emit(tp.Response(KindAccepted), doc)
	}
	b.out.WriteString("\n")
}

func (b *bench) emit(topic string, payload []byte) {
	fmt.Fprintf(&b.out, "< %s\n%s\n", topic, indent(string(payload)))
}

// indent pretty-prints JSON without reordering or re-escaping anything; other payloads are quoted.
func indent(s string) string {
	if s == "" {
		return `(empty)`
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil || !utf8.ValidString(s) {
		return fmt.Sprintf("%q", s)
	}
	return b.String()
}

// TestGoldenAWSExamples replays the examples of AWS's shadow pages and records every message the
// service publishes, in testdata/<scenario>.golden (go test -update rewrites them). The member order
// is the real one, so these files also show what a learner will see.
func TestGoldenAWSExamples(t *testing.T) {
	at := func(s int64) time.Time { return time.Unix(1469564492+s, 0) }
	bulb := ID{Thing: "myLightBulb"}
	pre := bulb.Prefix()

	t.Run("lightbulb", func(t *testing.T) {
		// device-shadow-data-flow.html (2019 edition): the light bulb walk-through.
		b := newBench()
		b.note("The light bulb comes online and reports its state; the shadow is created.")
		b.publish(t, pre+"/update", `{"state":{"reported":{"color":"red"}}}`, at(0))
		b.note("An app gets the shadow with an empty message.")
		b.publish(t, pre+"/get", ``, at(79))
		b.note("The app asks for green.")
		b.publish(t, pre+"/update", `{"state":{"desired":{"color":"green"}}}`, at(166))
		b.note("The bulb turns green, reports it and clears desired.")
		b.publish(t, pre+"/update", `{"state":{"reported":{"color":"green"},"desired":null}}`, at(309))
		b.publish(t, pre+"/get", ``, at(372))
		b.note("The shadow is deleted; getting it again fails; an update recreates it at the next version.")
		b.publish(t, pre+"/delete", ``, at(400))
		b.publish(t, pre+"/get", ``, at(401))
		b.publish(t, pre+"/update", `{"state":{"reported":{"color":"blue"}}}`, at(402))
		golden(t, "lightbulb.golden", b.out.Bytes())
	})

	t.Run("delta", func(t *testing.T) {
		// device-shadow-document.html#delta-state: flat and nested deltas; reported-only members stay out.
		b := newBench()
		b.publish(t, pre+"/update", `{"state":{"desired":{"color":"RED","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"}}}`, at(0))
		b.publish(t, pre+"/get", ``, at(1))
		car := ID{Thing: "car"}.Prefix()
		b.publish(t, car+"/update", `{"state":{"reported":{"lights":{"color":{"r":255,"g":0,"b":255}}}}}`, at(2))
		b.publish(t, car+"/update", `{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255}}}}}`, at(3))
		b.publish(t, car+"/get", ``, at(4))
		b.note("The device reports the change; desired and reported agree, so no delta.")
		b.publish(t, car+"/update", `{"state":{"reported":{"lights":{"color":{"g":255}}}}}`, at(5))
		golden(t, "delta.golden", b.out.Bytes())
	})

	t.Run("optimistic-locking", func(t *testing.T) {
		// device-shadow-data-flow.html#optimistic-locking.
		b := newBench()
		b.seed(t, bulb, `{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}},"metadata":{"desired":{"colors":[{"timestamp":1469564000},{"timestamp":1469564000},{"timestamp":1469564000}]}},"version":10}`)
		b.note("version doesn't match; this request will be rejected")
		b.publish(t, pre+"/update", `{"state":{"desired":{"colors":["BLUE"]}},"version":9,"clientToken":"426bfd96-e720-46d3-95cd-014e3ef12bb6"}`, at(0))
		b.note("version matches; this request will be accepted")
		b.publish(t, pre+"/update", `{"state":{"desired":{"colors":["BLUE"]}},"version":10}`, at(1))
		golden(t, "optimistic-locking.golden", b.out.Bytes())
	})

	t.Run("arrays-and-empty-sections", func(t *testing.T) {
		// device-shadow-document.html#device-shadow-arrays and #device-shadow-empty-fields.
		b := newBench()
		b.publish(t, pre+"/update", `{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}`, at(0))
		b.publish(t, pre+"/update", `{"state":{"desired":{"colors":["RED"]}}}`, at(1))
		b.note("Arrays can't have null values.")
		b.publish(t, pre+"/update", `{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}`, at(2))
		b.publish(t, pre+"/update", `{"state":{"reported":{"temp":55}}}`, at(3))
		b.publish(t, pre+"/update", `{"state":{"reported":{"color":"red"},"desired":null}}`, at(4))
		b.note("Removing the last member leaves an empty, yet valid, shadow document.")
		b.publish(t, pre+"/update", `{"state":{"reported":{"temp":null,"color":null}}}`, at(5))
		b.publish(t, pre+"/get", `{"clientToken":"sdk-get"}`, at(6))
		golden(t, "arrays-and-empty-sections.golden", b.out.Bytes())
	})

	t.Run("named-shadows", func(t *testing.T) {
		// device-shadow-mqtt.html: named shadows are independent of the classic shadow (checklist 89).
		b := newBench()
		named := ID{Thing: "mySimulatedThing", Shadow: "simShadow1"}.Prefix()
		classic := ID{Thing: "mySimulatedThing"}.Prefix()
		b.publish(t, named+"/get", ``, at(0))
		b.publish(t, named+"/update", `{"state":{"reported":{"color":{"r":255,"g":255,"b":0}}},"clientToken":"sim-1"}`, at(1))
		b.publish(t, classic+"/get", ``, at(2))
		b.publish(t, named+"/delete", `{"clientToken":"sim-2"}`, at(3))
		b.publish(t, named+"/delete", ``, at(4))
		golden(t, "named-shadows.golden", b.out.Bytes())
	})

	t.Run("rejections", func(t *testing.T) {
		// device-shadow-error-messages.html: one request per documented error the package makes.
		b := newBench()
		b.publish(t, pre+"/update", `{"state":{"reported":{"on":true}}}`, at(0))
		for _, p := range []string{
			"{\"state\":{\"reported\":{\"name\":\"\xff\"}}}",
			`{"state":{"reported":{"on":true}`,
			`{"clientToken":"c1"}`,
			`{"state":"on","clientToken":"c2"}`,
			`{"state":{"desired":"on"},"clientToken":"c3"}`,
			`{"state":{"reported":["on"]},"clientToken":"c4"}`,
			`{"state":{"reported":{"on":true}},"version":"one","clientToken":"c5"}`,
			`{"state":{"reported":{"on":true}},"clientToken":"` + strings.Repeat("x", 65) + `"}`,
			`{"state":{"reported":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}},"clientToken":"c6"}`,
			`{"state":{"reported":{"on":true},"desire":{"on":false}},"clientToken":"c7"}`,
			`{"state":{"reported":{"on":false}},"version":7,"clientToken":"c8"}`,
			`{"state":{"reported":{"blob":"` + strings.Repeat("x", MaxStateBytes) + `"}},"clientToken":"c9"}`,
		} {
			b.publish(t, pre+"/update", p, at(1))
		}
		golden(t, "rejections.golden", b.out.Bytes())
	})
}
