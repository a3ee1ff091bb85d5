package shadowsvc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
	"github.com/iotlab/iotlab/emulator/store"
)

var lamp = shadow.ID{Thing: "lamp"}

const lampPrefix = "$aws/things/lamp/shadow"

// TestHTTPUpdatePublishesNotifications: an update through the Service's methods (the HTTP path)
// publishes accepted, documents and, while desired and reported differ, delta; get publishes
// nothing; delete publishes delete/accepted.
func TestHTTPUpdatePublishesNotifications(t *testing.T) {
	e := newEnv(t)
	steps := []struct {
		name   string
		do     func() ([]byte, error)
		topics []string
		check  func(t *testing.T, doc []byte)
	}{
		{
			name: "desired creates the shadow with a delta",
			do: func() ([]byte, error) {
				return e.svc.Update(testScope, lamp, []byte(`{"state":{"desired":{"color":"red"}},"clientToken":"app-1"}`))
			},
			topics: []string{lampPrefix + "/update/accepted", lampPrefix + "/update/documents", lampPrefix + "/update/delta"},
			check: func(t *testing.T, doc []byte) {
				if v := field(t, doc, "version"); v != 1.0 {
					t.Errorf("version: got %v, want 1", v)
				}
				if tok := field(t, doc, "clientToken"); tok != "app-1" {
					t.Errorf("clientToken: got %v, want app-1", tok)
				}
			},
		},
		{
			name: "reported agrees: no delta",
			do: func() ([]byte, error) {
				return e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"color":"red"}}}`))
			},
			topics: []string{lampPrefix + "/update/accepted", lampPrefix + "/update/documents"},
		},
		{
			name:   "get publishes nothing",
			do:     func() ([]byte, error) { return e.svc.Get(testScope, lamp, nil) },
			topics: nil,
			check: func(t *testing.T, doc []byte) {
				if v := field(t, doc, "state", "reported", "color"); v != "red" {
					t.Errorf("reported color: got %v, want red", v)
				}
				if v := field(t, doc, "version"); v != 2.0 {
					t.Errorf("version: got %v, want 2", v)
				}
			},
		},
		{
			name:   "delete",
			do:     func() ([]byte, error) { return e.svc.Delete(testScope, lamp, nil) },
			topics: []string{lampPrefix + "/delete/accepted"},
			check: func(t *testing.T, doc []byte) {
				if v := field(t, doc, "version"); v != 2.0 {
					t.Errorf("deleted version: got %v, want 2", v)
				}
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.pub.reset()
			doc, err := st.do()
			mustOK(t, err)
			if got := e.pub.topics(); !slices.Equal(got, st.topics) {
				t.Errorf("published %v, want %v", got, st.topics)
			}
			if st.check != nil {
				st.check(t, doc)
			}
		})
	}
	_, err := e.svc.Get(testScope, lamp, nil)
	wantShadowErr(t, err, 404, "No shadow exists with name: 'lamp'")
}

// TestHTTPRejectionsPublishNothing: AWS: device-shadow-error-messages — "If the client updates the
// document using the REST API, then it receives the HTTP error code … and no MQTT error messages".
func TestHTTPRejectionsPublishNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"desired":{"on":true}}}`))
	mustOK(t, err)
	big := `{"state":{"desired":{"blob":"` + strings.Repeat("x", 9000) + `"}}}`
	cases := []struct {
		name    string
		request string
		code    int
		msg     string
	}{
		{"not JSON", `{"state":`, 400, shadow.MsgInvalidJSON},
		{"no state", `{"desired":{}}`, 400, shadow.MsgMissingState},
		{"stale version", `{"state":{"desired":{"on":false}},"version":7}`, 409, shadow.MsgVersionConflict},
		{"too large", big, 413, shadow.MsgPayloadTooLarge},
		{"not UTF-8", "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", 415, shadow.MsgUnsupportedEncoding},
		{"client token too long", `{"state":{},"clientToken":"` + strings.Repeat("t", 65) + `"}`, 400, shadow.MsgInvalidClientToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.pub.reset()
			_, err := e.svc.Update(testScope, lamp, []byte(c.request))
			wantShadowErr(t, err, c.code, c.msg)
			if got := e.pub.topics(); len(got) != 0 {
				t.Errorf("published %v, want nothing", got)
			}
		})
	}
	doc, err := e.svc.Get(testScope, lamp, nil)
	mustOK(t, err)
	if v := field(t, doc, "version"); v != 1.0 {
		t.Fatalf("version after rejections: got %v, want 1", v)
	}
}

