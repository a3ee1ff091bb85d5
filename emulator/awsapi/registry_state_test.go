package awsapi

import (
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// regPopulate creates one of every registry resource, with memberships and tags.
func regPopulate(t *testing.T, c *iot.Client) {
	t.Helper()
	calls := []func() error{
		func() error {
			_, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg"), Tags: tagList("cost", "lab")})
			return err
		},
		func() error {
			_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"),
				ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("a sensor"), SearchableAttributes: []string{"room"}},
				Tags:                tagList("k", "v")})
			return err
		},
		func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site"),
				ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"city": "Lyon"}}}})
			return err
		},
		func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("floor1"), ParentGroupName: aws.String("site")})
			return err
		},
		func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("t1"), ThingTypeName: aws.String("sensor"),
				BillingGroupName: aws.String("bg"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "r1"}}})
			return err
		},
		func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("t2")})
			return err
		},
		func() error {
			_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("t1"), ThingGroupName: aws.String("floor1")})
			return err
		},
		func() error {
			_, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor")})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
}

// regSnapshot is the raw JSON of every read operation on the populated registry, keyed by path.
func regSnapshot(t *testing.T, baseURL string) map[string]string {
	t.Helper()
	paths := []string{
		"/things", "/things/t1", "/things/t2", "/things/t1/thing-groups",
		"/thing-types", "/thing-types/sensor",
		"/thing-groups", "/thing-groups/site", "/thing-groups/floor1", "/thing-groups/floor1/things?recursive=true",
		"/billing-groups", "/billing-groups/bg", "/billing-groups/bg/things",
		"/tags?resourceArn=arn:aws:iot:eu-west-1:123456789012:thingtype/sensor",
		"/tags?resourceArn=arn:aws:iot:eu-west-1:123456789012:billinggroup/bg",
	}
	snap := map[string]string{}
	for _, p := range paths {
		resp, err := http.Get(baseURL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", p, resp.Status, b)
		}
		snap[p] = resp.Status + " " + string(b)
	}
	return snap
}

func diffSnapshots(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if g := got[p]; g != w {
			t.Errorf("%s: GET %s\n got %s\nwant %s", what, p, g, w)
		}
	}
}

func TestRegistrySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &regTestClock{t: regEpoch}
	e, stop := newRegEnvAt(t, dir, clock)
	regPopulate(t, e.iotClient())
	before := regSnapshot(t, e.URL)
	stop()

	e2, _ := newRegEnvAt(t, dir, clock)
	diffSnapshots(t, "after restart", regSnapshot(t, e2.URL), before)
}

// TestFailedWriteIsInternalFailure fills the disk under every registry mutation: each answers 500
// InternalFailureException, and neither the live state nor the state on disk changes.
func TestFailedWriteIsInternalFailure(t *testing.T) {
	dir := t.TempDir()
	clock := &regTestClock{t: regEpoch}
	e, stop := newRegEnvAt(t, dir, clock)
	c := e.iotClient()
	regPopulate(t, c)
	before := regSnapshot(t, e.URL)
	s := aws.String
	mutations := []struct {
		name string
		call func() error
	}{
		{"CreateThing", func() error { _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: s("t3")}); return err }},
		{"UpdateThing", func() error {
			_, err := c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: s("t1"), RemoveThingType: true})
			return err
		}},
		{"DeleteThing", func() error { _, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: s("t2")}); return err }},
		{"CreateThingType", func() error {
			_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: s("x")})
			return err
		}},
		{"DeprecateThingType", func() error {
			_, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: s("sensor"), UndoDeprecate: true})
			return err
		}},
		{"CreateThingGroup", func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: s("x")})
			return err
		}},
		{"UpdateThingGroup", func() error {
			_, err := c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: s("site"),
				ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: s("x")}})
			return err
		}},
		{"DeleteThingGroup", func() error {
			_, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: s("floor1")})
			return err
		}},
		{"AddThingToThingGroup", func() error {
			_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: s("t2"), ThingGroupName: s("site")})
			return err
		}},
		{"RemoveThingFromThingGroup", func() error {
			_, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: s("t1"), ThingGroupName: s("floor1")})
			return err
		}},
		{"UpdateThingGroupsForThing", func() error {
			_, err := c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: s("t2"), ThingGroupsToAdd: []string{"site"}})
			return err
		}},
		{"CreateBillingGroup", func() error {
			_, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: s("x")})
			return err
		}},
		{"UpdateBillingGroup", func() error {
			_, err := c.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: s("bg"),
				BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: s("x")}})
			return err
		}},
		{"DeleteBillingGroup", func() error {
			_, err := c.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: s("bg")})
			return err
		}},
		{"AddThingToBillingGroup", func() error {
			_, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: s("t2"), BillingGroupName: s("bg")})
			return err
		}},
		{"RemoveThingFromBillingGroup", func() error {
			_, err := c.RemoveThingFromBillingGroup(ctx, &iot.RemoveThingFromBillingGroupInput{ThingName: s("t1"), BillingGroupName: s("bg")})
			return err
		}},
		{"TagResource", func() error {
			_, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: s("arn:aws:iot:eu-west-1:123456789012:billinggroup/bg"), Tags: tagList("a", "b")})
			return err
		}},
		{"UntagResource", func() error {
			_, err := c.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: s("arn:aws:iot:eu-west-1:123456789012:billinggroup/bg"), TagKeys: []string{"cost"}})
			return err
		}},
	}
	e.Store.FailWrites(syscall.ENOSPC)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			wantAPIError(t, m.call(), "InternalFailureException", 500)
		})
	}
	diffSnapshots(t, "after failed writes", regSnapshot(t, e.URL), before)
	e.Store.FailWrites(nil)
	stop()
	e2, _ := newRegEnvAt(t, dir, clock)
	diffSnapshots(t, "on disk after failed writes", regSnapshot(t, e2.URL), before)
}
