package awsapi

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/emulator/store"
)

// nAttrs returns n attributes a0…a(n-1).
func nAttrs(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("a%d", i)] = "v"
	}
	return m
}

// regSetup creates the fixtures most tests share: thing type "sensor" (searchable "room"), deprecated
// thing type "old", billing group "bg".
func regSetup(t *testing.T, c *iot.Client) {
	t.Helper()
	for _, tt := range []string{"sensor", "old"} {
		_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(tt),
			ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"room"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg")}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateThingIsIdempotent(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	in := &iot.CreateThingInput{ThingName: aws.String("lamp"), ThingTypeName: aws.String("sensor"), BillingGroupName: aws.String("bg"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "kitchen"}}}
	first, err := c.CreateThing(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(first.ThingArn), "arn:aws:iot:eu-west-1:123456789012:thing/lamp"; got != want {
		t.Fatalf("thingArn: got %s, want %s", got, want)
	}
	again, err := c.CreateThing(ctx, in)
	if err != nil {
		t.Fatalf("identical CreateThing: got %v, want success", err)
	}
	if aws.ToString(again.ThingId) != aws.ToString(first.ThingId) || aws.ToString(again.ThingArn) != aws.ToString(first.ThingArn) {
		t.Fatalf("identical CreateThing: got %s %s, want %s %s", aws.ToString(again.ThingId), aws.ToString(again.ThingArn),
			aws.ToString(first.ThingId), aws.ToString(first.ThingArn))
	}

	changes := []struct {
		name   string
		change func(in *iot.CreateThingInput)
	}{
		{"other attributes", func(in *iot.CreateThingInput) {
			in.AttributePayload = &types.AttributePayload{Attributes: map[string]string{"room": "hall"}}
		}},
		{"no thing type", func(in *iot.CreateThingInput) { in.ThingTypeName = nil }},
		{"no billing group", func(in *iot.CreateThingInput) { in.BillingGroupName = nil }},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			in2 := *in
			ch.change(&in2)
			_, err := c.CreateThing(ctx, &in2)
			wantAPIError(t, err, "ResourceAlreadyExistsException", 409)
			wantErrMessage(t, err, "Thing lamp already exists in account with different attributes")
			var rae *types.ResourceAlreadyExistsException
			if !errors.As(err, &rae) {
				t.Fatalf("got %T, want *types.ResourceAlreadyExistsException", err)
			}
			if aws.ToString(rae.ResourceId) != aws.ToString(first.ThingId) || aws.ToString(rae.ResourceArn) != aws.ToString(first.ThingArn) {
				t.Fatalf("resourceId/resourceArn: got %s %s, want %s %s", aws.ToString(rae.ResourceId), aws.ToString(rae.ResourceArn),
					aws.ToString(first.ThingId), aws.ToString(first.ThingArn))
			}
		})
	}
}

