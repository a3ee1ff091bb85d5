package awsapi

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func tagList(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func tagStrings(tags []types.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

func TestTagsOnCreate(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	tt, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"), Tags: tagList("team", "a", "env", "lab")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site"), Tags: tagList("city", "Lyon")})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg"), Tags: tagList("cost", "42")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		arn  *string
		want []string
	}{
		{"thing type", tt.ThingTypeArn, []string{"env=lab", "team=a"}},
		{"thing group", tg.ThingGroupArn, []string{"city=Lyon"}},
		{"billing group", bg.BillingGroupArn, []string{"cost=42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: tt.arn})
			if err != nil {
				t.Fatal(err)
			}
			if got := tagStrings(out.Tags); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	var many []types.Tag
	for i := range 51 {
		many = append(many, tagList(fmt.Sprintf("k%d", i), "v")...)
	}
	_, err = c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("many"), Tags: many})
	wantAPIError(t, err, "InvalidRequestException", 400)
}

func TestTagResource(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	g, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site")})
	if err != nil {
		t.Fatal(err)
	}
	makeThings(t, c, "t")
	list := func() []string {
		out, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: g.ThingGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		if out.Tags == nil {
			t.Fatalf("tags: got nil, want a list")
		}
		return tagStrings(out.Tags)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("new group: got %v, want no tags", got)
	}
	if _, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: g.ThingGroupArn, Tags: tagList("a", "1", "b", "2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: g.ThingGroupArn, Tags: tagList("a", "3")}); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), []string{"a=3", "b=2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := c.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: g.ThingGroupArn, TagKeys: []string{"a", "zz"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), []string{"b=2"}; !slices.Equal(got, want) {
		t.Fatalf("after untag: got %v, want %v", got, want)
	}

	var fortyNine []types.Tag
	for i := range 49 {
		fortyNine = append(fortyNine, tagList(fmt.Sprintf("k%02d", i), "v")...)
	}
	if _, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: g.ThingGroupArn, Tags: fortyNine}); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	errs := []struct {
		name       string
		arn        string
		tags       []types.Tag
		wantCode   string
		wantStatus int
	}{
		{"a 51st tag", aws.ToString(g.ThingGroupArn), tagList("one", "more"), "LimitExceededException", 410},
		{"key of 129 characters", aws.ToString(g.ThingGroupArn), tagList(strings.Repeat("k", 129), "v"), "InvalidRequestException", 400},
		{"value of 257 characters", aws.ToString(g.ThingGroupArn), tagList("b", strings.Repeat("v", 257)), "InvalidRequestException", 400},
		{"reserved aws: prefix", aws.ToString(g.ThingGroupArn), tagList("aws:x", "v"), "InvalidRequestException", 400},
		{"unknown group", "arn:aws:iot:eu-west-1:123456789012:thinggroup/nope", tagList("b", "v"), "ResourceNotFoundException", 404},
		{"thing: AWS does not tag things", "arn:aws:iot:eu-west-1:123456789012:thing/t", tagList("b", "v"), "InvalidRequestException", 400},
		{"not an ARN", "site", tagList("b", "v"), "InvalidRequestException", 400},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(tt.arn), Tags: tt.tags})
			wantAPIError(t, err, tt.wantCode, tt.wantStatus)
		})
	}
	_, err = c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:iot:eu-west-1:123456789012:thingtype/nope")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = c.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String("arn:aws:iot:eu-west-1:123456789012:billinggroup/nope"), TagKeys: []string{"a"}})
	wantAPIError(t, err, "ResourceNotFoundException", 404)

	// Tags go with their resource: a group re-created under the same name starts untagged.
	if _, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("re-created group: got %v, want no tags", got)
	}
}
