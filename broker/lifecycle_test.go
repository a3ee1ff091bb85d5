package broker

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Checklist 5 and 43: connected/disconnected events with AWS's fields; the connect and its disconnect
// share versionNumber; a reconnect gets a larger one. The Connect log entry is a Success.
func TestPresenceEvents(t *testing.T) {
	e := newEnv(t)
	e.policy("c", allow("iot:Connect", "client/*"))
	w := e.watcher("pe-w", "$aws/events/presence/#")
	d := e.device("pe", "c")
	start := e.Clock.Now().UnixMilli()

	c := e.connect5(d, "pe")
	con := decodeJSON(t, w.expect("$aws/events/presence/connected/pe").Payload)
	_ = c.c.Disconnect(&paho.Disconnect{})
	dis := decodeJSON(t, w.expect("$aws/events/presence/disconnected/pe").Payload)

	for _, f := range []string{"clientId", "timestamp", "eventType", "sessionIdentifier", "principalIdentifier", "ipAddress", "versionNumber"} {
		if _, ok := con[f]; !ok {
			t.Errorf("connected event lacks %s: %v", f, con)
		}
	}
	if con["eventType"] != "connected" || con["clientId"] != "pe" || con["principalIdentifier"] != d.ID || con["ipAddress"] != "127.0.0.1" {
		t.Errorf("connected %v", con)
	}
	if ts, _ := con["timestamp"].(float64); int64(ts) < start || int64(ts) > e.Clock.Now().UnixMilli() {
		t.Errorf("timestamp %v is not epoch milliseconds of now", con["timestamp"])
	}
	if s, _ := con["sessionIdentifier"].(string); !uuidRE.MatchString(s) {
		t.Errorf("sessionIdentifier %q", s)
	}
	if _, ok := dis["ipAddress"]; ok {
		t.Errorf("disconnected event has ipAddress: %v", dis)
	}
	if dis["versionNumber"] != con["versionNumber"] || dis["sessionIdentifier"] != con["sessionIdentifier"] {
		t.Errorf("connect %v and disconnect %v differ in versionNumber or sessionIdentifier", con, dis)
	}
	if dis["eventType"] != "disconnected" || dis["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" || dis["clientInitiatedDisconnect"] != true {
		t.Errorf("disconnected %v", dis)
	}

	e.Clock.Advance(time.Second)
	c = e.connect5(d, "pe")
	con2 := decodeJSON(t, w.expect("$aws/events/presence/connected/pe").Payload)
	if v1, v2 := con["versionNumber"].(float64), con2["versionNumber"].(float64); v2 <= v1 {
		t.Errorf("reconnect versionNumber %v, want more than %v", v2, v1)
	}
	if con2["sessionIdentifier"] == con["sessionIdentifier"] {
		t.Error("a new clean session kept the sessionIdentifier")
	}
	if l := findLog(e.readLog(), map[string]any{"eventType": "Connect", "clientId": "pe"}); l == nil || l["status"] != "Success" || l["principalId"] != d.ID || l["protocol"] != "MQTT" {
		t.Errorf("Connect log %v", l)
	}
	_ = c
}

// Checklist 14: client IDs with '+' or '#' connect but produce no lifecycle events.
func TestNoLifecycleForWildcardClientIDs(t *testing.T) {
	e := newEnv(t)
	e.policy("all", allow("iot:*", "*"))
	w := e.watcher("nl-w", "$aws/events/#", "marker")
	d := e.device("nl", "all")
	c := e.connect5(d, "dev+1")
	c.subscribe("a/b")
	_ = c.c.Disconnect(&paho.Disconnect{})
	e.events.wait(t, "disconnect", kindIs(EventDisconnect, "dev+1"))
	p := e.connect5(d, "nl-marker")
	_, _ = p.publish("marker", 1, false, "m")
	for _, topic := range w.until("marker") {
		if strings.Contains(topic, "dev+1") {
			t.Errorf("lifecycle event for a client ID with '+': %s", topic)
		}
	}
}

// Checklist 41: subscribed and unsubscribed events list the packet's (granted) filters.
func TestSubscriptionEvents(t *testing.T) {
	e := newEnv(t)
	e.pubsubPolicy()
	w := e.watcher("se-w", "$aws/events/subscriptions/#")
	c := e.connect5(e.device("se", "pubsub"), "se")
	c.subscribe("allowed/a", "allowed/b", "denied/c")
	doc := decodeJSON(t, w.expect("$aws/events/subscriptions/subscribed/se").Payload)
	if doc["eventType"] != "subscribed" || doc["clientId"] != "se" || !sameTopics(doc["topics"], "allowed/a", "allowed/b") {
		t.Errorf("subscribed %v", doc)
	}
	ctx := contextWithTimeout(t)
	if _, err := c.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"allowed/a"}}); err != nil {
		t.Fatal(err)
	}
	doc = decodeJSON(t, w.expect("$aws/events/subscriptions/unsubscribed/se").Payload)
	if doc["eventType"] != "unsubscribed" || !sameTopics(doc["topics"], "allowed/a") {
		t.Errorf("unsubscribed %v", doc)
	}
}

func sameTopics(v any, want ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for i := range list {
		if list[i] != want[i] {
			return false
		}
	}
	return true
}
