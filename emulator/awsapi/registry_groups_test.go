package awsapi

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// makeGroups creates thing groups given as name → parent ("" for a root), parents first.
func makeGroups(t *testing.T, c *iot.Client, groups ...[2]string) {
	t.Helper()
	for _, g := range groups {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g[0])}
		if g[1] != "" {
			in.ParentGroupName = aws.String(g[1])
		}
		if _, err := c.CreateThingGroup(ctx, in); err != nil {
			t.Fatalf("create %s: %v", g[0], err)
		}
	}
}

func makeThings(t *testing.T, c *iot.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
}

func groupNames(gs []types.GroupNameAndArn) []string {
	var out []string
	for _, g := range gs {
		out = append(out, aws.ToString(g.GroupName))
	}
	return out
}

func TestThingGroupLifecycle(t *testing.T) {
	e, clock := newRegEnv(t)
	c := e.iotClient()
	props := &types.ThingGroupProperties{ThingGroupDescription: aws.String("all bulbs"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"brightness": "3400_lumens"}}}
	created, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("LightBulbs"), ThingGroupProperties: props})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(created.ThingGroupArn), "arn:aws:iot:eu-west-1:123456789012:thinggroup/LightBulbs"; got != want {
		t.Fatalf("thingGroupArn: got %s, want %s", got, want)
	}
	again, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("LightBulbs"), ThingGroupProperties: props})
	if err != nil || aws.ToString(again.ThingGroupId) != aws.ToString(created.ThingGroupId) {
		t.Fatalf("identical CreateThingGroup: got %v %v, want the same id", again, err)
	}
	_, err = c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("LightBulbs")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", 409)
	wantErrMessage(t, err, "Thing Group LightBulbs already exists in current account with different properties")

	clock.Advance(time.Second)
	makeGroups(t, c, [2]string{"RedLights", "LightBulbs"}, [2]string{"RedLEDLights", "RedLights"})
	d, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("RedLEDLights")})
	if err != nil {
		t.Fatal(err)
	}
	md := d.ThingGroupMetadata
	if aws.ToString(md.ParentGroupName) != "RedLights" || !slices.Equal(groupNames(md.RootToParentThingGroups), []string{"LightBulbs", "RedLights"}) ||
		aws.ToString(md.RootToParentThingGroups[0].GroupArn) != "arn:aws:iot:eu-west-1:123456789012:thinggroup/LightBulbs" ||
		!aws.ToTime(md.CreationDate).Equal(regEpoch.Add(time.Second)) || d.Version != 1 {
		t.Fatalf("describe: got version %d metadata %+v", d.Version, md)
	}
	d, _ = c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("LightBulbs")})
	if aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "all bulbs" ||
		d.ThingGroupProperties.AttributePayload.Attributes["brightness"] != "3400_lumens" || d.ThingGroupMetadata.ParentGroupName != nil {
		t.Fatalf("describe root: got %+v %+v", d.ThingGroupProperties, d.ThingGroupMetadata)
	}

	// UpdateThingGroup
	_, err = c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("LightBulbs"), ExpectedVersion: aws.Int64(3),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("x")}})
	wantAPIError(t, err, "VersionConflictException", 409)
	up, err := c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("LightBulbs"), ExpectedVersion: aws.Int64(1),
		ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{
			Attributes: map[string]string{"owner": "150"}, Merge: true}}})
	if err != nil || up.Version != 2 {
		t.Fatalf("UpdateThingGroup: got %v %v, want version 2", up, err)
	}
	d, _ = c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("LightBulbs")})
	if got := d.ThingGroupProperties.AttributePayload.Attributes; len(got) != 2 || got["owner"] != "150" || d.Version != 2 ||
		aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "all bulbs" {
		t.Fatalf("after update: got %v version %d", d.ThingGroupProperties, d.Version)
	}
	_, err = c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("nope"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantAPIError(t, err, "ResourceNotFoundException", 404)

	// DeleteThingGroup
	_, err = c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("RedLights")})
	wantAPIError(t, err, "InvalidRequestException", 400)
	wantErrMessage(t, err, "Cannot delete thing group : RedLights when there are still child groups attached to it.")
	_, err = c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("RedLEDLights"), ExpectedVersion: aws.Int64(9)})
	wantAPIError(t, err, "VersionConflictException", 409)
	for _, g := range []string{"RedLEDLights", "RedLights", "nope"} {
		if _, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(g)}); err != nil {
			t.Fatalf("delete %s: %v", g, err)
		}
	}
	_, err = c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("RedLights")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
}