func TestCreateThingValidation(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	tests := []struct {
		name       string
		in         iot.CreateThingInput
		wantCode   string
		wantStatus int
	}{
		{"name with a slash", iot.CreateThingInput{ThingName: aws.String("a/b")}, "InvalidRequestException", 400},
		{"name with a space", iot.CreateThingInput{ThingName: aws.String("a b")}, "InvalidRequestException", 400},
		{"name of 129 characters", iot.CreateThingInput{ThingName: aws.String(strings.Repeat("n", 129))}, "InvalidRequestException", 400},
		{"4 attributes without a thing type", iot.CreateThingInput{ThingName: aws.String("t"),
			AttributePayload: &types.AttributePayload{Attributes: nAttrs(4)}}, "InvalidRequestException", 400},
		{"51 attributes with a thing type", iot.CreateThingInput{ThingName: aws.String("t"), ThingTypeName: aws.String("sensor"),
			AttributePayload: &types.AttributePayload{Attributes: nAttrs(51)}}, "InvalidRequestException", 400},
		{"attribute value with a space", iot.CreateThingInput{ThingName: aws.String("t"),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "b c"}}}, "InvalidRequestException", 400},
		{"attribute value of 801 characters", iot.CreateThingInput{ThingName: aws.String("t"),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": strings.Repeat("v", 801)}}}, "InvalidRequestException", 400},
		{"attribute name with =", iot.CreateThingInput{ThingName: aws.String("t"),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a=b": "c"}}}, "InvalidRequestException", 400},
		{"unknown thing type", iot.CreateThingInput{ThingName: aws.String("t"), ThingTypeName: aws.String("nope")}, "ResourceNotFoundException", 404},
		{"deprecated thing type", iot.CreateThingInput{ThingName: aws.String("t"), ThingTypeName: aws.String("old")}, "InvalidRequestException", 400},
		{"unknown billing group", iot.CreateThingInput{ThingName: aws.String("t"), BillingGroupName: aws.String("nope")}, "ResourceNotFoundException", 404},
		{"billing group name with a dot", iot.CreateThingInput{ThingName: aws.String("t"), BillingGroupName: aws.String("b.g")}, "InvalidRequestException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateThing(ctx, &tt.in)
			wantAPIError(t, err, tt.wantCode, tt.wantStatus)
			if _, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: tt.in.ThingName}); err == nil {
				t.Fatalf("a refused CreateThing created %s", aws.ToString(tt.in.ThingName))
			}
		})
	}
	ok := []struct {
		name string
		in   iot.CreateThingInput
	}{
		{"3 attributes without a thing type", iot.CreateThingInput{ThingName: aws.String("t3"),
			AttributePayload: &types.AttributePayload{Attributes: nAttrs(3)}}},
		{"50 attributes with a thing type", iot.CreateThingInput{ThingName: aws.String("t50"), ThingTypeName: aws.String("sensor"),
			AttributePayload: &types.AttributePayload{Attributes: nAttrs(50)}}},
		{"name of 128 characters with : _ -", iot.CreateThingInput{ThingName: aws.String(strings.Repeat("a:_-", 32))}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.CreateThing(ctx, &tt.in); err != nil {
				t.Fatalf("got %v, want success", err)
			}
		})
	}
}

func TestDescribeThing(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	created, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("lamp"), ThingTypeName: aws.String("sensor"),
		BillingGroupName: aws.String("bg"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"room": "kitchen"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("lamp")})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ field, got, want string }{
		{"thingName", aws.ToString(got.ThingName), "lamp"},
		{"defaultClientId", aws.ToString(got.DefaultClientId), "lamp"},
		{"thingId", aws.ToString(got.ThingId), aws.ToString(created.ThingId)},
		{"thingArn", aws.ToString(got.ThingArn), "arn:aws:iot:eu-west-1:123456789012:thing/lamp"},
		{"thingTypeName", aws.ToString(got.ThingTypeName), "sensor"},
		{"billingGroupName", aws.ToString(got.BillingGroupName), "bg"},
		{"version", fmt.Sprint(got.Version), "1"},
		{"attributes", fmt.Sprint(got.Attributes), "map[room:kitchen]"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.field, ch.got, ch.want)
		}
	}
	_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("got %T, want *types.ResourceNotFoundException", err)
	}
}