// TestMQTTRequests: each request topic is answered on its accepted or rejected topic with the
// service's document.
func TestMQTTRequests(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, topic, payload string
		want                 []string // response topics, in order
		code                 int      // of the rejected document
		message              string
	}{
		{
			name: "get of a missing shadow", topic: lampPrefix + "/get", payload: ``,
			want: []string{lampPrefix + "/get/rejected"}, code: 404, message: "No shadow exists with name: 'lamp'",
		},
		{
			name: "update creates", topic: lampPrefix + "/update", payload: `{"state":{"desired":{"color":"red"}}}`,
			want: []string{lampPrefix + "/update/accepted", lampPrefix + "/update/documents", lampPrefix + "/update/delta"},
		},
		{
			name: "stale version", topic: lampPrefix + "/update", payload: `{"state":{"reported":{"color":"red"}},"version":9,"clientToken":"dev-1"}`,
			want: []string{lampPrefix + "/update/rejected"}, code: 409, message: shadow.MsgVersionConflict,
		},
		{
			name: "invalid JSON", topic: lampPrefix + "/update", payload: `nope`,
			want: []string{lampPrefix + "/update/rejected"}, code: 400, message: shadow.MsgInvalidJSON,
		},
		{
			name: "get with a client token", topic: lampPrefix + "/get", payload: `{"clientToken":"dev-2"}`,
			want: []string{lampPrefix + "/get/accepted"},
		},
		{
			name: "named shadow is another document", topic: "$aws/things/lamp/shadow/name/cfg/get", payload: ``,
			want: []string{"$aws/things/lamp/shadow/name/cfg/get/rejected"}, code: 404, message: "No shadow exists with name: 'lamp~cfg'",
		},
		{
			name: "named update", topic: "$aws/things/lamp/shadow/name/cfg/update", payload: `{"state":{"reported":{"fw":"1.0"}}}`,
			want: []string{"$aws/things/lamp/shadow/name/cfg/update/accepted", "$aws/things/lamp/shadow/name/cfg/update/documents"},
		},
		{
			name: "delete", topic: lampPrefix + "/delete", payload: `ignored`,
			want: []string{lampPrefix + "/delete/accepted"},
		},
		{
			name: "delete again", topic: lampPrefix + "/delete", payload: ``,
			want: []string{lampPrefix + "/delete/rejected"}, code: 404,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.pub.reset()
			if !e.svc.HandleMessage("dev", c.topic, []byte(c.payload)) {
				t.Fatalf("HandleMessage(%s) = false, want true", c.topic)
			}
			msgs := e.pub.waitN(t, len(c.want))
			var got []string
			for _, m := range msgs {
				got = append(got, m.Topic)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("published %v, want %v", got, c.want)
			}
			if c.code != 0 {
				doc := msgs[0].Payload
				if code := field(t, doc, "code"); code != float64(c.code) {
					t.Errorf("code: got %v, want %d (%s)", code, c.code, doc)
				}
				if c.message != "" && field(t, doc, "message") != c.message {
					t.Errorf("message: got %s, want %q", doc, c.message)
				}
			}
			if strings.Contains(c.payload, "clientToken") {
				tok := field(t, []byte(c.payload), "clientToken")
				if got := field(t, msgs[0].Payload, "clientToken"); got != tok {
					t.Errorf("clientToken: got %v, want %v echoed", got, tok)
				}
			}
		})
	}
}

// TestHandleMessageIgnoresOtherTopics: only the request topics are the service's; response topics
// (which it publishes itself) and wildcards are not requests.
func TestHandleMessageIgnoresOtherTopics(t *testing.T) {
	e := newEnv(t)
	for _, topic := range []string{
		"sensors/lamp",
		"$aws/things/lamp/shadow/update/accepted",
		"$aws/things/lamp/shadow/update/delta",
		"$aws/things/lamp/shadow/get/rejected",
		"$aws/things/lamp/shadow/name/x/update/documents",
		"$aws/things/lamp/shadow/upsert",
		"$aws/things/la.mp/shadow/get",
		"$aws/things/lamp/jobs/get",
		"$aws/events/presence/connected/lamp",
	} {
		t.Run(topic, func(t *testing.T) {
			if e.svc.HandleMessage("dev", topic, []byte(`{"state":{}}`)) {
				t.Fatalf("HandleMessage(%s) = true, want false", topic)
			}
		})
	}
}

