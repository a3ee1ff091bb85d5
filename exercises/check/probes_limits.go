package check

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/client"
	"github.com/iotlab/iotlab/exercises/target"
)

// FailingFunction is the Lambda function name probe 96's rule invokes. No such function exists in an
// AWS account, and a local iotlab has none unless it is given one (`--function
// iotlab-check-fails=false`, as `iotlab check` does for its throwaway instance): either way the
// action fails, as checklist 96 needs.
const FailingFunction = "iotlab-check-fails"

// limitProbes cover quotas, expiry and the items that need time or account-wide settings: checklist
// 37, 38, 46, 55, 60, 79, 90, 92 and 96. Each is scaled down to seconds (short expiry intervals, small
// bursts); the checklist's Behaviour text says how.
func limitProbes() []probe {
	return []probe{
		{n: 37, expected: "200 QoS 1 publishes at once: PUBACK 0x00 for at least 100, 0x97 for the excess; 0x00 again a second later", run: probePublishRate},
		{n: 38, expected: "110 QoS 1 messages to a subscriber that withholds PUBACKs: exactly 100 in flight; all 110 once it acknowledges", run: probeOutboundWindow},
		{n: 46, expected: "session present 0; the queued message not delivered; the subscription gone", run: probeSessionExpired},
		{n: 55, expected: "MEI 1 s message and retained message not delivered 2 s later; MEI 10 s ones delivered with MEI ≤ 8", run: probeMessageExpiry},
		{n: 60, expected: "the QoS 1 message delivered when the persistent member rejoins; the QoS 0 one not", run: probeSharedQueued},
		{n: 79, expected: "30 ListThingTypes at once (10 TPS): HTTP 400 ThrottlingException beyond the quota; 40 GetThingShadow on one thing (20/s per thing): HTTP 429 ThrottlingException",
			needs: exercises.CapAPIThrottle, run: probeThrottling},
		{n: 90, expected: "30 shadow updates back to back on one connection: the first accepted, some update/rejected 429", run: probeShadowInFlight},
		{n: 92, expected: "INFO: Connect, Subscribe, Publish-In, Publish-Out, Disconnect; ERROR: only the Subscribe failure; DISABLED: nothing; CLIENT_ID INFO over DISABLED: that client only",
			localOnly: "it changes the account's logging configuration, and AWS's logs are in CloudWatch", needs: exercises.CapLocalLogs, run: probeLogLevels},
		{n: 96, expected: "one message on the error action's topic: {ruleName, topic, cloudwatchTraceId, clientId, base64OriginalPayload, failures: [{LambdaAction, the function ARN, a message}]}",
			needs: exercises.CapRuleRole, run: probeErrorAction},
	}
}

// pause waits d, or less when ctx ends first (reported false).
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// endSession disconnects an MQTT 5 client with Session Expiry Interval 0, which ends its session
// (checklist 48). A session left behind by a failed probe expires within its 60 s anyway.
func endSession(c *client.Conn) {
	c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, Properties: packets.Properties{SessionExpiryIntervalFlag: true}})
	c.Disconnect()
}

// payloads is the set of distinct payloads c received on topic.
func payloads(c *client.Conn, topic string) map[string]bool {
	got := map[string]bool{}
	for _, m := range c.Received() {
		if m.Topic == topic {
			got[string(m.Payload)] = true
		}
	}
	return got
}

// waitPayloads waits up to d until c has received n distinct payloads on topic, and returns how many
// it has.
func waitPayloads(ctx context.Context, c *client.Conn, topic string, n int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		got := len(payloads(c, topic))
		if got >= n || !time.Now().Before(deadline) || !pause(ctx, 20*time.Millisecond) {
			return got
		}
	}
}

func probePublishRate(ctx context.Context, e *env) (string, exercises.Status) {
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	c, err := e.connected(ctx, d, e.name(37, "dev"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer c.Disconnect()
	// At most 50 unacknowledged, below the broker's Receive Maximum (100): a client must not exceed it.
	const n = 200
	codes := make([]string, n)
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ack, err := c.Publish(ctx, client.Message{Topic: e.topic(37, "t"), Payload: []byte("x"), QoS: 1})
			codes[i] = pubOutcome(ack, err)
		})
	}
	wg.Wait()
	took := time.Since(start)
	tally := map[string]int{}
	for _, s := range codes {
		tally[s]++
	}
	ok, over := tally["PUBACK 0x00"], tally["PUBACK 0x97"]
	pause(ctx, time.Second)
	ack, err := c.Publish(ctx, client.Message{Topic: e.topic(37, "t"), Payload: []byte("later"), QoS: 1})
	obs := fmt.Sprintf("%d publishes in %s: %v; a second later: %s", n, took.Round(time.Millisecond), tally, pubOutcome(ack, err))
	return verdict(ok >= 100 && over > 0 && ok+over == n && err == nil && ack.Code == 0, obs)
}

