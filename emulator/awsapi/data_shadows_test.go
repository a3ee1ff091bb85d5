package awsapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// jsonField decodes doc and returns the member at path.
func jsonField(t *testing.T, doc []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", doc, err)
	}
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// TestShadowsWithGoSDK drives GetThingShadow, UpdateThingShadow and DeleteThingShadow, classic and
// named, through aws-sdk-go-v2's iotdataplane client, errors included: each error is the modelled
// exception with the status of the shadow service's code (AWS: device-shadow-error-messages).
func TestShadowsWithGoSDK(t *testing.T) {
	e := newDataEnv(t)
	c := e.data()
	big := `{"state":{"desired":{"blob":"` + strings.Repeat("x", 8200) + `"}}}`
	type result struct {
		payload []byte
		err     error
	}
	update := func(thing, name, doc string) result {
		in := &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), Payload: []byte(doc)}
		if name != "" {
			in.ShadowName = aws.String(name)
		}
		out, err := c.UpdateThingShadow(ctx, in)
		if err != nil {
			return result{err: err}
		}
		return result{payload: out.Payload}
	}
	get := func(thing, name string) result {
		in := &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)}
		if name != "" {
			in.ShadowName = aws.String(name)
		}
		out, err := c.GetThingShadow(ctx, in)
		if err != nil {
			return result{err: err}
		}
		return result{payload: out.Payload}
	}
	del := func(thing, name string) result {
		in := &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(thing)}
		if name != "" {
			in.ShadowName = aws.String(name)
		}
		out, err := c.DeleteThingShadow(ctx, in)
		if err != nil {
			return result{err: err}
		}
		return result{payload: out.Payload}
	}

	steps := []struct {
		name   string
		call   func() result
		code   string // expected error code; "" for success
		status int
		msg    string
		check  func(t *testing.T, doc []byte)
	}{
		{name: "get before any update", call: func() result { return get("lamp", "") },
			code: "ResourceNotFoundException", status: 404, msg: "No shadow exists with name: 'lamp'"},
		{name: "update desired", call: func() result { return update("lamp", "", `{"state":{"desired":{"color":"red"}},"clientToken":"app"}`) },
			check: func(t *testing.T, doc []byte) {
				if v, tok := jsonField(t, doc, "version"), jsonField(t, doc, "clientToken"); v != 1.0 || tok != "app" {
					t.Errorf("accepted: got %s, want version 1 and clientToken app", doc)
				}
			}},
		{name: "update reported", call: func() result { return update("lamp", "", `{"state":{"reported":{"color":"blue"}}}`) }},
		{name: "get has the delta", call: func() result { return get("lamp", "") },
			check: func(t *testing.T, doc []byte) {
				if d := jsonField(t, doc, "state", "delta", "color"); d != "red" {
					t.Errorf("delta: got %s, want color red", doc)
				}
				if v := jsonField(t, doc, "version"); v != 2.0 {
					t.Errorf("version: got %v, want 2", v)
				}
			}},
		{name: "stale version", call: func() result { return update("lamp", "", `{"state":{"desired":{"color":"green"}},"version":1}`) },
			code: "ConflictException", status: 409, msg: "Version conflict"},
		{name: "matching version", call: func() result { return update("lamp", "", `{"state":{"desired":{"color":"green"}},"version":2}`) }},
		{name: "invalid JSON", call: func() result { return update("lamp", "", `{"state":`) },
			code: "InvalidRequestException", status: 400, msg: "Invalid JSON"},
		{name: "missing state", call: func() result { return update("lamp", "", `{"clientToken":"x"}`) },
			code: "InvalidRequestException", status: 400, msg: "Missing required node: state"},
		{name: "document over 8 KB", call: func() result { return update("lamp", "", big) },
			code: "RequestEntityTooLargeException", status: 413, msg: "The payload exceeds the maximum size allowed"},
		{name: "not UTF-8", call: func() result { return update("lamp", "", "{\"state\":{\"desired\":{\"a\":\"\xc3\x28\"}}}") },
			code: "UnsupportedDocumentEncodingException", status: 415},
		{name: "invalid thing name", call: func() result { return get("lamp.1", "") },
			code: "InvalidRequestException", status: 400},
		{name: "invalid shadow name", call: func() result { return get("lamp", "a.b") },
			code: "InvalidRequestException", status: 400},
		{name: "named shadow is separate", call: func() result { return get("lamp", "cfg") },
			code: "ResourceNotFoundException", status: 404, msg: "No shadow exists with name: 'lamp~cfg'"},
		{name: "named update", call: func() result { return update("lamp", "cfg", `{"state":{"reported":{"fw":"1.2"}}}`) },
			check: func(t *testing.T, doc []byte) {
				if v := jsonField(t, doc, "version"); v != 1.0 {
					t.Errorf("named version: got %v, want 1", v)
				}
			}},
		{name: "named get", call: func() result { return get("lamp", "cfg") },
			check: func(t *testing.T, doc []byte) {
				if v := jsonField(t, doc, "state", "reported", "fw"); v != "1.2" {
					t.Errorf("named get: got %s", doc)
				}
			}},
		{name: "delete classic", call: func() result { return del("lamp", "") },
			check: func(t *testing.T, doc []byte) {
				if v := jsonField(t, doc, "version"); v != 3.0 {
					t.Errorf("delete: got %s, want version 3", doc)
				}
			}},
		{name: "classic gone", call: func() result { return get("lamp", "") }, code: "ResourceNotFoundException", status: 404},
		{name: "delete missing", call: func() result { return del("lamp", "") }, code: "ResourceNotFoundException", status: 404},
		{name: "named survives", call: func() result { return get("lamp", "cfg") }},
		{name: "recreated continues the version", call: func() result { return update("lamp", "", `{"state":{"reported":{"on":true}}}`) },
			check: func(t *testing.T, doc []byte) {
				if v := jsonField(t, doc, "version"); v != 4.0 {
					t.Errorf("recreated: got %s, want version 4", doc)
				}
			}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := st.call()
			if st.code != "" {
				wantAPIError(t, r.err, st.code, st.status)
				if st.msg != "" {
					wantErrMessage(t, r.err, st.msg)
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !json.Valid(r.payload) {
				t.Fatalf("payload is not JSON: %q", r.payload)
			}
			if st.check != nil {
				st.check(t, r.payload)
			}
		})
	}
}