// TestListNamed: named shadows only, sorted, paged with an opaque token; deleted ones vanish; other
// things and scopes are apart.
func TestListNamed(t *testing.T) {
	e := newEnv(t)
	other := registry.Scope{Account: "123456789012", Region: "us-east-1"}
	for _, id := range []shadow.ID{{Thing: "lamp"}, {Thing: "lamp", Shadow: "c"}, {Thing: "lamp", Shadow: "a"}, {Thing: "lamp", Shadow: "b"}, {Thing: "lamp", Shadow: "$x"}, {Thing: "lampx", Shadow: "z"}} {
		_, err := e.svc.Update(testScope, id, []byte(`{"state":{"reported":{"n":1}}}`))
		mustOK(t, err)
	}
	_, err := e.svc.Update(other, shadow.ID{Thing: "lamp", Shadow: "elsewhere"}, []byte(`{"state":{}}`))
	mustOK(t, err)
	_, err = e.svc.Update(testScope, shadow.ID{Thing: "lamp", Shadow: "gone"}, []byte(`{"state":{}}`))
	mustOK(t, err)
	_, err = e.svc.Delete(testScope, shadow.ID{Thing: "lamp", Shadow: "gone"}, nil)
	mustOK(t, err)

	all, next, err := e.svc.ListNamed(testScope, "lamp", "", 0)
	mustOK(t, err)
	if want := []string{"$x", "a", "b", "c"}; !slices.Equal(all, want) || next != "" {
		t.Fatalf("ListNamed: got %v %q, want %v and no token", all, next, want)
	}
	var paged []string
	token := ""
	for range 10 {
		names, next, err := e.svc.ListNamed(testScope, "lamp", token, 3)
		mustOK(t, err)
		paged = append(paged, names...)
		if token = next; token == "" {
			break
		}
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("pages of 3: got %v, want %v", paged, all)
	}
	none, _, err := e.svc.ListNamed(testScope, "nothing", "", 0)
	mustOK(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("thing without shadows: got %#v, want an empty list", none)
	}

	for _, c := range []struct {
		name, thing, token string
		size               int
	}{
		{"bad thing name", "a/b", "", 0},
		{"page too large", "lamp", "", 101},
		{"token not ours", "lamp", "!!!", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := e.svc.ListNamed(testScope, c.thing, c.token, c.size)
			wantShadowErr(t, err, 400, "")
		})
	}
}