func probeOutboundWindow(ctx context.Context, e *env) (string, exercises.Status) {
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	t := e.topic(38, "t")
	sub, err := e.connected(ctx, d, e.name(38, "sub"), client.V311, func(o *client.Options) { o.ManualAck = true })
	if err != nil {
		return failed(err)
	}
	defer sub.Disconnect()
	if codes, err := sub.Subscribe(ctx, client.Sub{Filter: t, QoS: 1}); err != nil || codes[0] >= 0x80 {
		return verdict(false, fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
	}
	pub, err := e.connected(ctx, d, e.name(38, "pub"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer pub.Disconnect()
	// 110 messages, one every 10 ms: under 100 publishes per second on either connection, so that
	// AWS's per-connection rate (inbound and outbound) discards none.
	const n = 110
	var wg sync.WaitGroup
	var mu sync.Mutex // guards refused
	var refused []string
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return failed(ctx.Err())
			}
		}
		wg.Go(func() {
			ack, err := pub.Publish(ctx, client.Message{Topic: t, Payload: fmt.Appendf(nil, "m%03d", i), QoS: 1})
			if err != nil || ack.Code != 0 {
				mu.Lock()
				refused = append(refused, pubOutcome(ack, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(refused) > 0 {
		return verdict(false, fmt.Sprintf("the publisher was refused %d times: %s", len(refused), refused[0]))
	}
	waitPayloads(ctx, sub, t, 100, e.t.Wait)
	pause(ctx, e.t.Quiet) // for a 101st that must not come
	held := len(payloads(sub, t))
	acked := map[uint16]bool{}
	for _, m := range sub.Received() {
		if m.QoS == 1 && !acked[m.PacketID] {
			acked[m.PacketID] = true
			sub.Ack(m.PacketID)
		}
	}
	all := waitPayloads(ctx, sub, t, n, e.t.Wait)
	return verdict(held == 100 && all == n, fmt.Sprintf("while unacknowledged: %d delivered; after %d PUBACKs: %d of %d", held, len(acked), all, n))
}

func probeSessionExpired(ctx context.Context, e *env) (string, exercises.Status) {
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	id, t := e.name(46, "dev"), e.topic(46, "t")
	// Session Expiry Interval 1 s instead of the account's hour.
	short := func(o *client.Options) { o.Clean, o.SessionExpiry = false, 1 }
	c, err := e.connected(ctx, d, id, client.V5, short)
	if err != nil {
		return failed(err)
	}
	if codes, err := c.Subscribe(ctx, client.Sub{Filter: t, QoS: 1}); err != nil || codes[0] >= 0x80 {
		c.Disconnect()
		return verdict(false, fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
	}
	c.Disconnect()
	p, err := e.connected(ctx, d, e.name(46, "pub"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer p.Disconnect()
	if ack, err := p.Publish(ctx, client.Message{Topic: t, Payload: []byte("queued"), QoS: 1}); err != nil || ack.Code != 0 {
		return verdict(false, "publish while offline: "+pubOutcome(ack, err))
	}
	pause(ctx, 2*time.Second) // twice the expiry

	c2, ack, err := e.dial(ctx, d, id, client.V5, short)
	if err != nil || ack.Code != 0 {
		return verdict(false, refusal(ack, err))
	}
	defer c2.Disconnect()
	p.Publish(ctx, client.Message{Topic: t, Payload: []byte("after"), QoS: 1})
	_, got := c2.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == t })
	obs := fmt.Sprintf("session present %v; messages on the old subscription's topic received %v", ack.SessionPresent, got)
	if e.t.Kind == target.AWS && ack.SessionPresent {
		// AWS: mqtt.html — a session may persist up to 30 minutes past its expiry, never less.
		return obs + " (AWS ends an expired session up to 30 minutes late)", exercises.NotApplicable
	}
	return verdict(!ack.SessionPresent && !got, obs)
}

func probeMessageExpiry(ctx context.Context, e *env) (string, exercises.Status) {
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	id, t := e.name(55, "sub"), e.topic(55, "t")
	rShort, rLong := e.topic(55, "r-short"), e.topic(55, "r-long")
	persistent := func(o *client.Options) { o.Clean, o.SessionExpiry = false, 60 }
	s, err := e.connected(ctx, d, id, client.V5, persistent)
	if err != nil {
		return failed(err)
	}
	if codes, err := s.Subscribe(ctx, client.Sub{Filter: t, QoS: 1}); err != nil || codes[0] >= 0x80 {
		s.Disconnect()
		return verdict(false, fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
	}
	s.Disconnect()
	p, err := e.connected(ctx, d, e.name(55, "pub"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer p.Disconnect()
	mei := func(s uint32) packets.Properties { return packets.Properties{MessageExpiryInterval: s} }
	for _, m := range []client.Message{
		{Topic: t, Payload: []byte("short"), QoS: 1, Props: mei(1)},
		{Topic: t, Payload: []byte("long"), QoS: 1, Props: mei(10)},
		{Topic: rShort, Payload: []byte("short"), QoS: 1, Retain: true, Props: mei(1)},
		{Topic: rLong, Payload: []byte("long"), QoS: 1, Retain: true, Props: mei(10)},
	} {
		if ack, err := p.Publish(ctx, m); err != nil || ack.Code != 0 {
			return verdict(false, "publish: "+pubOutcome(ack, err))
		}
		if m.Retain {
			e.record(target.Resource{Kind: target.KindRetained, Name: m.Topic})
		}
	}
	pause(ctx, 2200*time.Millisecond)
	s2, ack, err := e.dial(ctx, d, id, client.V5, persistent)
	if err != nil || ack.Code != 0 {
		return verdict(false, refusal(ack, err))
	}
	defer endSession(s2)
	long, gotLong := s2.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return string(m.Payload) == "long" })
	_, gotShort := s2.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return string(m.Payload) == "short" })
	r, err := e.connected(ctx, d, e.name(55, "late"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer r.Disconnect()
	r.Subscribe(ctx, client.Sub{Filter: rShort, QoS: 1}, client.Sub{Filter: rLong, QoS: 1})
	rl, gotRLong := r.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == rLong })
	_, gotRShort := r.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return m.Topic == rShort })
	left := func(m client.Message) uint32 { return m.Props.MessageExpiryInterval }
	obs := fmt.Sprintf("queued: MEI 10 delivered %v (MEI %d), MEI 1 delivered %v; retained: MEI 10 delivered %v (MEI %d), MEI 1 delivered %v",
		gotLong, left(long), gotShort, gotRLong, left(rl), gotRShort)
	counted := func(m client.Message) bool { return left(m) >= 1 && left(m) <= 8 }
	return verdict(gotLong && counted(long) && !gotShort && gotRLong && counted(rl) && !gotRShort, obs)
}

func probeSharedQueued(ctx context.Context, e *env) (string, exercises.Status) {
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	id, t := e.name(60, "member"), e.topic(60, "t")
	persistent := func(o *client.Options) { o.Clean, o.SessionExpiry = false, 60 }
	m, err := e.connected(ctx, d, id, client.V5, persistent)
	if err != nil {
		return failed(err)
	}
	if codes, err := m.Subscribe(ctx, client.Sub{Filter: "$share/g60/" + t, QoS: 1}); err != nil || codes[0] >= 0x80 {
		m.Disconnect()
		return verdict(false, fmt.Sprintf("shared SUBACK % x %v", codes, errText(err)))
	}
	m.Disconnect()
	p, err := e.connected(ctx, d, e.name(60, "pub"), client.V5)
	if err != nil {
		return failed(err)
	}
	defer p.Disconnect()
	if ack, err := p.Publish(ctx, client.Message{Topic: t, Payload: []byte("q1"), QoS: 1}); err != nil || ack.Code != 0 {
		return verdict(false, "QoS 1 publish: "+pubOutcome(ack, err))
	}
	p.Publish(ctx, client.Message{Topic: t, Payload: []byte("q0"), QoS: 0})
	m2, ack, err := e.dial(ctx, d, id, client.V5, persistent)
	if err != nil || ack.Code != 0 {
		return verdict(false, refusal(ack, err))
	}
	defer endSession(m2)
	_, got1 := m2.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return string(m.Payload) == "q1" })
	_, got0 := m2.WaitFor(ctx, e.t.Quiet, func(m client.Message) bool { return string(m.Payload) == "q0" })
	return verdict(got1 && !got0, fmt.Sprintf("session present %v; QoS 1 delivered %v; QoS 0 delivered %v", ack.SessionPresent, got1, got0))
}

// throttled tallies a burst's outcomes: HTTP status of each ThrottlingException, other errors.
type throttled struct {
	mu       sync.Mutex // guards the fields below
	ok       int
	statuses map[int]int
	other    []string
}

func (b *throttled) add(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var re *smithyhttp.ResponseError
	switch {
	case err == nil:
		b.ok++
	case code(err) == "ThrottlingException" && errors.As(err, &re):
		if b.statuses == nil {
			b.statuses = map[int]int{}
		}
		b.statuses[re.HTTPStatusCode()]++
	default:
		b.other = append(b.other, code(err))
	}
}

func (b *throttled) count() int {
	n := 0
	for _, v := range b.statuses {
		n += v
	}
	return n
}

func (b *throttled) String() string {
	s := fmt.Sprintf("%d passed", b.ok)
	for st, n := range b.statuses {
		s += fmt.Sprintf(", %d ThrottlingException HTTP %d", n, st)
	}
	if len(b.other) > 0 {
		s += fmt.Sprintf(", %d other errors (%s)", len(b.other), b.other[0])
	}
	return s
}

// burst makes n calls of f at once.
func burst(n int, f func() error) *throttled {
	b := &throttled{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { b.add(f()) })
	}
	wg.Wait()
	return b
}

func probeThrottling(ctx context.Context, e *env) (string, exercises.Status) {
	thing := e.name(79, "thing")
	if _, err := e.t.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		return failed(err)
	}
	e.record(thingRes(thing))
	if _, err := e.t.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), Payload: []byte(`{"state":{"reported":{"n":1}}}`)}); err != nil {
		return failed(err)
	}
	e.record(target.Resource{Kind: target.KindShadow, Name: thing})
	// The first answer of each call: the SDK must not retry a throttled call away.
	once := func(o *iot.Options) { o.RetryMaxAttempts = 1 }
	onceData := func(o *iotdataplane.Options) { o.RetryMaxAttempts = 1 }
	ctl := burst(30, func() error {
		_, err := e.t.IoT.ListThingTypes(ctx, &iot.ListThingTypesInput{MaxResults: aws.Int32(1)}, once)
		return err
	})
	data := burst(40, func() error {
		_, err := e.t.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)}, onceData)
		return err
	})
	obs := fmt.Sprintf("ListThingTypes: %s; GetThingShadow: %s", ctl, data)
	right := ctl.count() == ctl.statuses[400] && data.count() == data.statuses[429] && len(ctl.other)+len(data.other) == 0
	if e.t.Kind == target.AWS && right && (ctl.count() == 0 || data.count() == 0) {
		// AWS does not document its burst allowance: a burst this small may pass.
		return obs + " (AWS let the burst through: not observed)", exercises.NotApplicable
	}
	return verdict(right && ctl.count() > 0 && data.count() > 0, obs)
}