// TestShadowHTTPUpdatePublishes: an accepted HTTP update publishes the notifications, a rejected one
// publishes nothing (AWS: device-shadow-error-messages).
func TestShadowHTTPUpdatePublishes(t *testing.T) {
	e := newDataEnv(t)
	c := e.data()
	_, err := c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("bulb"), ShadowName: aws.String("ui"),
		Payload: []byte(`{"state":{"desired":{"on":true}}}`)})
	mustOK(t, err)
	prefix := "$aws/things/bulb/shadow/name/ui/update/"
	want := []string{prefix + "accepted", prefix + "documents", prefix + "delta"}
	if got := e.Pub.topics(); !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	e.Pub.reset()
	_, err = c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("bulb"), ShadowName: aws.String("ui"),
		Payload: []byte(`{"state":{"desired":{"on":false}},"version":99}`)})
	wantAPIError(t, err, "ConflictException", 409)
	if got := e.Pub.topics(); len(got) != 0 {
		t.Fatalf("a rejected HTTP update published %v", got)
	}
}

// TestListNamedShadowsWithGoSDK pages through ListNamedShadowsForThing.
func TestListNamedShadowsWithGoSDK(t *testing.T) {
	e := newDataEnv(t)
	c := e.data()
	names := []string{"e", "a", "d", "b", "c"}
	for _, n := range names {
		_, err := c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("gw"), ShadowName: aws.String(n), Payload: []byte(`{"state":{}}`)})
		mustOK(t, err)
	}
	_, err := c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("gw"), Payload: []byte(`{"state":{}}`)})
	mustOK(t, err)

	var got []string
	var token *string
	pages := 0
	for {
		out, err := c.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("gw"), PageSize: aws.Int32(2), NextToken: token})
		mustOK(t, err)
		pages++
		if out.Timestamp != regEpoch.Unix() {
			t.Errorf("timestamp: got %d, want %d", out.Timestamp, regEpoch.Unix())
		}
		got = append(got, out.Results...)
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("got %v in %d pages, want %v in 3 (the classic shadow never listed)", got, pages, want)
	}

	out, err := c.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("nobody")})
	mustOK(t, err)
	if len(out.Results) != 0 || out.NextToken != nil {
		t.Fatalf("thing without shadows: got %+v", out)
	}

	for _, c2 := range []struct {
		name string
		in   *iotdataplane.ListNamedShadowsForThingInput
	}{
		{"page size 101", &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("gw"), PageSize: aws.Int32(101)}},
		{"page size 0", &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("gw"), PageSize: aws.Int32(0)}},
		{"foreign token", &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("gw"), NextToken: aws.String("%%%")}},
	} {
		t.Run(c2.name, func(t *testing.T) {
			_, err := c.ListNamedShadowsForThing(ctx, c2.in)
			wantAPIError(t, err, "InvalidRequestException", 400)
		})
	}
}