// TestPersistenceAcrossRestart: shadows, versions and tombstones survive a restart on the same store.
func TestPersistenceAcrossRestart(t *testing.T) {
	e := newEnv(t)
	named := shadow.ID{Thing: "lamp", Shadow: "cfg"}
	_, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"desired":{"color":"red"},"reported":{"color":"blue"}}}`))
	mustOK(t, err)
	_, err = e.svc.Update(testScope, named, []byte(`{"state":{"reported":{"fw":"1"}}}`))
	mustOK(t, err)
	_, err = e.svc.Update(testScope, named, []byte(`{"state":{"reported":{"fw":"2"}}}`))
	mustOK(t, err)
	_, err = e.svc.Delete(testScope, named, nil)
	mustOK(t, err)
	before, err := e.svc.Get(testScope, lamp, nil)
	mustOK(t, err)

	e.restart()

	after, err := e.svc.Get(testScope, lamp, nil)
	mustOK(t, err)
	if string(after) != string(before) {
		t.Fatalf("after restart:\n got %s\nwant %s", after, before)
	}
	if v := field(t, after, "state", "delta", "color"); v != "red" {
		t.Fatalf("delta after restart: got %v, want red", v)
	}
	_, err = e.svc.Get(testScope, named, nil)
	wantShadowErr(t, err, 404, "")
	// The tombstone kept the version: recreating within 48 hours continues it.
	doc, err := e.svc.Update(testScope, named, []byte(`{"state":{"reported":{"fw":"3"}}}`))
	mustOK(t, err)
	if v := field(t, doc, "version"); v != 3.0 {
		t.Fatalf("recreated version: got %v, want 3", v)
	}
}

// TestTombstoneExpiry: after 48 hours a tombstone is dropped (by Sweep and at start) and a new
// shadow starts over at version 1.
func TestTombstoneExpiry(t *testing.T) {
	cases := []struct {
		name   string
		expire func(e *env)
	}{
		{"sweep", func(e *env) { e.svc.Sweep() }},
		{"restart", func(e *env) { e.restart() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for range 3 {
				_, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"n":1}}}`))
				mustOK(t, err)
			}
			_, err := e.svc.Delete(testScope, lamp, nil)
			mustOK(t, err)
			key := storeKey(testScope, lamp)

			e.clock.Advance(47 * time.Hour)
			c.expire(e)
			if !e.hasKey(key) {
				t.Fatalf("tombstone dropped after 47 h, want it kept for 48 h")
			}
			e.clock.Advance(2 * time.Hour)
			c.expire(e)
			if e.hasKey(key) {
				t.Fatalf("tombstone still stored after 49 h")
			}
			doc, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"n":2}}}`))
			mustOK(t, err)
			if v := field(t, doc, "version"); v != 1.0 {
				t.Fatalf("version after expiry: got %v, want 1", v)
			}
		})
	}
}

func (e *env) hasKey(key string) bool {
	e.t.Helper()
	found := false
	mustOK(e.t, e.bolt.Scan(key, func(k string, _ []byte) error {
		found = found || k == key
		return nil
	}))
	return found
}

// TestStoreFailureChangesNothing: a failed write is an internal error over HTTP and a 500 on
// /rejected over MQTT; the shadow stays as it was and nothing else is published.
func TestStoreFailureChangesNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"n":1}}}`))
	mustOK(t, err)
	e.st.FailWrites(errors.New("disk full"))
	e.pub.reset()

	_, err = e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"n":2}}}`))
	var se *shadow.Error
	if err == nil || errors.As(err, &se) {
		t.Fatalf("HTTP update on a failing disk: got %v, want an internal error", err)
	}
	_, err = e.svc.Delete(testScope, lamp, nil)
	if err == nil || errors.As(err, &se) {
		t.Fatalf("HTTP delete on a failing disk: got %v, want an internal error", err)
	}
	if got := e.pub.topics(); len(got) != 0 {
		t.Fatalf("published %v after failed writes, want nothing", got)
	}

	e.svc.HandleMessage("dev", lampPrefix+"/update", []byte(`{"state":{"reported":{"n":3}},"clientToken":"t"}`))
	msgs := e.pub.waitN(t, 1)
	if msgs[0].Topic != lampPrefix+"/update/rejected" || field(t, msgs[0].Payload, "code") != 500.0 || field(t, msgs[0].Payload, "clientToken") != "t" {
		t.Fatalf("MQTT update on a failing disk: got %s %s, want update/rejected 500 with the token", msgs[0].Topic, msgs[0].Payload)
	}

	e.st.FailWrites(nil)
	doc, err := e.svc.Get(testScope, lamp, nil)
	mustOK(t, err)
	if v := field(t, doc, "version"); v != 1.0 {
		t.Fatalf("version after failed writes: got %v, want 1", v)
	}
	e.restart()
	doc, err = e.svc.Get(testScope, lamp, nil)
	mustOK(t, err)
	if v := field(t, doc, "state", "reported", "n"); v != 1.0 {
		t.Fatalf("stored n after failed writes: got %v, want 1", v)
	}
}

// TestInFlightLimit: the 11th unanswered request of one connection gets 429; other clients and
// HTTP publishes (client "") are not affected. AWS: device-shadow-error-messages
func TestInFlightLimit(t *testing.T) {
	var g *gated
	e := newEnv(t, func(o *Options) {
		g = newGated(o.Store)
		o.Store = g
	})
	g.hold()
	const sent = 12
	for i := range sent {
		payload := fmt.Sprintf(`{"state":{"reported":{"n":%d}},"clientToken":"c%d"}`, i, i)
		if !e.svc.HandleMessage("dev", lampPrefix+"/update", []byte(payload)) {
			t.Fatalf("request %d not taken", i)
		}
	}
	// Another client's request is not throttled by dev's.
	e.svc.HandleMessage("other", "$aws/things/other/shadow/update", []byte(`{"state":{"reported":{"n":0}}}`))
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatal("no write started")
	}
	g.release()

	msgs := e.pub.waitN(t, 10*2+2+2) // 10 × (accepted, documents), 2 rejections, other's 2
	var accepted, throttled []string
	for _, m := range msgs {
		switch m.Topic {
		case lampPrefix + "/update/accepted":
			accepted = append(accepted, field(t, m.Payload, "clientToken").(string))
		case lampPrefix + "/update/rejected":
			if code := field(t, m.Payload, "code"); code != 429.0 {
				t.Errorf("rejection: got %s, want 429", m.Payload)
			}
			throttled = append(throttled, field(t, m.Payload, "clientToken").(string))
		}
	}
	wantAccepted := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	if !slices.Equal(accepted, wantAccepted) || !slices.Equal(throttled, []string{"c10", "c11"}) {
		t.Fatalf("accepted %v and throttled %v, want %v and [c10 c11]", accepted, throttled, wantAccepted)
	}

	// Answered requests are no longer in flight.
	e.pub.reset()
	e.svc.HandleMessage("dev", lampPrefix+"/get", nil)
	if m := e.pub.waitN(t, 1)[0]; m.Topic != lampPrefix+"/get/accepted" {
		t.Fatalf("after the burst: got %s, want get/accepted", m.Topic)
	}
}

// TestRequestsOfOneShadowInOrder: requests for one shadow are answered in the order they came, so a
// device's versions follow its publishes; HTTP and MQTT changes interleave consistently.
func TestRequestsOfOneShadowInOrder(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxInFlight = -1 })
	const n = 40
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			e.svc.HandleMessage("dev", lampPrefix+"/update", []byte(fmt.Sprintf(`{"state":{"reported":{"i":%d}}}`, i)))
		}
	}()
	for range n {
		_, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"desired":{"x":1}}}`))
		mustOK(t, err)
	}
	wg.Wait()
	// 2n updates, each answered on update/accepted.
	isAccepted := func(m message) bool { return m.Topic == lampPrefix+"/update/accepted" }
	e.pub.waitUntil(t, fmt.Sprintf("%d accepted updates", 2*n), func(ms []message) bool {
		c := 0
		for _, m := range ms {
			if isAccepted(m) {
				c++
			}
		}
		return c == 2*n
	})
	var versions []float64
	var reported []float64
	for _, m := range e.pub.all() {
		if !isAccepted(m) {
			continue
		}
		versions = append(versions, field(t, m.Payload, "version").(float64))
		if v, ok := field(t, m.Payload, "state", "reported", "i").(float64); ok {
			reported = append(reported, v)
		}
	}
	if !slices.IsSorted(versions) || len(versions) != 2*n {
		t.Fatalf("accepted versions out of order or missing: %v", versions)
	}
	for i, v := range reported {
		if v != float64(i) {
			t.Fatalf("device updates answered out of order: %v", reported)
		}
	}
}