func probeShadowInFlight(ctx context.Context, e *env) (string, exercises.Status) {
	s, err := e.shadow(ctx, 90)
	if err != nil {
		return failed(err)
	}
	defer s.c.Disconnect()
	const n = 30
	for i := range n {
		// QoS 0, back to back: nothing waits for the broker between them.
		if _, err := s.c.Publish(ctx, client.Message{Topic: s.base + "update", QoS: 0,
			Payload: fmt.Appendf(nil, `{"state":{"reported":{"n":%d}},"clientToken":"p90-%d"}`, i, i)}); err != nil {
			return failed(err)
		}
	}
	answers := func() (accepted, throttled, other int) {
		for _, m := range s.c.Received() {
			switch m.Topic {
			case s.base + "update/accepted":
				accepted++
			case s.base + "update/rejected":
				var doc map[string]any
				json.Unmarshal(m.Payload, &doc)
				if fmt.Sprint(doc["code"]) == "429" {
					throttled++
				} else {
					other++
				}
			}
		}
		return
	}
	deadline := time.Now().Add(e.t.Wait)
	for {
		a, t, o := answers()
		if a+t+o >= n || !time.Now().Before(deadline) || !pause(ctx, 20*time.Millisecond) {
			return verdict(a > 0 && t > 0 && o == 0, fmt.Sprintf("%d requests: %d accepted, %d rejected 429, %d rejected otherwise", n, a, t, o))
		}
	}
}