func TestThingGroupValidation(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	makeGroups(t, c, [2]string{"d1", ""}, [2]string{"d2", "d1"}, [2]string{"d3", "d2"}, [2]string{"d4", "d3"},
		[2]string{"d5", "d4"}, [2]string{"d6", "d5"}, [2]string{"d7", "d6"})
	attrs := map[string]string{}
	for i := range 51 {
		attrs[fmt.Sprintf("a%d", i)] = "v"
	}
	tests := []struct {
		name       string
		in         iot.CreateThingGroupInput
		wantCode   string
		wantStatus int
	}{
		{"depth 8", iot.CreateThingGroupInput{ThingGroupName: aws.String("d8"), ParentGroupName: aws.String("d7")}, "InvalidRequestException", 400},
		{"unknown parent", iot.CreateThingGroupInput{ThingGroupName: aws.String("x"), ParentGroupName: aws.String("nope")}, "ResourceNotFoundException", 404},
		{"51 attributes", iot.CreateThingGroupInput{ThingGroupName: aws.String("x"), ThingGroupProperties: &types.ThingGroupProperties{
			AttributePayload: &types.AttributePayload{Attributes: attrs}}}, "InvalidRequestException", 400},
		{"name with a slash", iot.CreateThingGroupInput{ThingGroupName: aws.String("a/b")}, "InvalidRequestException", 400},
		{"other parent than the existing group's", iot.CreateThingGroupInput{ThingGroupName: aws.String("d2")}, "ResourceAlreadyExistsException", 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateThingGroup(ctx, &tt.in)
			wantAPIError(t, err, tt.wantCode, tt.wantStatus)
		})
	}
}