// TestShadowsRawHTTP covers what SDKs don't send: an unsigned request (routed by path), a request
// signed for "iotdevicegateway" (the signing name AWS's guide gives), the JSON body of
// ListNamedShadowsForThing, and the answer when no shadow service is wired.
func TestShadowsRawHTTP(t *testing.T) {
	e := newDataEnv(t)
	_, err := e.data().UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("raw"), Payload: []byte(`{"state":{"reported":{"x":1}}}`)})
	mustOK(t, err)

	send := func(t *testing.T, url, method, body, signAs string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		mustOK(t, err)
		if signAs != "" {
			h := sha256.Sum256([]byte(body))
			creds := aws.Credentials{AccessKeyID: "AKIDIOTLAB", SecretAccessKey: "secret"}
			mustOK(t, v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(h[:]), signAs, "eu-west-1", time.Now()))
		}
		resp, err := http.DefaultClient.Do(req)
		mustOK(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	cases := []struct {
		name, method, path, body, signAs string
		status                           int
		errType                          string
		check                            func(t *testing.T, body []byte)
	}{
		{name: "unsigned get", method: "GET", path: "/things/raw/shadow", status: 200,
			check: func(t *testing.T, b []byte) {
				if jsonField(t, b, "state", "reported", "x") != 1.0 {
					t.Errorf("got %s", b)
				}
			}},
		{name: "signed as iotdevicegateway", method: "GET", path: "/things/raw/shadow", signAs: "iotdevicegateway", status: 200},
		{name: "signed as iotdata", method: "POST", path: "/things/raw/shadow?name=n1", body: `{"state":{"desired":{"y":2}}}`, signAs: "iotdata", status: 200},
		{name: "list body", method: "GET", path: "/api/things/shadow/ListNamedShadowsForThing/raw", status: 200,
			check: func(t *testing.T, b []byte) {
				var out struct {
					Results   []string `json:"results"`
					Timestamp int64    `json:"timestamp"`
				}
				if err := json.Unmarshal(b, &out); err != nil || !slices.Equal(out.Results, []string{"n1"}) || out.Timestamp == 0 {
					t.Errorf("got %s, want results [n1] and a timestamp", b)
				}
			}},
		{name: "empty list still has results", method: "GET", path: "/api/things/shadow/ListNamedShadowsForThing/none", status: 200,
			check: func(t *testing.T, b []byte) {
				if !bytes.Contains(b, []byte(`"results":[]`)) {
					t.Errorf("got %s, want \"results\":[]", b)
				}
			}},
		{name: "empty body", method: "POST", path: "/things/raw/shadow", status: 400, errType: "InvalidRequestException"},
		{name: "unsupported method", method: "PUT", path: "/things/raw/shadow", status: 405, errType: "MethodNotAllowedException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := send(t, e.URL+c.path, c.method, c.body, c.signAs)
			if status != c.status {
				t.Fatalf("status: got %d (%s), want %d", status, body, c.status)
			}
			if got := h.Get("x-amzn-ErrorType"); got != c.errType {
				t.Fatalf("x-amzn-ErrorType: got %q, want %q", got, c.errType)
			}
			if c.check != nil {
				c.check(t, body)
			}
		})
	}

	t.Run("no shadow service", func(t *testing.T) {
		bare := newDataEnv(t, func(c *Config) { c.Shadows = nil })
		_, err := bare.data().GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("raw")})
		wantAPIError(t, err, "ServiceUnavailableException", 503)
	})
}

// TestShadowHTTPStoreFailure: a failed disk write is a 500 InternalFailureException and changes
// nothing.
func TestShadowHTTPStoreFailure(t *testing.T) {
	e := newDataEnv(t)
	c := e.data()
	_, err := c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("disk"), Payload: []byte(`{"state":{"reported":{"n":1}}}`)})
	mustOK(t, err)
	e.Store.FailWrites(errDiskFull)
	_, err = c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("disk"), Payload: []byte(`{"state":{"reported":{"n":2}}}`)})
	wantAPIError(t, err, "InternalFailureException", 500)
	e.Store.FailWrites(nil)
	out, err := c.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("disk")})
	mustOK(t, err)
	if n := jsonField(t, out.Payload, "state", "reported", "n"); n != 1.0 {
		t.Fatalf("after the failed write: got %s, want n 1", out.Payload)
	}
}

// errDiskFull is the injected write failure.
var errDiskFull = io.ErrShortWrite