// logLine is what probe 92 reads of an AWS-format log entry.
type logLine struct {
	ClientID  string `json:"clientId"`
	EventType string `json:"eventType"`
	Status    string `json:"status"`
}

// logged returns the "<eventType> <status>" entries of a client in the target's log file.
func logged(path, clientID string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.ClientID == clientID {
			out = append(out, l.EventType+" "+l.Status)
		}
	}
	return out
}

func probeLogLevels(ctx context.Context, e *env) (string, exercises.Status) {
	prev, err := e.t.IoT.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	var nc *types.NotConfiguredException
	if err != nil && !errors.As(err, &nc) {
		return failed(err)
	}
	set := func(l types.LogLevel) error {
		_, err := e.t.IoT.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(e.t.RuleRoleARN), DefaultLogLevel: l})
		return err
	}
	defer func() {
		// Put the configuration back. AWS cannot unset one: an unconfigured account is left at ERROR,
		// what chapter 7's "turn logging on" would set.
		in := &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(e.t.RuleRoleARN), DefaultLogLevel: types.LogLevelError}
		if prev != nil {
			in = &iot.SetV2LoggingOptionsInput{RoleArn: prev.RoleArn, DefaultLogLevel: prev.DefaultLogLevel, DisableAllLogs: prev.DisableAllLogs}
		}
		e.t.IoT.SetV2LoggingOptions(context.WithoutCancel(ctx), in)
	}()
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	// session connects, subscribes, publishes to itself (Publish-In and Publish-Out), optionally
	// subscribes to a filter the policy refuses (a Subscribe failure), and disconnects. Each on its own
	// topic, so that no other session's message reaches it.
	session := func(id string, failing bool) error {
		t := e.topic(92, id)
		c, err := e.connected(ctx, d, id, client.V311)
		if err != nil {
			return err
		}
		defer c.Disconnect()
		if _, err := c.Subscribe(ctx, client.Sub{Filter: t, QoS: 1}); err != nil {
			return err
		}
		if failing {
			if _, err := c.Subscribe(ctx, client.Sub{Filter: "iotlab-not-allowed/" + id, QoS: 1}); err != nil {
				return err
			}
		}
		if _, err := c.Publish(ctx, client.Message{Topic: t, Payload: []byte(id), QoS: 1}); err != nil {
			return err
		}
		if _, ok := c.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return string(m.Payload) == id }); !ok {
			return fmt.Errorf("%s did not receive its own message", id)
		}
		return nil
	}
	// entries waits until a client's entries include want (or Wait passes), then Quiet more for any
	// that should not come, and returns them sorted.
	entries := func(id string, want []string) []string {
		deadline := time.Now().Add(e.t.Wait)
		for slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(logged(e.t.LogFile, id), w) }) &&
			time.Now().Before(deadline) && pause(ctx, 50*time.Millisecond) {
		}
		pause(ctx, e.t.Quiet)
		got := logged(e.t.LogFile, id)
		slices.Sort(got)
		return got
	}
	sorted := func(s ...string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	all := sorted("Connect Success", "Subscribe Success", "Publish-In Success", "Publish-Out Success", "Disconnect Success")
	var obs []string
	ok := true
	check := func(what, id string, failing bool, want []string) error {
		if err := session(id, failing); err != nil {
			return err
		}
		got := entries(id, want)
		ok = ok && slices.Equal(got, want)
		obs = append(obs, fmt.Sprintf("%s: %v", what, got))
		return nil
	}
	for _, phase := range []struct {
		level   types.LogLevel
		failing bool
		want    []string
	}{
		{types.LogLevelInfo, false, all},
		{types.LogLevelError, true, []string{"Subscribe Failure"}},
		{types.LogLevelDisabled, true, nil},
	} {
		if err := set(phase.level); err != nil {
			return failed(err)
		}
		if err := check(string(phase.level), e.name(92, strings.ToLower(string(phase.level))), phase.failing, phase.want); err != nil {
			return failed(err)
		}
	}
	// Still DISABLED by default; INFO for one client ID.
	chosen := e.name(92, "chosen")
	if _, err := e.t.IoT.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{LogLevel: types.LogLevelInfo,
		LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeClientId, TargetName: aws.String(chosen)}}); err != nil {
		return failed(err)
	}
	defer e.t.IoT.DeleteV2LoggingLevel(context.WithoutCancel(ctx), &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeClientId, TargetName: aws.String(chosen)})
	if err := errors.Join(check("CLIENT_ID INFO, that client", chosen, false, all), check("another", e.name(92, "other"), false, nil)); err != nil {
		return failed(err)
	}
	return verdict(ok, strings.Join(obs, "; "))
}

