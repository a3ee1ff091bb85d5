package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

func TestTagResourceResolution(t *testing.T) {
	f := newRegFixture(t)
	populate(t, f.reg, f.sc)
	tests := []struct {
		name, arn, wantErr string
	}{
		{"thing type", "arn:aws:iot:eu-west-1:123456789012:thingtype/sensor", ""},
		{"thing group", "arn:aws:iot:eu-west-1:123456789012:thinggroup/floor1", ""},
		{"billing group", "arn:aws:iot:eu-west-1:123456789012:billinggroup/bg", ""},
		{"thing: AWS does not tag things", "arn:aws:iot:eu-west-1:123456789012:thing/t1", awserr.InvalidRequest},
		{"not an ARN", "floor1", awserr.InvalidRequest},
		{"unknown group", "arn:aws:iot:eu-west-1:123456789012:thinggroup/nope", awserr.ResourceNotFound},
		{"other region", "arn:aws:iot:us-east-1:123456789012:thinggroup/floor1", awserr.ResourceNotFound},
		{"other account", "arn:aws:iot:eu-west-1:999999999999:thinggroup/floor1", awserr.ResourceNotFound},
		{"unknown type", "arn:aws:iot:eu-west-1:123456789012:rule/r", awserr.ResourceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.reg.TagResource(f.sc, tt.arn, []Tag{{"k", "v"}})
			if tt.wantErr == "" {
				must(t, err)
				return
			}
			wantCode(t, err, tt.wantErr)
		})
	}
}

func TestTagLimits(t *testing.T) {
	f := newRegFixture(t)
	populate(t, f.reg, f.sc)
	arn := "arn:aws:iot:eu-west-1:123456789012:thinggroup/site"
	var fifty []Tag
	for i := range 50 {
		fifty = append(fifty, Tag{fmt.Sprintf("k%02d", i), "v"})
	}
	must(t, f.reg.TagResource(f.sc, arn, fifty))
	must(t, f.reg.TagResource(f.sc, arn, []Tag{{"k00", "replaced"}})) // replacing keeps 50
	wantCode(t, f.reg.TagResource(f.sc, arn, []Tag{{"k50", "v"}}), awserr.LimitExceeded)
	tags, next, err := f.reg.ListTagsForResource(f.sc, arn, Page{})
	must(t, err)
	if len(tags) != 50 || next != "" || tags[0] != (Tag{"k00", "replaced"}) {
		t.Fatalf("got %d tags (first %v, next %q), want 50 with k00=replaced and no next page", len(tags), tags[0], next)
	}
	must(t, f.reg.UntagResource(f.sc, arn, []string{"k00", "nope"}))
	tags, _, err = f.reg.ListTagsForResource(f.sc, arn, Page{})
	must(t, err)
	if len(tags) != 49 {
		t.Fatalf("after untag: got %d tags, want 49", len(tags))
	}
	_, err = f.reg.CreateThingGroup(f.sc, CreateThingGroupInput{Name: "many", Tags: append(fifty, Tag{"k50", "v"})})
	wantCode(t, err, awserr.InvalidRequest)
}

func TestCheckTags(t *testing.T) {
	tests := []struct {
		name    string
		tag     Tag
		wantErr bool
	}{
		{"plain", Tag{"env", "lab"}, false},
		{"unicode letters and spaces", Tag{"Besitzer Straße", "ü"}, false},
		{"punctuation allowed by the model", Tag{"a_b.c:d/e=f+g-h@i", ""}, false},
		{"empty key", Tag{"", "v"}, true},
		{"key of 128", Tag{strings.Repeat("k", 128), "v"}, false},
		{"key of 129", Tag{strings.Repeat("k", 129), "v"}, true},
		{"value of 256", Tag{"k", strings.Repeat("v", 256)}, false},
		{"value of 257", Tag{"k", strings.Repeat("v", 257)}, true},
		{"reserved prefix", Tag{"aws:owner", "v"}, true},
		{"forbidden character", Tag{"a*b", "v"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTags([]Tag{tt.tag})
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("got %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
