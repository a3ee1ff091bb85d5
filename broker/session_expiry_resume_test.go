package broker

import (
	"testing"
	"time"
)

// TestExpiredSessionNotResumedBeforeSweep: a persistent session past its expiry is not resumed, even
// when the janitor has not swept it yet. Regression: checklist 46 (iotlab check) reconnected 2 s after
// a 1 s Session Expiry Interval and got session present 1 until the next sweep.
func TestExpiredSessionNotResumedBeforeSweep(t *testing.T) {
	e, _ := newSessionEnv(t)
	d := e.device("exr", "all")
	c5, err := e.dial5(d, "exr5", v5Opts{noCleanStart: true, sei: 1})
	if err != nil {
		t.Fatal(err)
	}
	c5.subscribe("exr/t")
	c5.leave()
	c3, _ := e.persistent3(d, "exr3")
	c3.subscribe("exr/t")
	c3.leave()
	e.publishAll("exr/t", "queued")
	e.Clock.Advance(2 * time.Second) // past the MQTT 5 interval, within the MQTT 3 account hour; no sweep
	c5, err = e.dial5(d, "exr5", v5Opts{noCleanStart: true, sei: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c5.ack.SessionPresent {
		t.Error("MQTT 5: an expired session was resumed")
	}
	c5.subscribe("exr/marker")
	e.publishAll("exr/marker", "m")
	c5.expectNoneBefore("exr/t", "exr/marker")
	if _, present := e.persistent3(d, "exr3"); !present {
		t.Error("MQTT 3.1.1: a session within the account's expiry was not resumed")
	}
}
