package awsapi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingTypeLifecycle(t *testing.T) {
	e, clock := newRegEnv(t)
	c := e.iotClient()
	props := &types.ThingTypeProperties{
		ThingTypeDescription: aws.String("A light bulb"),
		SearchableAttributes: []string{"wattage", "model"},
		Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
			{UserPropertyKey: aws.String("model"), ThingAttribute: aws.String("model")},
			{UserPropertyKey: aws.String("client"), ConnectionAttribute: aws.String("iot:ClientId")},
		}},
	}
	created, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("LightBulb"), ThingTypeProperties: props})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(created.ThingTypeArn), "arn:aws:iot:eu-west-1:123456789012:thingtype/LightBulb"; got != want {
		t.Fatalf("thingTypeArn: got %s, want %s", got, want)
	}
	again, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("LightBulb"), ThingTypeProperties: props})
	if err != nil || aws.ToString(again.ThingTypeId) != aws.ToString(created.ThingTypeId) {
		t.Fatalf("identical CreateThingType: got %v %v, want the same id", again, err)
	}
	_, err = c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", 409)

	d, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	if err != nil {
		t.Fatal(err)
	}
	md := d.ThingTypeMetadata
	if md.Deprecated || md.DeprecationDate != nil || !aws.ToTime(md.CreationDate).Equal(regEpoch) {
		t.Fatalf("metadata: got deprecated=%v deprecationDate=%v creationDate=%v, want false, none, %v",
			md.Deprecated, md.DeprecationDate, aws.ToTime(md.CreationDate), regEpoch)
	}
	p := d.ThingTypeProperties
	if aws.ToString(p.ThingTypeDescription) != "A light bulb" || !slices.Equal(p.SearchableAttributes, []string{"model", "wattage"}) ||
		len(p.Mqtt5Configuration.PropagatingAttributes) != 2 ||
		aws.ToString(p.Mqtt5Configuration.PropagatingAttributes[1].ConnectionAttribute) != "iot:ClientId" {
		t.Fatalf("properties: got %+v", p)
	}

	// Deprecate; no new things; undo; deprecate again.
	clock.Advance(time.Minute)
	if _, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("LightBulb")}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	if !d.ThingTypeMetadata.Deprecated || !aws.ToTime(d.ThingTypeMetadata.DeprecationDate).Equal(regEpoch.Add(time.Minute)) {
		t.Fatalf("after deprecation: got %+v", d.ThingTypeMetadata)
	}
	_, err = c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("b1"), ThingTypeName: aws.String("LightBulb")})
	wantAPIError(t, err, "InvalidRequestException", 400)
	_, err = c.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("LightBulb"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"x"}}})
	wantAPIError(t, err, "InvalidRequestException", 400)
	if _, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("LightBulb"), UndoDeprecate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("b1"), ThingTypeName: aws.String("LightBulb")}); err != nil {
		t.Fatalf("after undoDeprecate: %v", err)
	}
	if _, err := c.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("LightBulb"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"serial"}}}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("LightBulb")})
	if got := d.ThingTypeProperties.SearchableAttributes; !slices.Equal(got, []string{"serial"}) ||
		aws.ToString(d.ThingTypeProperties.ThingTypeDescription) != "A light bulb" {
		t.Fatalf("after UpdateThingType: got %v %q, want [serial] and the description kept", got, aws.ToString(d.ThingTypeProperties.ThingTypeDescription))
	}

	// DeleteThingType: deprecated, 5 minutes later, no things of the type. AWS: delete-thing-types
	steps := []struct {
		name     string
		before   func(t *testing.T)
		wantCode string
		wantMsg  string
	}{
		{"not deprecated", nil, "InvalidRequestException", ""},
		{"just deprecated", func(t *testing.T) {
			if _, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("LightBulb")}); err != nil {
				t.Fatal(err)
			}
		}, "InvalidRequestException", "Cannot delete thing type : LightBulb. Please wait for 5 minutes after deprecation and then retry"},
		{"5 minutes later, b1 is still a LightBulb", func(t *testing.T) { clock.Advance(5 * time.Minute) }, "InvalidRequestException", ""},
		{"b1 deleted", func(t *testing.T) {
			if _, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("b1")}); err != nil {
				t.Fatal(err)
			}
		}, "", ""},
		{"deleted already", nil, "ResourceNotFoundException", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			_, err := c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("LightBulb")})
			switch {
			case st.wantCode == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case st.wantCode != "":
				status := 400
				if st.wantCode == "ResourceNotFoundException" {
					status = 404
				}
				wantAPIError(t, err, st.wantCode, status)
				if st.wantMsg != "" {
					wantErrMessage(t, err, st.wantMsg)
				}
			}
		})
	}
}