func TestListThingGroups(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	makeGroups(t, c, [2]string{"LightBulbs", ""}, [2]string{"RedLights", "LightBulbs"}, [2]string{"RedLEDLights", "RedLights"},
		[2]string{"BlueLights", "LightBulbs"}, [2]string{"Replaceable", ""})
	tests := []struct {
		name string
		in   iot.ListThingGroupsInput
		want []string
	}{
		{"all", iot.ListThingGroupsInput{}, []string{"BlueLights", "LightBulbs", "RedLEDLights", "RedLights", "Replaceable"}},
		{"roots only", iot.ListThingGroupsInput{Recursive: aws.Bool(false)}, []string{"LightBulbs", "Replaceable"}},
		{"children", iot.ListThingGroupsInput{ParentGroup: aws.String("LightBulbs")}, []string{"BlueLights", "RedLights"}},
		{"descendants", iot.ListThingGroupsInput{ParentGroup: aws.String("LightBulbs"), Recursive: aws.Bool(true)},
			[]string{"BlueLights", "RedLEDLights", "RedLights"}},
		{"name prefix", iot.ListThingGroupsInput{NamePrefixFilter: aws.String("Red")}, []string{"RedLEDLights", "RedLights"}},
		{"children with a prefix", iot.ListThingGroupsInput{ParentGroup: aws.String("LightBulbs"), NamePrefixFilter: aws.String("Blue")},
			[]string{"BlueLights"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.ListThingGroups(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := groupNames(out.ThingGroups); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	_, err := c.ListThingGroups(ctx, &iot.ListThingGroupsInput{ParentGroup: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	p := iot.NewListThingGroupsPaginator(c, &iot.ListThingGroupsInput{MaxResults: aws.Int32(2)})
	var all []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, groupNames(out.ThingGroups)...)
	}
	if len(all) != 5 {
		t.Fatalf("paging: got %v, want 5 groups", all)
	}
}

func TestThingGroupMembership(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	makeGroups(t, c, [2]string{"LightBulbs", ""}, [2]string{"RedLights", "LightBulbs"}, [2]string{"BlueLights", "LightBulbs"})
	var roots [][2]string
	for i := range 10 {
		roots = append(roots, [2]string{fmt.Sprintf("r%d", i), ""})
	}
	makeGroups(t, c, roots...)
	makeThings(t, c, "bulb", "other")

	add := func(in iot.AddThingToThingGroupInput) error { _, err := c.AddThingToThingGroup(ctx, &in); return err }
	steps := []struct {
		name       string
		in         iot.AddThingToThingGroupInput
		wantCode   string
		wantStatus int
	}{
		{"by names", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("RedLights")}, "", 0},
		{"again", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("RedLights")}, "", 0},
		{"by ARNs", iot.AddThingToThingGroupInput{ThingArn: aws.String("arn:aws:iot:eu-west-1:123456789012:thing/other"),
			ThingGroupArn: aws.String("arn:aws:iot:eu-west-1:123456789012:thinggroup/BlueLights"), OverrideDynamicGroups: true}, "", 0},
		{"sibling in the same hierarchy", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("BlueLights")},
			"InvalidRequestException", 400},
		{"parent in the same hierarchy", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("LightBulbs")},
			"InvalidRequestException", 400},
		{"unknown group", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("nope")},
			"ResourceNotFoundException", 404},
		{"unknown thing", iot.AddThingToThingGroupInput{ThingName: aws.String("nope"), ThingGroupName: aws.String("r0")},
			"ResourceNotFoundException", 404},
		{"group ARN of another region", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"),
			ThingGroupArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/r0")}, "ResourceNotFoundException", 404},
		{"no group", iot.AddThingToThingGroupInput{ThingName: aws.String("bulb")}, "InvalidRequestException", 400},
		{"no thing", iot.AddThingToThingGroupInput{ThingGroupName: aws.String("r0")}, "InvalidRequestException", 400},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := add(st.in)
			if st.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantAPIError(t, err, st.wantCode, st.wantStatus)
		})
	}
	t.Run("an 11th group", func(t *testing.T) {
		for i := range 9 {
			if err := add(iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String(fmt.Sprintf("r%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		err := add(iot.AddThingToThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("r9")})
		wantAPIError(t, err, "InvalidRequestException", 400)
	})
	t.Run("groups for thing, with parents", func(t *testing.T) {
		out, err := c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("other")})
		if err != nil {
			t.Fatal(err)
		}
		if got := groupNames(out.ThingGroups); !slices.Equal(got, []string{"BlueLights", "LightBulbs"}) {
			t.Fatalf("got %v, want [BlueLights LightBulbs]", got)
		}
		_, err = c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("things in group", func(t *testing.T) {
		tests := []struct {
			group     string
			recursive bool
			want      []string
		}{
			{"LightBulbs", false, nil},
			{"LightBulbs", true, []string{"bulb", "other"}},
			{"RedLights", false, []string{"bulb"}},
		}
		for _, tt := range tests {
			out, err := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(tt.group), Recursive: tt.recursive})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Things, tt.want) {
				t.Fatalf("%s recursive=%v: got %v, want %v", tt.group, tt.recursive, out.Things, tt.want)
			}
		}
		_, err := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("remove", func(t *testing.T) {
		for range 2 { // removing twice is no error
			if _, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("bulb"),
				ThingGroupArn: aws.String("arn:aws:iot:eu-west-1:123456789012:thinggroup/RedLights")}); err != nil {
				t.Fatal(err)
			}
		}
		out, _ := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("RedLights")})
		if len(out.Things) != 0 {
			t.Fatalf("got %v, want none", out.Things)
		}
		_, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("bulb"), ThingGroupName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("UpdateThingGroupsForThing", func(t *testing.T) {
		_, err := c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("other"),
			ThingGroupsToAdd: []string{"RedLights", "r0"}, ThingGroupsToRemove: []string{"BlueLights"}})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("other")})
		if got := groupNames(out.ThingGroups); !slices.Equal(got, []string{"LightBulbs", "RedLights", "r0"}) {
			t.Fatalf("got %v, want [LightBulbs RedLights r0]", got)
		}
		_, err = c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("other"),
			ThingGroupsToAdd: []string{"BlueLights"}})
		wantAPIError(t, err, "InvalidRequestException", 400)
		_, err = c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("other"),
			ThingGroupsToAdd: []string{"nope"}})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
}

