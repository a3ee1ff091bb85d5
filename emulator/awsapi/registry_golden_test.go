package awsapi

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// -update rewrites the golden files. Another test file of the package may define the same flag; the
// first definition is used.
var _ = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	return true
}()

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// rawResponse is a response as the client receives it: status, headers (sorted) and the body as sent.
func rawResponse(rec *httptest.ResponseRecorder) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\n", rec.Code, http.StatusText(rec.Code))
	keys := make([]string, 0, len(rec.Header()))
	for k := range rec.Header() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(rec.Header()[k], ", "))
	}
	b.WriteString("\n")
	b.Write(rec.Body.Bytes())
	b.WriteString("\n")
	return b.Bytes()
}

// TestRegistryGolden pins raw responses, byte for byte, with a fixed clock and seeded ids.
func TestRegistryGolden(t *testing.T) {
	e, _ := newRegEnv(t)
	c := e.iotClient()
	setup := []func() error{
		func() error {
			_, err := c.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("FleetBilling")})
			return err
		},
		func() error {
			_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("TemperatureSensor"),
				ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("Indoor temperature sensor"),
					SearchableAttributes: []string{"building", "room"}}})
			return err
		},
		func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-001"), ThingTypeName: aws.String("TemperatureSensor"),
				BillingGroupName: aws.String("FleetBilling"),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"building": "B1", "room": "201", "serial": "SN-0001"}}})
			return err
		},
		func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-002")})
			return err
		},
		func() error {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-003")})
			return err
		},
		func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Building-B1"),
				ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("Building B1")}})
			return err
		},
		func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Floor-2"), ParentGroupName: aws.String("Building-B1")})
			return err
		},
		func() error {
			_, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("TemperatureSensor")})
			return err
		},
	}
	for _, f := range setup {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, method, path, body string
	}{
		{"describe_thing", "GET", "/things/sensor-001", ""},
		{"describe_thing_bare", "GET", "/things/sensor-002", ""},
		{"list_things_page", "GET", "/things?maxResults=2", ""},
		{"describe_thing_type", "GET", "/thing-types/TemperatureSensor", ""},
		{"describe_thing_group", "GET", "/thing-groups/Floor-2", ""},
		{"list_things_empty_filter", "GET", "/things?thingTypeName=Nope", ""},
		{"create_thing_conflict", "POST", "/things/sensor-002", `{"attributePayload":{"attributes":{"a":"b"}}}`},
		{"describe_thing_missing", "GET", "/things/nope", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			e.Srv.ServeHTTP(rec, req)
			got := rawResponse(rec)
			path := filepath.Join("testdata", "registry_"+tt.name+".golden")
			if updateGolden() {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("response differs from %s (run with -update after checking):\n got:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}
