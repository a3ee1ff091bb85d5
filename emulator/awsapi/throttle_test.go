package awsapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	datatypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func withThrottle(c *Config) { c.Throttle = true }

// status is the HTTP status of an SDK error (0 when there was no response).
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// burst calls f n times and returns how many calls passed before the first error, and that error.
func burst(n int, f func() error) (passed int, first error) {
	for range n {
		if err := f(); err != nil {
			return passed, err
		}
		passed++
	}
	return passed, nil
}

// TestThrottleControlPlane: with Config.Throttle, the 11th ListThings within a second (quota 10 TPS)
// is answered 400 ThrottlingException, which aws-sdk-go-v2 (retries off) returns as its modelled
// *types.ThrottlingException; the bucket refills at the quota's rate; other operations, and other
// regions, have their own buckets.
func TestThrottleControlPlane(t *testing.T) {
	e := newDataEnv(t, withThrottle)
	c := e.iotClient()
	list := func() error { _, err := c.ListThings(ctx, &iot.ListThingsInput{}); return err }
	passed, err := burst(20, list)
	var te *iottypes.ThrottlingException
	if passed != 10 || !errors.As(err, &te) || status(err) != http.StatusBadRequest {
		t.Fatalf("ListThings burst: %d passed, then %v (HTTP %d); want 10, then ThrottlingException (HTTP 400)", passed, err, status(err))
	}
	if te.ErrorMessage() != throttleMessage {
		t.Errorf("message %q, want %q", te.ErrorMessage(), throttleMessage)
	}
	if _, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{}); err != nil {
		t.Errorf("DescribeEndpoint after ListThings was throttled: %v (each operation has its own bucket)", err)
	}
	other := iot.NewFromConfig(e.awsConfig(), func(o *iot.Options) { o.Region = "us-east-1" })
	if _, err := other.ListThings(ctx, &iot.ListThingsInput{}); err != nil {
		t.Errorf("ListThings in us-east-1: %v (each region has its own bucket)", err)
	}
	e.Clock.Advance(200 * time.Millisecond) // 2 tokens at 10 TPS
	if passed, err := burst(5, list); passed != 2 || status(err) != http.StatusBadRequest {
		t.Errorf("200 ms later: %d passed, then %v; want 2, then throttled", passed, err)
	}
	e.Clock.Advance(time.Hour) // refills to the quota, not beyond
	if passed, _ := burst(20, list); passed != 10 {
		t.Errorf("an hour later: %d passed, want 10 (one second of burst)", passed)
	}
	// A documented figure: DescribeThing 350 TPS.
	if passed, err := burst(400, func() error {
		_, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("missing")})
		if status(err) == http.StatusNotFound {
			return nil
		}
		return err
	}); passed != 350 || status(err) != http.StatusBadRequest {
		t.Errorf("DescribeThing: %d passed, then %v; want 350", passed, err)
	}
}

// TestThrottleDataPlane: iot-data answers a throttled call with 429 ThrottlingException; the shadow
// operations share one bucket per thing (20 requests per second per thing).
func TestThrottleDataPlane(t *testing.T) {
	e := newDataEnv(t, withThrottle)
	d := e.data()
	if _, err := d.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("lamp"), Payload: []byte(`{"state":{"reported":{"on":true}}}`)}); err != nil {
		t.Fatal(err)
	}
	get := func(thing string) func() error {
		return func() error {
			_, err := d.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
			if thing != "lamp" && status(err) == http.StatusNotFound {
				return nil
			}
			return err
		}
	}
	passed, err := burst(30, get("lamp"))
	var te *datatypes.ThrottlingException
	if passed != 19 || !errors.As(err, &te) || status(err) != http.StatusTooManyRequests {
		t.Fatalf("GetThingShadow burst: %d passed after one update, then %v (HTTP %d); want 19, then ThrottlingException (HTTP 429)", passed, err, status(err))
	}
	if passed, err := burst(20, get("fan")); passed != 20 {
		t.Errorf("another thing: %d passed, then %v; want its own 20", passed, err)
	}
	if _, err := d.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{}); err != nil {
		t.Errorf("ListRetainedMessages: %v", err)
	}
}

// TestThrottleOffByDefault: without Config.Throttle nothing is throttled.
func TestThrottleOffByDefault(t *testing.T) {
	e := newDataEnv(t)
	c := e.iotClient()
	if passed, err := burst(50, func() error { _, err := c.ListThings(ctx, &iot.ListThingsInput{}); return err }); passed != 50 {
		t.Fatalf("%d ListThings passed, then %v; want all 50", passed, err)
	}
}

// TestThrottleQuotas: the table's figures as AWS publishes them, and the default for the rest.
func TestThrottleQuotas(t *testing.T) {
	for _, c := range []struct {
		service, op string
		want        float64
		perThing    bool
	}{
		{"iot", "CreateThing", 100, false},
		{"iot", "ListThings", 10, false},
		{"iot", "DescribeThing", 350, false},
		{"iot", "CreatePolicy", 10, false},
		{"iot", "AttachPolicy", 15, false},
		{"iot", "CreateDynamicThingGroup", 5, false},
		{"iot", "DescribeEndpoint", defaultTPS, false},
		{"iotdata", "GetThingShadow", 20, true},
		{"iotdata", "ListNamedShadowsForThing", 20, true},
		{"iotdata", "Publish", 20000, false},
		{"iotdata", "GetRetainedMessage", defaultTPS, false},
	} {
		t.Run(c.service+"."+c.op, func(t *testing.T) {
			got, thing := quota(c.service, c.op, map[string]string{"thingName": "lamp"})
			if got != c.want || (thing != "") != c.perThing {
				t.Errorf("quota: got %v TPS (thing %q), want %v (per thing %v)", got, thing, c.want, c.perThing)
			}
		})
	}
}

// TestThrottleForgetsIdleBuckets: the per-thing buckets do not accumulate without bound.
func TestThrottleForgetsIdleBuckets(t *testing.T) {
	clock := &regTestClock{t: regEpoch}
	th := newThrottle(clock.Now)
	for i := range maxBuckets {
		th.take(throttleKey{thing: fmt.Sprint("t", i)}, shadowTPS)
	}
	clock.Advance(time.Second)
	th.take(throttleKey{thing: "new"}, shadowTPS)
	if n := len(th.buckets); n != 1 {
		t.Fatalf("%d buckets after a second idle, want 1", n)
	}
}

// TestThrottleBoto3 runs testdata/throttle_boto3.py: boto3 (retries off) raises the modelled
// ThrottlingException, with HTTP 400 from iot and 429 from iot-data.
func TestThrottleBoto3(t *testing.T) {
	t.Parallel()
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 with boto3 is not available: %v", err)
	}
	e := newDataEnv(t, withThrottle)
	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	out := runTool(t, env, "python3", "testdata/throttle_boto3.py")
	if got := string(bytes.TrimSpace(out)); got != "ok" {
		t.Fatalf("throttle_boto3.py printed %q, want ok", got)
	}
}
