package wire

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

var testRoutes = []Route{
	{Op: "DescribeThing", Method: "GET", Path: "/things/{thingName}", Status: 200,
		Bindings: []Binding{{Member: "thingName", Location: LocUri, Name: "thingName", Kind: KindString}}},
	{Op: "ListThingGroupsForThing", Method: "GET", Path: "/things/{thingName}/thing-groups", Status: 200,
		Bindings: []Binding{{Member: "thingName", Location: LocUri, Name: "thingName", Kind: KindString},
			{Member: "maxResults", Location: LocQuerystring, Name: "maxResults", Kind: KindInteger}}},
	{Op: "AddThingToThingGroup", Method: "PUT", Path: "/thing-groups/addThingToThingGroup", Status: 200},
	{Op: "DescribeThingGroup", Method: "GET", Path: "/thing-groups/{thingGroupName}", Status: 200},
	{Op: "UpdateThingGroup", Method: "PATCH", Path: "/thing-groups/{thingGroupName}", Status: 200},
	{Op: "GetDestination", Method: "GET", Path: "/destinations/{arn+}", Status: 200},
	{Op: "AttachThingPrincipal", Method: "PUT", Path: "/things/{thingName}/principals", Status: 200,
		Bindings: []Binding{{Member: "principal", Location: LocHeader, Name: "x-amzn-principal", Kind: KindString},
			{Member: "thingName", Location: LocUri, Name: "thingName", Kind: KindString}}},
}

func TestRouterMatch(t *testing.T) {
	r := NewRouter(testRoutes)
	tests := []struct {
		name, method, path string
		wantOp             string
		wantLabels         map[string]string
		wantMismatch       bool
	}{
		{"label", "GET", "/things/door", "DescribeThing", map[string]string{"thingName": "door"}, false},
		{"escaped label", "GET", "/things/a%3Ab", "DescribeThing", map[string]string{"thingName": "a:b"}, false},
		{"nested", "GET", "/things/door/thing-groups", "ListThingGroupsForThing", map[string]string{"thingName": "door"}, false},
		{"literal beats label", "PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", map[string]string{}, false},
		{"label where literal has other method", "PATCH", "/thing-groups/addThingToThingGroup", "UpdateThingGroup", map[string]string{"thingGroupName": "addThingToThingGroup"}, false},
		{"greedy", "GET", "/destinations/arn:aws:x/y/z", "GetDestination", map[string]string{"arn": "arn:aws:x/y/z"}, false},
		{"method mismatch", "DELETE", "/things/door/thing-groups", "", nil, true},
		{"no route", "GET", "/nothing", "", nil, false},
		{"empty label", "GET", "/things/", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, labels, mm := r.Match(tt.method, tt.path, url.Values{})
			gotOp := ""
			if rt != nil {
				gotOp = rt.Op
			}
			if gotOp != tt.wantOp || mm != tt.wantMismatch {
				t.Fatalf("got op %q mismatch %v, want %q %v", gotOp, mm, tt.wantOp, tt.wantMismatch)
			}
			if rt != nil && len(labels) != len(tt.wantLabels) {
				t.Fatalf("labels: got %v, want %v", labels, tt.wantLabels)
			}
			for k, v := range tt.wantLabels {
				if labels[k] != v {
					t.Fatalf("label %s: got %q, want %q", k, labels[k], v)
				}
			}
		})
	}
}

type listIn struct {
	ThingName  string `json:"thingName"`
	MaxResults *int32 `json:"maxResults"`
	Principal  string `json:"principal"`
	Other      string `json:"other"`
}

