package fleet_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/fleet"
	"github.com/iotlab/iotlab/exercises/target"
)

// TestFleetObeysAndStopsCleanly: the fleet provisions its devices, publishes readings, the lock obeys
// its shadow, saved credentials are reused on a second start, and Stop disconnects every device with
// DISCONNECT (a client-initiated disconnect, no will).
func TestFleetObeysAndStopsCleanly(t *testing.T) {
	state := t.TempDir()
	inst, err := instance.Start(instance.Config{StateDir: state, APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", LabAddr: "off", LogLevel: "error"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := target.InProcess(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []exercises.Event
	cancelObs, _ := tg.Observe(func(e exercises.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	defer cancelObs()
	readings := make(chan string, 100)
	o := fleet.Options{Rooms: []string{"livingroom"}, Interval: 50 * time.Millisecond, CredsDir: t.TempDir(),
		DeviceOptions: fleet.DeviceOptions{OnPacket: func(tr client.Trace) {
			if s := tr.Summary(); s.Kind == "publish" {
				select {
				case readings <- s.Topic:
				default:
				}
			}
		}}}
	f, err := fleet.Start(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Devices) != 3 {
		t.Fatalf("got %d devices, want 3 (sensor, door, lock)", len(f.Devices))
	}
	select {
	case <-readings:
	case <-time.After(5 * time.Second):
		t.Fatal("no reading within 5s")
	}
	if _, err := tg.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("hall-lock"),
		Payload: []byte(`{"state": {"desired": {"lock": "unlocked"}}}`)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Lock.State() != fleet.Unlocked && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.Lock.State(); got != fleet.Unlocked {
		t.Fatalf("lock is %s, want unlocked", got)
	}
	f.Stop()
	mu.Lock()
	for _, e := range events {
		if e.Detail == "disconnect" || len(e.Detail) > 10 && e.Detail[:10] == "disconnect" {
			if e.Detail != "disconnect CLIENT_INITIATED_DISCONNECT" {
				t.Errorf("device %s ended with %q, want a client-initiated disconnect", e.Client, e.Detail)
			}
		}
	}
	mu.Unlock()

	// A second start reuses the saved certificates: no new certificate is made.
	before, _ := tg.IoT.ListCertificates(ctx, nil)
	f2, err := fleet.Start(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	f2.Stop()
	after, _ := tg.IoT.ListCertificates(ctx, nil)
	if len(after.Certificates) != len(before.Certificates) {
		t.Fatalf("certificates: %d before, %d after a restart with saved credentials", len(before.Certificates), len(after.Certificates))
	}
	// The lock picks up a desired state set while it was away.
	tg.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("hall-lock"),
		Payload: []byte(`{"state": {"desired": {"lock": "locked"}}}`)})
	f3, err := fleet.Start(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer f3.Stop()
	// The lock acts, then reports: wait for both (the report is a separate publish).
	var shadow []byte
	for deadline = time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("hall-lock")})
		if err != nil {
			t.Fatal(err)
		}
		shadow = out.Payload
		if f3.Lock.State() == fleet.Locked && contains(string(shadow), `"reported":{"lock":"locked"}`) {
			return
		}
	}
	t.Fatalf("lock %s, shadow %s", f3.Lock.State(), shadow)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
