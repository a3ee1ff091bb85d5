package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/target"
)

// Reconnect pauses grow from minBackoff to maxBackoff while a device cannot connect.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// Lock states.
const (
	Locked   = "locked"
	Unlocked = "unlocked"
)

// DeviceOptions are shared by every simulated device.
type DeviceOptions struct {
	// Home is the topic root (the smart home's "home", with the run prefix).
	Home string
	// OnPacket sees every packet of the device's connections.
	OnPacket func(client.Trace)
	// Logf reports what the device does, in a line (nil: silent).
	Logf func(format string, args ...any)
}

func (o DeviceOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// running is one device's loop.
type running struct {
	cancel    context.CancelFunc
	done      chan struct{}
	connected chan struct{} // closed after the first successful session set-up
	once      sync.Once
}

// stop ends the loop: the device disconnects cleanly (DISCONNECT, so no will and a clean lifecycle
// event), and stop waits for it.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// run keeps a device connected until ctx ends: dial, set up (subscribe…), then body until the
// connection is lost; then again after a pause.
func run(ctx context.Context, t *target.Target, d *Device, o DeviceOptions, setup, body func(ctx context.Context, c *client.Conn) error) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan struct{}), connected: make(chan struct{})}
	go func() {
		defer close(r.done)
		backoff := minBackoff
		for ctx.Err() == nil {
			c, ack, err := d.Dial(ctx, t, client.Options{Clean: true, OnPacket: o.OnPacket, KeepAlive: 60})
			if err == nil && ack.Code != 0 {
				err = fmt.Errorf("CONNACK 0x%02x %s", ack.Code, client.ReasonName(ack.Code))
			}
			if err == nil {
				err = setup(ctx, c)
				if err == nil {
					r.once.Do(func() { close(r.connected) })
					backoff = minBackoff
					err = body(ctx, c)
				}
				c.Disconnect()
			}
			if ctx.Err() != nil {
				return
			}
			o.logf("%s: connection lost (%v); reconnecting in %s", d.Thing, err, backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, maxBackoff)
		}
	}()
	return r
}

// waitConnected waits until the device has connected once, for at most d.
func (r *running) waitConnected(d time.Duration) bool {
	select {
	case <-r.connected:
		return true
	case <-r.done:
		return false
	case <-time.After(d):
		return false
	}
}

func shadowTopic(thing, rest string) string { return "$aws/things/" + thing + "/shadow/" + rest }

// Lock is the hall door's lock: it reports its state to its classic shadow and obeys the desired state
// (the shadow's update/delta, and the get/accepted delta it asks for when it connects) and commands on
// <home>/hall/<thing>/cmd ("lock", "unlock" or {"lock": "unlocked"}).
// AWS: device-shadow-data-flow
type Lock struct {
	d   *Device
	o   DeviceOptions
	r   *running
	mu  sync.Mutex // guards state
	now string
}

// StartLock connects the lock and returns once it has reported its state (bounded by the target's
// Wait). Stop disconnects it.
func StartLock(ctx context.Context, t *target.Target, d *Device, o DeviceOptions) (*Lock, error) {
	l := &Lock{d: d, o: o, now: Locked}
	delta, accepted := shadowTopic(d.Thing, "update/delta"), shadowTopic(d.Thing, "get/accepted")
	cmd := o.Home + "/hall/" + d.Thing + "/cmd"
	setup := func(ctx context.Context, c *client.Conn) error {
		codes, err := c.Subscribe(ctx, client.Sub{Filter: delta, QoS: 1}, client.Sub{Filter: accepted, QoS: 1}, client.Sub{Filter: cmd, QoS: 1})
		if err != nil {
			return err
		}
		for _, code := range codes {
			if code >= 0x80 {
				return fmt.Errorf("subscribe refused (SUBACK % x)", codes)
			}
		}
		if err := l.report(ctx, c); err != nil {
			return err
		}
		// Ask for the shadow: a desired state set while the lock was offline shows as its delta.
		_, err = c.Publish(ctx, client.Message{Topic: shadowTopic(d.Thing, "get"), QoS: 1})
		return err
	}
	body := func(ctx context.Context, c *client.Conn) error {
		for {
			m, err := c.Next(ctx)
			if err != nil {
				return err
			}
			var want string
			switch m.Topic {
			case delta:
				var doc struct {
					State struct {
						Lock string `json:"lock"`
					} `json:"state"`
				}
				if json.Unmarshal(m.Payload, &doc) == nil {
					want = doc.State.Lock
				}
			case accepted:
				var doc struct {
					State struct {
						Delta struct {
							Lock string `json:"lock"`
						} `json:"delta"`
					} `json:"state"`
				}
				if json.Unmarshal(m.Payload, &doc) == nil {
					want = doc.State.Delta.Lock
				}
			case cmd:
				want = parseCommand(m.Payload)
			}
			if want = normalize(want); want == "" {
				continue
			}
			l.mu.Lock()
			l.now = want
			l.mu.Unlock()
			o.logf("%s: %s (asked on %s)", d.Thing, want, m.Topic)
			if err := l.report(ctx, c); err != nil {
				return err
			}
		}
	}
	l.r = run(ctx, t, d, o, setup, body)
	if !l.r.waitConnected(2 * t.Wait) {
		l.r.stop()
		return nil, fmt.Errorf("fleet: lock %s did not connect within %s", d.Thing, 2*t.Wait)
	}
	return l, nil
}