func TestThingTypeValidation(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	tests := []struct {
		name  string
		props *types.ThingTypeProperties
		tname string
	}{
		{"4 searchable attributes", &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c", "d"}}, "t"},
		{"searchable attribute with a space", &types.ThingTypeProperties{SearchableAttributes: []string{"a b"}}, "t"},
		{"description of 2029 characters", &types.ThingTypeProperties{ThingTypeDescription: aws.String(strings.Repeat("d", 2029))}, "t"},
		{"description with a newline", &types.ThingTypeProperties{ThingTypeDescription: aws.String("a\nb")}, "t"},
		{"propagating attribute with both sources", &types.ThingTypeProperties{Mqtt5Configuration: &types.Mqtt5Configuration{
			PropagatingAttributes: []types.PropagatingAttribute{{UserPropertyKey: aws.String("k"), ThingAttribute: aws.String("a"),
				ConnectionAttribute: aws.String("iot:ClientId")}}}}, "t"},
		{"name with a slash", nil, "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(tt.tname), ThingTypeProperties: tt.props})
			wantAPIError(t, err, "InvalidRequestException", 400)
		})
	}
	if _, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("three"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c"}}}); err != nil {
		t.Fatalf("3 searchable attributes: %v", err)
	}
	missing := []struct {
		name string
		call func() error
	}{
		{"DescribeThingType", func() error {
			_, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("nope")})
			return err
		}},
		{"DeprecateThingType", func() error {
			_, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("nope")})
			return err
		}},
		{"UpdateThingType", func() error {
			_, err := c.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("nope")})
			return err
		}},
		{"DeleteThingType", func() error {
			_, err := c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("nope")})
			return err
		}},
	}
	for _, tt := range missing {
		t.Run(tt.name+" of a missing type", func(t *testing.T) {
			wantAPIError(t, tt.call(), "ResourceNotFoundException", 404)
		})
	}
}

func TestListThingTypes(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	out, err := c.ListThingTypes(ctx, &iot.ListThingTypesInput{})
	if err != nil || out.ThingTypes == nil || len(out.ThingTypes) != 0 {
		t.Fatalf("empty account: got %v %v, want an empty list", out, err)
	}
	for _, n := range []string{"c", "a", "b"} {
		if _, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		in   iot.ListThingTypesInput
		want []string
		next bool
	}{
		{"all, sorted", iot.ListThingTypesInput{}, []string{"a", "b", "c"}, false},
		{"by name", iot.ListThingTypesInput{ThingTypeName: aws.String("b")}, []string{"b"}, false},
		{"unknown name", iot.ListThingTypesInput{ThingTypeName: aws.String("z")}, nil, false},
		{"first page", iot.ListThingTypesInput{MaxResults: aws.Int32(2)}, []string{"a", "b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.ListThingTypes(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range out.ThingTypes {
				got = append(got, aws.ToString(d.ThingTypeName))
				if d.ThingTypeMetadata == nil || d.ThingTypeMetadata.CreationDate == nil || !strings.HasSuffix(aws.ToString(d.ThingTypeArn), "/"+aws.ToString(d.ThingTypeName)) {
					t.Fatalf("entry %+v lacks metadata or ARN", d)
				}
			}
			if !slices.Equal(got, tt.want) || (out.NextToken != nil) != tt.next {
				t.Fatalf("got %v next=%v, want %v next=%v", got, out.NextToken != nil, tt.want, tt.next)
			}
		})
	}
}