func probeErrorAction(ctx context.Context, e *env) (string, exercises.Status) {
	name := ruleName(e, 96, "rule")
	in, errTopic := e.topic(96, "in"), e.topic(96, "errors")
	fn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", e.t.Region, e.t.Account, FailingFunction)
	_, err := e.t.IoT.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(name), TopicRulePayload: &types.TopicRulePayload{
		Sql: aws.String(fmt.Sprintf("SELECT * FROM '%s'", in)), AwsIotSqlVersion: aws.String("2016-03-23"),
		Actions:     []types.Action{{Lambda: &types.LambdaAction{FunctionArn: aws.String(fn)}}},
		ErrorAction: &types.Action{Republish: &types.RepublishAction{Topic: aws.String(errTopic), RoleArn: aws.String(e.t.RuleRoleARN), Qos: aws.Int32(1)}}}})
	if err != nil {
		return failed(err)
	}
	e.record(target.Resource{Kind: target.KindRule, Name: name})
	d, err := e.open(ctx)
	if err != nil {
		return failed(err)
	}
	id := e.name(96, "dev")
	c, err := e.connected(ctx, d, id, client.V311)
	if err != nil {
		return failed(err)
	}
	defer c.Disconnect()
	if codes, err := c.Subscribe(ctx, client.Sub{Filter: errTopic, QoS: 1}); err != nil || codes[0] >= 0x80 {
		return verdict(false, fmt.Sprintf("SUBACK % x %v", codes, errText(err)))
	}
	payload := `{"door":"open"}`
	if ack, err := c.Publish(ctx, client.Message{Topic: in, Payload: []byte(payload), QoS: 1}); err != nil || ack.Code != 0 {
		return verdict(false, "publish: "+pubOutcome(ack, err))
	}
	m, got := c.WaitFor(ctx, e.t.Wait, func(m client.Message) bool { return m.Topic == errTopic })
	if !got {
		return "nothing on the error action's topic", exercises.Fail
	}
	pause(ctx, e.t.Quiet)
	n := 0
	for _, r := range c.Received() {
		if r.Topic == errTopic {
			n++
		}
	}
	var doc struct {
		RuleName              string  `json:"ruleName"`
		Topic                 string  `json:"topic"`
		CloudwatchTraceID     *string `json:"cloudwatchTraceId"`
		ClientID              string  `json:"clientId"`
		Base64OriginalPayload string  `json:"base64OriginalPayload"`
		Failures              []struct {
			FailedAction, FailedResource, ErrorMessage string
		} `json:"failures"`
	}
	if err := json.Unmarshal(m.Payload, &doc); err != nil {
		return verdict(false, fmt.Sprintf("error document is not JSON: %q", m.Payload))
	}
	orig, _ := base64.StdEncoding.DecodeString(doc.Base64OriginalPayload)
	obs := fmt.Sprintf("%d message(s); ruleName %s, topic ok %v, clientId ok %v, payload ok %v, cloudwatchTraceId present %v, failures %+v",
		n, doc.RuleName, doc.Topic == in, doc.ClientID == id, string(orig) == payload, doc.CloudwatchTraceID != nil, doc.Failures)
	ok := n == 1 && doc.RuleName == name && doc.Topic == in && doc.ClientID == id && string(orig) == payload && doc.CloudwatchTraceID != nil &&
		len(doc.Failures) == 1 && doc.Failures[0].FailedAction == "LambdaAction" && doc.Failures[0].FailedResource == fn && doc.Failures[0].ErrorMessage != ""
	return verdict(ok, obs)
}
