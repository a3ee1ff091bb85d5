package awsapi

import (
	"sync"
	"time"

	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

// API throttling (Config.Throttle, `--api-throttle`). AWS IoT answers the calls beyond each API's
// transactions-per-second quota with ThrottlingException: HTTP 400 on the control plane (signing name
// iot), 429 on iot-data. The status comes from awserr's catalogue, per signing name, as for every
// error. It is off by default, a deliberate deviation: a learner's script or a test suite on a laptop
// should not wait out quotas meant to share a region among customers. Switched on, the SDKs' retry
// and backoff logic meets what it meets on AWS.
//
// Each account, region and operation has its own token bucket (each thing, for the shadow operations,
// whose quota AWS states per thing): it holds one second of the quota and refills continuously, so a
// burst of the quota passes and the steady rate is the quota. AWS documents the rates, not its burst
// allowance; one second's worth is iotlab's choice.

// throttleMessage is what AWS IoT answers a throttled call with.
const throttleMessage = "Rate exceeded"

// defaultTPS is iotlab's quota for the operations AWS publishes no figure for (DescribeEndpoint,
// CreateKeysAndCertificate, the topic-rule and logging operations, iot-data's retained-message reads…):
// 10 TPS, the most common value in AWS's tables (ListThings, CreatePolicy, UpdateCertificate…).
const defaultTPS = 10

// controlTPS are the control plane's (signing name iot) quotas, in transactions per second.
//
// AWS: GR:iot-core#throttling-limits (https://docs.aws.amazon.com/general/latest/gr/iot-core.html),
// where the registry operations' figures are the Service Quotas defaults of service code iotcore
// (quota code in the comment: `aws service-quotas get-aws-default-service-quota --service-code iotcore
// --quota-code L-…` shows the current value). The policy and certificate operations have no Service
// Quotas entry with a value; theirs come from the legacy "AWS IoT Throttling Limits" table
// (https://docs.aws.amazon.com/iot/latest/developerguide/limits-iot.html; research §10.5).
var controlTPS = map[string]float64{
	// Things. Service Quotas, iotcore.
	"CreateThing":             100, // L-64CBACAC
	"DescribeThing":           350, // L-0EF0F5EE
	"UpdateThing":             100, // L-211F680E
	"DeleteThing":             100, // L-889800F7
	"ListThings":              10,  // L-57AAC135
	"AttachThingPrincipal":    100, // L-F64D1AA6
	"DetachThingPrincipal":    100, // L-B5EE4A16
	"ListThingPrincipals":     10,  // L-FC3EF4D9
	"ListPrincipalThings":     10,  // L-C481616A
	"ListThingGroupsForThing": 100, // L-75F129AD
	// Thing types.
	"CreateThingType":    15,  // L-8650816F
	"DescribeThingType":  100, // L-DDCF8E97
	"DeprecateThingType": 15,  // L-7F1DBFAE
	"DeleteThingType":    15,  // L-CFBDB489
	"ListThingTypes":     10,  // L-F9EBF527
	// Thing groups.
	"CreateThingGroup":          25,  // L-512F449C
	"DescribeThingGroup":        100, // L-52E1E197
	"UpdateThingGroup":          15,  // L-5D84F9FE
	"DeleteThingGroup":          15,  // L-FCAB1AF4
	"ListThingGroups":           10,  // L-1E5260D6
	"AddThingToThingGroup":      100, // L-2904683A
	"RemoveThingFromThingGroup": 100, // L-2A81A394
	"ListThingsInThingGroup":    25,  // L-D33FD5F9
	"CreateDynamicThingGroup":   5,   // L-7E0F5745
	"UpdateDynamicThingGroup":   5,   // L-E06BBD5F
	"DeleteDynamicThingGroup":   5,   // L-9DF61146
	// Billing groups.
	"CreateBillingGroup":          25,  // L-F2D09BC8
	"DescribeBillingGroup":        100, // L-23DF46E7
	"UpdateBillingGroup":          15,  // L-88CA286A
	"DeleteBillingGroup":          15,  // L-6C20C764
	"ListBillingGroups":           10,  // L-BB923BC2
	"AddThingToBillingGroup":      60,  // L-1F4BE39E
	"RemoveThingFromBillingGroup": 15,  // L-FAF5733F
	"ListThingsInBillingGroup":    25,  // L-E8797DCC
	// Tags.
	"TagResource":         10, // L-06E76376
	"UntagResource":       10, // L-8996ACA8
	"ListTagsForResource": 10, // L-D127B7BE
	// Policies and certificates: the legacy throttling table.
	"AttachPolicy":             15,
	"CreatePolicy":             10,
	"CreatePolicyVersion":      10,
	"CreateCertificateFromCsr": 15,
	"RegisterCertificate":      10,
	"UpdateCertificate":        10,
	"GetEffectivePolicies":     50,
	"TestAuthorization":        10,
}

// shadowTPS is the Device Shadow service's quota: requests per second per thing, every shadow of the
// thing and every operation together. AWS: limits-iot.html, Device Shadow limits ("Requests per
// second per thing: 20"; research §10.2)
const shadowTPS = 20

// shadowOps are the iot-data operations on a thing's shadows.
var shadowOps = map[string]bool{"GetThingShadow": true, "UpdateThingShadow": true, "DeleteThingShadow": true, "ListNamedShadowsForThing": true}

// dataTPS are iot-data's other quotas. AWS: limits-iot.html, message broker limits ("Inbound publish
// requests per second per account: 20,000"; an HTTP Publish is an inbound publish; research §10.1)
var dataTPS = map[string]float64{
	"Publish": 20000,
}

// quota returns the TPS quota of an operation of a service (signing name), and the thing whose
// bucket it draws from ("" for the account's).
func quota(service, op string, labels map[string]string) (tps float64, thing string) {
	if service == "iotdata" {
		if shadowOps[op] {
			return shadowTPS, labels["thingName"]
		}
		if v, ok := dataTPS[op]; ok {
			return v, ""
		}
		return defaultTPS, ""
	}
	if v, ok := controlTPS[op]; ok {
		return v, ""
	}
	return defaultTPS, ""
}

// throttle holds the token buckets.
type throttle struct {
	now func() time.Time

	mu      sync.Mutex // guards buckets
	buckets map[throttleKey]*tokenBucket
}

type throttleKey struct {
	account, region, service, op, thing string
}

// tokenBucket holds up to one second of its quota; it refills continuously.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the map: past it, the buckets that are full again (idle for a second or more,
// indistinguishable from new ones) are forgotten. The per-thing buckets make the key space open.
const maxBuckets = 4096

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, buckets: map[throttleKey]*tokenBucket{}}
}

// check takes a token for a call, or answers the ThrottlingException AWS answers.
func (t *throttle) check(sc registry.Scope, service, op string, labels map[string]string) error {
	tps, thing := quota(service, op, labels)
	if t.take(throttleKey{sc.Account, sc.Region, service, op, thing}, tps) {
		return nil
	}
	return awserr.New(awserr.Throttling, throttleMessage)
}

func (t *throttle) take(k throttleKey, tps float64) bool {
	if k.thing != "" {
		k.op = "shadow" // one bucket per thing for all its shadow requests
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[k]
	if b == nil {
		if len(t.buckets) >= maxBuckets {
			t.forgetIdle(now)
		}
		b = &tokenBucket{tokens: tps, last: now}
		t.buckets[k] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(tps, b.tokens+el.Seconds()*tps)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetIdle drops the buckets idle for a second or more (full again); t.mu is held.
func (t *throttle) forgetIdle(now time.Time) {
	for k, b := range t.buckets {
		if now.Sub(b.last) >= time.Second {
			delete(t.buckets, k)
		}
	}
}