func parseCommand(p []byte) string {
	var doc struct {
		Lock string `json:"lock"`
	}
	if json.Unmarshal(p, &doc) == nil && doc.Lock != "" {
		return doc.Lock
	}
	return strings.TrimSpace(string(p))
}

func normalize(s string) string {
	switch strings.ToLower(s) {
	case "lock", "locked", "close", "closed":
		return Locked
	case "unlock", "unlocked", "open":
		return Unlocked
	}
	return ""
}

// report publishes the lock's state to its shadow.
func (l *Lock) report(ctx context.Context, c *client.Conn) error {
	doc := fmt.Sprintf(`{"state": {"reported": {"lock": %q}}}`, l.State())
	ack, err := c.Publish(ctx, client.Message{Topic: shadowTopic(l.d.Thing, "update"), Payload: []byte(doc), QoS: 1})
	if err == nil && ack.Code >= 0x80 {
		err = fmt.Errorf("shadow update refused (PUBACK 0x%02x)", ack.Code)
	}
	return err
}

// State is the lock's state.
func (l *Lock) State() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// Stop disconnects the lock.
func (l *Lock) Stop() { l.r.stop() }

// Sensor is a room's temperature sensor: a reading every interval on <home>/<room>/<thing>/temperature.
type Sensor struct{ r *running }

// Reading is what a sensor publishes.
type Reading struct {
	Temperature float64 `json:"temperature"`
	Humidity    int     `json:"humidity"`
}

// StartSensor connects a sensor of room that publishes every interval.
func StartSensor(ctx context.Context, t *target.Target, d *Device, room string, interval time.Duration, o DeviceOptions) *Sensor {
	topic := o.Home + "/" + room + "/" + d.Thing + "/temperature"
	temp := 19 + rand.Float64()*4
	body := func(ctx context.Context, c *client.Conn) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			temp += rand.Float64()*0.4 - 0.2
			b, _ := json.Marshal(Reading{Temperature: float64(int(temp*10)) / 10, Humidity: 40 + rand.IntN(15)})
			ack, err := c.Publish(ctx, client.Message{Topic: topic, Payload: b, QoS: 1})
			if err != nil {
				return err
			}
			if ack.Code >= 0x80 {
				return fmt.Errorf("publish refused (PUBACK 0x%02x)", ack.Code)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.Done():
				return c.Err()
			case <-tick.C:
			}
		}
	}
	return &Sensor{r: run(ctx, t, d, o, func(context.Context, *client.Conn) error { return nil }, body)}
}

// Stop disconnects the sensor.
func (s *Sensor) Stop() { s.r.stop() }

// People who badge at the hall door: the rule of chapter 9 opens for alice and bob.
var People = []string{"alice", "bob", "mallory"}

// Door is the hall door: its state on <home>/hall/<thing>/state every interval, and now and then a badge
// scan on <home>/hall/<thing>/badge.
type Door struct{ r *running }

// StartDoor connects the door.
func StartDoor(ctx context.Context, t *target.Target, d *Device, interval time.Duration, o DeviceOptions) *Door {
	base := o.Home + "/hall/" + d.Thing
	body := func(ctx context.Context, c *client.Conn) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 0; ; n++ {
			msg := client.Message{Topic: base + "/state", Payload: []byte(`{"door": "closed"}`), QoS: 1}
			if n%3 == 2 {
				msg = client.Message{Topic: base + "/badge", Payload: fmt.Appendf(nil, `{"person": %q}`, People[rand.IntN(len(People))]), QoS: 1}
			}
			ack, err := c.Publish(ctx, msg)
			if err != nil {
				return err
			}
			if ack.Code >= 0x80 {
				return fmt.Errorf("publish refused (PUBACK 0x%02x)", ack.Code)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.Done():
				return errors.Join(client.ErrClosed, c.Err())
			case <-tick.C:
			}
		}
	}
	return &Door{r: run(ctx, t, d, o, func(context.Context, *client.Conn) error { return nil }, body)}
}

// Stop disconnects the door.
func (d *Door) Stop() { d.r.stop() }