// TestClose: Close answers what was queued, waits for its goroutines, then takes nothing more.
func TestClose(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.svc.HandleMessage(fmt.Sprint("dev", i), lampPrefix+"/update", []byte(`{"state":{"reported":{"n":1}}}`))
	}
	mustOK(t, e.svc.Close())
	if got := len(e.pub.all()); got != 5*2 {
		t.Fatalf("after Close: %d messages %v, want the 10 answers of the queued requests", got, e.pub.topics())
	}
	if e.svc.HandleMessage("dev", lampPrefix+"/get", nil) {
		t.Fatal("HandleMessage after Close took the request")
	}
	mustOK(t, e.svc.Close())
}

// TestOpenRefusesCorruptRecords: a record that isn't a shadow stops Open with the key named, as the
// registry does, rather than silently losing it.
func TestOpenRefusesCorruptRecords(t *testing.T) {
	for _, c := range []struct{ name, key, val string }{
		{"bad key", "shadow/123456789012/eu-west-1/no-tilde", `{"version":1}`},
		{"bad record", storeKey(testScope, lamp), `{"version":-1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			mustOK(t, e.bolt.Apply(store.Op{Key: c.key, Value: []byte(c.val)}))
			_, err := Open(e.opt)
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Fatalf("Open: got %v, want an error naming %s", err, c.key)
			}
		})
	}
}