func TestUpdateThing(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("lamp"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		in         iot.UpdateThingInput
		wantCode   string // "" for success
		wantStatus int
		wantAttrs  map[string]string
		wantType   string
		wantVer    int64
	}{
		{"stale expectedVersion", iot.UpdateThingInput{ExpectedVersion: aws.Int64(5),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"c": "3"}}}, "VersionConflictException", 409,
			map[string]string{"a": "1", "b": "2"}, "", 1},
		{"merge adds, empty value removes", iot.UpdateThingInput{ExpectedVersion: aws.Int64(1),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "", "c": "3"}, Merge: true}}, "", 0,
			map[string]string{"b": "2", "c": "3"}, "", 2},
		{"without merge, replaces", iot.UpdateThingInput{
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"d": "4"}}}, "", 0,
			map[string]string{"d": "4"}, "", 3},
		{"set a thing type", iot.UpdateThingInput{ThingTypeName: aws.String("sensor")}, "", 0,
			map[string]string{"d": "4"}, "sensor", 4},
		{"50 attributes with the type", iot.UpdateThingInput{AttributePayload: &types.AttributePayload{Attributes: nAttrs(50)}}, "", 0,
			nAttrs(50), "sensor", 5},
		{"remove the type with 50 attributes", iot.UpdateThingInput{RemoveThingType: true}, "InvalidRequestException", 400,
			nAttrs(50), "sensor", 5},
		{"deprecated type", iot.UpdateThingInput{ThingTypeName: aws.String("old")}, "InvalidRequestException", 400,
			nAttrs(50), "sensor", 5},
		{"unknown type", iot.UpdateThingInput{ThingTypeName: aws.String("nope")}, "ResourceNotFoundException", 404,
			nAttrs(50), "sensor", 5},
		{"type and removeThingType", iot.UpdateThingInput{ThingTypeName: aws.String("sensor"), RemoveThingType: true},
			"InvalidRequestException", 400, nAttrs(50), "sensor", 5},
		{"remove the type", iot.UpdateThingInput{RemoveThingType: true,
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"x": "1"}}}, "", 0,
			map[string]string{"x": "1"}, "", 6},
	}
	for _, st := range steps {
		in := st.in
		in.ThingName = aws.String("lamp")
		_, err := c.UpdateThing(ctx, &in)
		if st.wantCode != "" {
			wantAPIError(t, err, st.wantCode, st.wantStatus)
		} else if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("lamp")})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got.Attributes, st.wantAttrs) || aws.ToString(got.ThingTypeName) != st.wantType || got.Version != st.wantVer {
			t.Fatalf("%s: got attributes %v type %q version %d, want %v %q %d", st.name, got.Attributes,
				aws.ToString(got.ThingTypeName), got.Version, st.wantAttrs, st.wantType, st.wantVer)
		}
	}
	_, err = c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
}

func TestDeleteThing(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	first, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("lamp"), BillingGroupName: aws.String("bg")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("lamp"), ThingGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}

	_, err = c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("nope")})
	if err != nil {
		t.Fatalf("deleting a missing thing: got %v, want success", err)
	}
	_, err = c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("lamp"), ExpectedVersion: aws.Int64(2)})
	wantAPIError(t, err, "VersionConflictException", 409)
	if _, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("lamp"), ExpectedVersion: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("lamp")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	for name, list := range map[string]func() ([]string, error){
		"thing group": func() ([]string, error) {
			out, err := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("g")})
			return out.Things, err
		},
		"billing group": func() ([]string, error) {
			out, err := c.ListThingsInBillingGroup(ctx, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String("bg")})
			return out.Things, err
		},
	} {
		things, err := list()
		if err != nil || len(things) != 0 {
			t.Fatalf("%s after DeleteThing: got %v %v, want no things", name, things, err)
		}
	}
	// A new thing of the same name is a new thing.
	again, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("lamp")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.ThingId) == aws.ToString(first.ThingId) {
		t.Fatalf("re-created thing kept the old id %s", aws.ToString(again.ThingId))
	}
}