func TestDecode(t *testing.T) {
	r := NewRouter(testRoutes)
	tests := []struct {
		name, method, target, body string
		header                     http.Header
		want                       listIn
		wantErr                    string
	}{
		{"query int", "GET", "/things/t1/thing-groups?maxResults=5", "", nil, listIn{ThingName: "t1", MaxResults: ptr32(5)}, ""},
		{"bad int", "GET", "/things/t1/thing-groups?maxResults=five", "", nil, listIn{}, awserr.InvalidRequest},
		{"header", "PUT", "/things/t1/principals", "", http.Header{"X-Amzn-Principal": {"arn:aws:iot:r:1:cert/ab"}}, listIn{ThingName: "t1", Principal: "arn:aws:iot:r:1:cert/ab"}, ""},
		{"body and label", "PUT", "/things/t1/principals", `{"other":"x","thingName":"ignored"}`, nil, listIn{ThingName: "t1", Other: "x"}, ""},
		{"bad json", "PUT", "/things/t1/principals", `{"other":`, nil, listIn{}, awserr.InvalidRequest},
		{"json array", "PUT", "/things/t1/principals", `[1,2]`, nil, listIn{}, awserr.InvalidRequest},
		{"wrong type", "PUT", "/things/t1/principals", `{"other": 5}`, nil, listIn{}, awserr.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.target)
			rt, labels, _ := r.Match(tt.method, u.EscapedPath(), u.Query())
			if rt == nil {
				t.Fatal("no route")
			}
			var got listIn
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			err := Decode(rt, labels, u.Query(), h, []byte(tt.body), &got)
			if tt.wantErr != "" {
				if !awserr.HasCode(err, tt.wantErr) {
					t.Fatalf("got err %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ThingName != tt.want.ThingName || got.Principal != tt.want.Principal || got.Other != tt.want.Other ||
				(got.MaxResults == nil) != (tt.want.MaxResults == nil) || (got.MaxResults != nil && *got.MaxResults != *tt.want.MaxResults) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPayloadBlobRoundTrip(t *testing.T) {
	rt := &Route{Op: "Publish", Method: "POST", Path: "/topics/{topic}", Status: 200, InPayload: "payload", InPayloadBlob: true,
		OutPayload: "payload", OutPayloadBlob: true}
	var in struct {
		Payload []byte `json:"payload"`
	}
	raw := []byte{0, 1, 2, 0xff, '{'}
	if err := Decode(rt, nil, nil, http.Header{}, raw, &in); err != nil {
		t.Fatal(err)
	}
	if string(in.Payload) != string(raw) {
		t.Fatalf("got %v, want %v", in.Payload, raw)
	}
	w := httptest.NewRecorder()
	if err := Encode(w, rt, &in); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != string(raw) {
		t.Fatalf("encoded body %v, want %v", w.Body.Bytes(), raw)
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name, service string
		err           error
		wantStatus    int
		wantCode      string
	}{
		{"model status", "iot", awserr.New(awserr.CertificateState, "x"), 406, "CertificateStateException"},
		{"per service", "iotdata", awserr.New(awserr.Throttling, "x"), 429, "ThrottlingException"},
		{"iot throttling", "iot", awserr.New(awserr.Throttling, "x"), 400, "ThrottlingException"},
		{"unexpected error hides detail", "iot", errorString("disk on fire"), 500, "InternalFailureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tt.service, "rid", tt.err)
			if w.Code != tt.wantStatus || w.Header().Get("x-amzn-ErrorType") != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Header().Get("x-amzn-ErrorType"), tt.wantStatus, tt.wantCode)
			}
			if strings.Contains(w.Body.String(), "disk on fire") {
				t.Fatal("internal detail leaked to the client")
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	r := httptest.NewRequest("GET", "/things", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	s, ok := ParseScope(r)
	if !ok || s.AccessKey != "AKID" || s.Region != "eu-west-1" || s.Service != "iot" || s.Signature != "abc" || len(s.SignedHeaders) != 2 {
		t.Fatalf("got %+v %v", s, ok)
	}
	for _, bad := range []string{"", "Basic abc", "AWS4-HMAC-SHA256 Credential=AKID/x/aws4_request", "AWS4-HMAC-SHA256 Signature=x"} {
		r.Header.Set("Authorization", bad)
		if _, ok := ParseScope(r); ok {
			t.Fatalf("%q parsed as a scope", bad)
		}
	}
}

// FuzzDecode: any method, path, query, header and body decode to a value or an AWS error, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add("GET", "/things/t1/thing-groups?maxResults=5", "", "")
	f.Add("PUT", "/things/t1/principals", `{"other":"x"}`, "arn")
	f.Add("GET", "/destinations/%zz", "", "")
	r := NewRouter(testRoutes)
	f.Fuzz(func(t *testing.T, method, target, body, principal string) {
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		rt, labels, _ := r.Match(method, u.EscapedPath(), u.Query())
		if rt == nil {
			return
		}
		var in listIn
		h := http.Header{"X-Amzn-Principal": {principal}}
		if err := Decode(rt, labels, u.Query(), h, []byte(body), &in); err != nil {
			if e := awserr.From(err); e.Code == awserr.InternalFailure {
				t.Fatalf("decode error is not a client error: %v", err)
			}
		}
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }

func ptr32(v int32) *int32 { return &v }
