package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/target"
)

// DefaultRooms have a temperature sensor each.
var DefaultRooms = []string{"livingroom", "kitchen", "bedroom"}

// Options configure a fleet. Zero values get defaults.
type Options struct {
	// Names gives the run's names: things @{<room>-sensor}, @{hall-door}, @{hall-lock}, policy
	// @{home-fleet}, topic root @{home}.
	Names exercises.Namer
	// Run tags the resources in the target's manifest.
	Run string
	// Rooms with a sensor (default DefaultRooms).
	Rooms []string
	// Interval between readings (default 5 s).
	Interval time.Duration
	// CredsDir keeps the devices' certificates and keys between runs ("" = provision every time).
	CredsDir string
	DeviceOptions
}

// Fleet is the running smart home.
type Fleet struct {
	// Devices are the provisioned devices, by thing name.
	Devices map[string]*Device
	Lock    *Lock
	stops   []func()
}

// Start provisions the smart home's devices through the target's control plane (or reuses saved
// credentials that are still valid), connects each as its own MQTT client and returns once every device
// has connected (bounded). Stop disconnects them all.
func Start(ctx context.Context, t *target.Target, o Options) (*Fleet, error) {
	if len(o.Rooms) == 0 {
		o.Rooms = DefaultRooms
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	n := o.Names
	if n.Account == "" {
		n.Account, n.Region = t.Account, t.Region
	}
	if o.Home == "" {
		o.Home = n.Expand("@{home}")
	}
	policy := n.Expand("@{home-fleet}")
	if err := ensurePolicy(ctx, t, o.Run, policy, n.Expand(exercises.GenericPolicy)); err != nil {
		return nil, err
	}
	type want struct{ thing, room string }
	var wants []want
	for _, r := range o.Rooms {
		wants = append(wants, want{n.Expand("@{" + r + "-sensor}"), r})
	}
	wants = append(wants, want{n.Expand("@{hall-door}"), "hall"}, want{n.Expand("@{hall-lock}"), "hall"})

	f := &Fleet{Devices: map[string]*Device{}}
	for _, w := range wants {
		d, err := device(ctx, t, o, w.thing, w.room, policy)
		if err != nil {
			return nil, err
		}
		f.Devices[w.thing] = d
	}
	var waiters []*running
	for _, w := range wants[:len(o.Rooms)] {
		s := StartSensor(ctx, t, f.Devices[w.thing], w.room, o.Interval, o.DeviceOptions)
		f.stops = append(f.stops, s.Stop)
		waiters = append(waiters, s.r)
	}
	door := StartDoor(ctx, t, f.Devices[n.Expand("@{hall-door}")], o.Interval, o.DeviceOptions)
	f.stops = append(f.stops, door.Stop)
	waiters = append(waiters, door.r)
	lock, err := StartLock(ctx, t, f.Devices[n.Expand("@{hall-lock}")], o.DeviceOptions)
	if err != nil {
		f.Stop()
		return nil, err
	}
	f.Lock = lock
	f.stops = append(f.stops, lock.Stop)
	for i, r := range waiters {
		if !r.waitConnected(2 * t.Wait) {
			f.Stop()
			return nil, fmt.Errorf("fleet: %s did not connect within %s", wants[i].thing, 2*t.Wait)
		}
	}
	return f, nil
}

// Stop disconnects every device (DISCONNECT, so the broker publishes no will) and waits for them.
func (f *Fleet) Stop() {
	for i := len(f.stops) - 1; i >= 0; i-- {
		f.stops[i]()
	}
	f.stops = nil
}

// device reuses saved credentials that are still valid, or provisions the device.
func device(ctx context.Context, t *target.Target, o Options, thing, room, policy string) (*Device, error) {
	if o.CredsDir != "" {
		if d, err := Load(ctx, t, o.CredsDir, thing); err == nil {
			o.logf("%s: reusing its certificate %s…", thing, d.CertID[:12])
			return d, nil
		}
	}
	d, err := Provision(ctx, t, o.Run, Spec{Thing: thing, Attrs: map[string]string{"room": room}, Policy: policy})
	if err != nil {
		return nil, err
	}
	o.logf("%s: provisioned (thing, certificate %s…, policy %s)", thing, d.CertID[:12], policy)
	if o.CredsDir != "" {
		if err := d.Save(o.CredsDir); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ensurePolicy creates the fleet's policy, or keeps the one a previous run created.
func ensurePolicy(ctx context.Context, t *target.Target, run, name, doc string) error {
	_, err := t.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc),
		Tags: []types.Tag{{Key: aws.String("iotlab"), Value: aws.String("fleet")}}})
	var exists *types.ResourceAlreadyExistsException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fleet: create policy %s: %w", name, err)
	}
	return t.Manifest.Add(target.Resource{Kind: target.KindPolicy, Name: name, Account: t.Account, Region: t.Region, Run: run})
}