// TestDeleteThingWithPrincipal loads a thing with an attached certificate from the store (the record
// AttachThingPrincipal writes) and checks AWS's refusal, text included.
func TestDeleteThingWithPrincipal(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"name":"door","id":"0f2b5e5e-0000-4000-8000-000000000001","version":1,` +
		`"principals":[{"principal":"arn:aws:iot:eu-west-1:123456789012:cert/abc","type":"NON_EXCLUSIVE_THING"}],"created":"2026-03-01T12:00:00Z"}`
	if err := st.Apply(store.Op{Key: "reg/123456789012/eu-west-1/thing/door", Value: []byte(rec)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e := newTestEnvAt(t, dir)
	_, err = e.iotClient().DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("door")})
	wantAPIError(t, err, "InvalidRequestException", 400)
	wantErrMessage(t, err, "Cannot delete. Thing door is still attached to one or more principals")
}

func TestListThings(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	regSetup(t, c)
	things := []struct {
		name, typ string
		attrs     map[string]string
	}{
		{"t1", "sensor", map[string]string{"room": "kitchen"}},
		{"t2", "sensor", map[string]string{"room": "kitchen-2"}},
		{"t3", "", map[string]string{"room": "hall"}},
		{"t4", "", nil},
		{"t5", "sensor", nil},
	}
	for _, th := range things {
		in := &iot.CreateThingInput{ThingName: aws.String(th.name), AttributePayload: &types.AttributePayload{Attributes: th.attrs}}
		if th.typ != "" {
			in.ThingTypeName = aws.String(th.typ)
		}
		if _, err := c.CreateThing(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	names := func(out *iot.ListThingsOutput) []string {
		var ns []string
		for _, th := range out.Things {
			ns = append(ns, aws.ToString(th.ThingName))
		}
		return ns
	}
	filters := []struct {
		name string
		in   iot.ListThingsInput
		want []string
	}{
		{"all", iot.ListThingsInput{}, []string{"t1", "t2", "t3", "t4", "t5"}},
		{"attribute value", iot.ListThingsInput{AttributeName: aws.String("room"), AttributeValue: aws.String("kitchen")}, []string{"t1"}},
		{"attribute value prefix", iot.ListThingsInput{AttributeName: aws.String("room"), AttributeValue: aws.String("kitchen"),
			UsePrefixAttributeValue: true}, []string{"t1", "t2"}},
		{"attribute name only", iot.ListThingsInput{AttributeName: aws.String("room")}, []string{"t1", "t2", "t3"}},
		{"thing type", iot.ListThingsInput{ThingTypeName: aws.String("sensor")}, []string{"t1", "t2", "t5"}},
		{"thing type and attribute", iot.ListThingsInput{ThingTypeName: aws.String("sensor"), AttributeName: aws.String("room"),
			AttributeValue: aws.String("kitchen-2")}, []string{"t2"}},
		{"no match", iot.ListThingsInput{ThingTypeName: aws.String("old")}, nil},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.ListThings(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(out); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("entries", func(t *testing.T) {
		out, err := c.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		th := out.Things[0]
		if aws.ToString(th.ThingArn) != "arn:aws:iot:eu-west-1:123456789012:thing/t1" || aws.ToString(th.ThingTypeName) != "sensor" ||
			th.Version != 1 || th.Attributes["room"] != "kitchen" {
			t.Fatalf("got %+v, want t1's ARN, type, version 1 and attributes", th)
		}
	})

	t.Run("pages", func(t *testing.T) {
		var got []string
		var pages int
		p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, names(out)...)
		}
		if want := []string{"t1", "t2", "t3", "t4", "t5"}; !slices.Equal(got, want) || pages != 3 {
			t.Fatalf("got %v in %d pages, want %v in 3", got, pages, want)
		}
	})

	bad := []struct {
		name string
		in   iot.ListThingsInput
	}{
		{"maxResults 0", iot.ListThingsInput{MaxResults: aws.Int32(0)}},
		{"maxResults 251", iot.ListThingsInput{MaxResults: aws.Int32(251)}},
		{"forged nextToken", iot.ListThingsInput{NextToken: aws.String("%%%not-a-token")}},
		{"attribute name with a space", iot.ListThingsInput{AttributeName: aws.String("a b")}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListThings(ctx, &tt.in)
			wantAPIError(t, err, "InvalidRequestException", 400)
		})
	}
}
