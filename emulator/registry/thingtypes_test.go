package registry

import (
	"testing"
	"time"

	"github.com/iotlab/iotlab/emulator/awserr"
)

func TestDeleteThingTypeWaitsAfterDeprecation(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	_, err := f.reg.CreateThingType(sc, ThingTypeInput{Name: "lamp"})
	must(t, err)
	_, err = f.reg.CreateThing(sc, CreateThingInput{Name: "l1", TypeName: "lamp"})
	must(t, err)

	steps := []struct {
		name    string
		before  func()
		wantErr string // "" for success
		wantMsg string
	}{
		{"not deprecated", nil, awserr.InvalidRequest, "Cannot delete thing type : lamp. Thing type must be deprecated before it can be deleted"},
		{"just deprecated", func() { must(t, f.reg.DeprecateThingType(sc, "lamp", false)) }, awserr.InvalidRequest,
			"Cannot delete thing type : lamp. Please wait for 5 minutes after deprecation and then retry"},
		{"4m59s later", func() { f.clock.Advance(4*time.Minute + 59*time.Second) }, awserr.InvalidRequest,
			"Cannot delete thing type : lamp. Please wait for 5 minutes after deprecation and then retry"},
		{"5m later, a thing still has the type", func() { f.clock.Advance(time.Second) }, awserr.InvalidRequest,
			"Cannot delete thing type : lamp. There are still things associated with it"},
		{"thing's type removed", func() {
			_, err := f.reg.UpdateThing(sc, UpdateThingInput{Name: "l1", RemoveType: true})
			must(t, err)
		}, "", ""},
		{"already deleted", nil, awserr.ResourceNotFound, "Thing type lamp cannot be found."},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		err := f.reg.DeleteThingType(sc, "lamp")
		if st.wantErr == "" {
			if err != nil {
				t.Fatalf("%s: got %v, want success", st.name, err)
			}
			continue
		}
		wantCode(t, err, st.wantErr)
		if got := err.(*awserr.Error).Message; got != st.wantMsg {
			t.Fatalf("%s: got %q, want %q", st.name, got, st.wantMsg)
		}
	}
}

func TestThingTypeDeleteDelayOption(t *testing.T) {
	tests := []struct {
		name    string
		delay   time.Duration
		advance time.Duration
		wantErr bool
	}{
		{"default is 5 minutes", 0, 4 * time.Minute, true},
		{"shorter delay", time.Minute, time.Minute, false},
		{"negative disables the wait", -1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRegFixture(t)
			r, err := Open(Options{Store: f.store, Now: f.clock.Now, ThingTypeDeleteDelay: tt.delay})
			must(t, err)
			_, err = r.CreateThingType(f.sc, ThingTypeInput{Name: "x"})
			must(t, err)
			must(t, r.DeprecateThingType(f.sc, "x", false))
			f.clock.Advance(tt.advance)
			err = r.DeleteThingType(f.sc, "x")
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestDeprecateThingType(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	_, err := f.reg.CreateThingType(sc, ThingTypeInput{Name: "lamp"})
	must(t, err)
	must(t, f.reg.DeprecateThingType(sc, "lamp", false))
	first := f.clock.Now()
	f.clock.Advance(time.Minute)
	must(t, f.reg.DeprecateThingType(sc, "lamp", false)) // again: keeps the first date
	tt, err := f.reg.DescribeThingType(sc, "lamp")
	must(t, err)
	if !tt.Deprecated || tt.DeprecationDate == nil || !tt.DeprecationDate.Equal(first) {
		t.Fatalf("got deprecated=%v date=%v, want true %v", tt.Deprecated, tt.DeprecationDate, first)
	}
	_, err = f.reg.CreateThing(sc, CreateThingInput{Name: "l1", TypeName: "lamp"})
	wantCode(t, err, awserr.InvalidRequest)
	err = f.reg.UpdateThingType(sc, UpdateThingTypeInput{Name: "lamp", SearchableAttributes: []string{"a"}})
	wantCode(t, err, awserr.InvalidRequest)

	must(t, f.reg.DeprecateThingType(sc, "lamp", true))
	tt, err = f.reg.DescribeThingType(sc, "lamp")
	must(t, err)
	if tt.Deprecated || tt.DeprecationDate != nil {
		t.Fatalf("after undo: got deprecated=%v date=%v, want false nil", tt.Deprecated, tt.DeprecationDate)
	}
	_, err = f.reg.CreateThing(sc, CreateThingInput{Name: "l1", TypeName: "lamp"})
	must(t, err)
	wantCode(t, f.reg.DeprecateThingType(sc, "nope", false), awserr.ResourceNotFound)
}

func TestCreateThingTypeIdempotence(t *testing.T) {
	f := newRegFixture(t)
	sc := f.sc
	first, err := f.reg.CreateThingType(sc, ThingTypeInput{Name: "lamp", Description: "d", SearchableAttributes: []string{"b", "a"}})
	must(t, err)
	tests := []struct {
		name    string
		in      ThingTypeInput
		wantErr string
	}{
		{"identical", ThingTypeInput{Name: "lamp", Description: "d", SearchableAttributes: []string{"b", "a"}}, ""},
		{"searchable attributes reordered", ThingTypeInput{Name: "lamp", Description: "d", SearchableAttributes: []string{"a", "b"}}, ""},
		{"other description", ThingTypeInput{Name: "lamp", Description: "e", SearchableAttributes: []string{"a", "b"}}, awserr.ResourceAlreadyExists},
		{"other attributes", ThingTypeInput{Name: "lamp", Description: "d", SearchableAttributes: []string{"a"}}, awserr.ResourceAlreadyExists},
		{"propagating added", ThingTypeInput{Name: "lamp", Description: "d", SearchableAttributes: []string{"a", "b"},
			Propagating: []PropagatingAttribute{{UserPropertyKey: "k", ConnectionAttribute: "iot:ClientId"}}}, awserr.ResourceAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.reg.CreateThingType(sc, tt.in)
			if tt.wantErr != "" {
				wantCode(t, err, tt.wantErr)
				e := err.(*awserr.Error)
				if e.Fields["resourceId"] != first.ID || e.Fields["resourceArn"] != "arn:aws:iot:eu-west-1:123456789012:thingtype/lamp" {
					t.Fatalf("got fields %v, want the existing type's id and ARN", e.Fields)
				}
				return
			}
			must(t, err)
			if got.ID != first.ID {
				t.Fatalf("got id %s, want %s", got.ID, first.ID)
			}
		})
	}
}