func TestBillingGroups(t *testing.T) {
	e, clock := newRegEnv(t)
	c := e.iotClient()
	created, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("lab"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("the lab")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(created.BillingGroupArn), "arn:aws:iot:eu-west-1:123456789012:billinggroup/lab"; got != want {
		t.Fatalf("billingGroupArn: got %s, want %s", got, want)
	}
	again, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("lab"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("the lab")}})
	if err != nil || aws.ToString(again.BillingGroupId) != aws.ToString(created.BillingGroupId) {
		t.Fatalf("identical CreateBillingGroup: got %v %v", again, err)
	}
	_, err = c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("lab")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", 409)
	clock.Advance(time.Hour)
	if _, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("field")}); err != nil {
		t.Fatal(err)
	}

	d, err := c.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("lab")})
	if err != nil || d.Version != 1 || aws.ToString(d.BillingGroupProperties.BillingGroupDescription) != "the lab" ||
		!aws.ToTime(d.BillingGroupMetadata.CreationDate).Equal(regEpoch) {
		t.Fatalf("describe: got %+v %v", d, err)
	}
	_, err = c.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("lab"), ExpectedVersion: aws.Int64(2),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("x")}})
	wantAPIError(t, err, "VersionConflictException", 409)
	up, err := c.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("lab"), ExpectedVersion: aws.Int64(1),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("the big lab")}})
	if err != nil || up.Version != 2 {
		t.Fatalf("update: got %v %v, want version 2", up, err)
	}

	list, err := c.ListBillingGroups(ctx, &iot.ListBillingGroupsInput{})
	if err != nil || !slices.Equal(groupNames(list.BillingGroups), []string{"field", "lab"}) {
		t.Fatalf("list: got %v %v", list, err)
	}
	list, _ = c.ListBillingGroups(ctx, &iot.ListBillingGroupsInput{NamePrefixFilter: aws.String("fi")})
	if !slices.Equal(groupNames(list.BillingGroups), []string{"field"}) {
		t.Fatalf("list with prefix: got %v", groupNames(list.BillingGroups))
	}

	makeThings(t, c, "t1", "t2")
	billingOf := func(thing string) string {
		d, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(d.BillingGroupName)
	}
	if _, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String("t1"), BillingGroupName: aws.String("lab")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingArn: aws.String("arn:aws:iot:eu-west-1:123456789012:thing/t2"),
		BillingGroupArn: aws.String("arn:aws:iot:eu-west-1:123456789012:billinggroup/lab")}); err != nil {
		t.Fatal(err)
	}
	things, _ := c.ListThingsInBillingGroup(ctx, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String("lab")})
	if !slices.Equal(things.Things, []string{"t1", "t2"}) || billingOf("t1") != "lab" {
		t.Fatalf("after adding: got %v and t1 in %q", things.Things, billingOf("t1"))
	}
	// A thing has one billing group: adding it to another moves it.
	if _, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String("t2"), BillingGroupName: aws.String("field")}); err != nil {
		t.Fatal(err)
	}
	if got := billingOf("t2"); got != "field" {
		t.Fatalf("after moving: t2 in %q, want field", got)
	}
	// Removing from a group the thing isn't in changes nothing.
	if _, err := c.RemoveThingFromBillingGroup(ctx, &iot.RemoveThingFromBillingGroupInput{ThingName: aws.String("t2"), BillingGroupName: aws.String("lab")}); err != nil {
		t.Fatal(err)
	}
	if got := billingOf("t2"); got != "field" {
		t.Fatalf("after a no-op remove: t2 in %q, want field", got)
	}
	if _, err := c.RemoveThingFromBillingGroup(ctx, &iot.RemoveThingFromBillingGroupInput{ThingName: aws.String("t2"), BillingGroupName: aws.String("field")}); err != nil {
		t.Fatal(err)
	}
	if got := billingOf("t2"); got != "" {
		t.Fatalf("after removing: t2 in %q, want none", got)
	}

	errs := []struct {
		name       string
		call       func() error
		wantCode   string
		wantStatus int
	}{
		{"add to an unknown group", func() error {
			_, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String("t1"), BillingGroupName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", 404},
		{"add an unknown thing", func() error {
			_, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String("nope"), BillingGroupName: aws.String("lab")})
			return err
		}, "ResourceNotFoundException", 404},
		{"add without a group", func() error {
			_, err := c.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{ThingName: aws.String("t1")})
			return err
		}, "InvalidRequestException", 400},
		{"describe an unknown group", func() error {
			_, err := c.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", 404},
		{"update an unknown group", func() error {
			_, err := c.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("nope"),
				BillingGroupProperties: &types.BillingGroupProperties{}})
			return err
		}, "ResourceNotFoundException", 404},
		{"list things of an unknown group", func() error {
			_, err := c.ListThingsInBillingGroup(ctx, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", 404},
		{"delete with a stale version", func() error {
			_, err := c.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("lab"), ExpectedVersion: aws.Int64(1)})
			return err
		}, "VersionConflictException", 409},
		{"name with a slash", func() error {
			_, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("a/b")})
			return err
		}, "InvalidRequestException", 400},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) { wantAPIError(t, tt.call(), tt.wantCode, tt.wantStatus) })
	}

	if _, err := c.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("lab"), ExpectedVersion: aws.Int64(2)}); err != nil {
		t.Fatal(err)
	}
	if got := billingOf("t1"); got != "" {
		t.Fatalf("after deleting its billing group: t1 in %q, want none", got)
	}
	if _, err := c.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("lab")}); err != nil {
		t.Fatalf("deleting a missing billing group: %v", err)
	}
}
