package awsapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

// TestPublishWithGoSDK: what iot-data Publish hands the broker, MQTT 5 properties included
// (checklist 54), and the requests it refuses.
func TestPublishWithGoSDK(t *testing.T) {
	cases := []struct {
		name   string
		in     iotdataplane.PublishInput
		want   *Message // nil when the call fails
		code   string
		status int
	}{
		{
			name: "plain",
			in:   iotdataplane.PublishInput{Topic: aws.String("sensors/t1"), Payload: []byte(`{"t":21}`)},
			want: &Message{Topic: "sensors/t1", Payload: []byte(`{"t":21}`)},
		},
		{
			name: "qos 1 retained",
			in:   iotdataplane.PublishInput{Topic: aws.String("status/lamp"), Qos: 1, Retain: true, Payload: []byte("on")},
			want: &Message{Topic: "status/lamp", Payload: []byte("on"), QoS: 1, Retain: true},
		},
		{
			name: "retained empty payload deletes",
			in:   iotdataplane.PublishInput{Topic: aws.String("status/lamp"), Retain: true},
			want: &Message{Topic: "status/lamp", Retain: true},
		},
		{
			name: "MQTT 5 properties",
			in: iotdataplane.PublishInput{
				Topic: aws.String("req/1"), Payload: []byte("hi"),
				UserProperties:         aws.String(`[{"deviceName":"alpha"},{"deviceCnt":"45"},{"deviceName":"beta"}]`),
				ContentType:            aws.String("text/plain"),
				ResponseTopic:          aws.String("resp/1"),
				CorrelationData:        aws.String(base64.StdEncoding.EncodeToString([]byte{0, 1, 2})),
				PayloadFormatIndicator: types.PayloadFormatIndicatorUtf8Data,
				MessageExpiry:          30,
			},
			want: &Message{
				Topic: "req/1", Payload: []byte("hi"),
				UserProperties:  []UserProperty{{"deviceName", "alpha"}, {"deviceCnt", "45"}, {"deviceName", "beta"}},
				ContentType:     "text/plain",
				ResponseTopic:   "resp/1",
				CorrelationData: []byte{0, 1, 2},
				PayloadUTF8:     ptr(true),
				MessageExpiry:   ptr(uint32(30)),
			},
		},
		{
			name: "unspecified bytes, expiry clamped to 7 days",
			in:   iotdataplane.PublishInput{Topic: aws.String("b"), PayloadFormatIndicator: types.PayloadFormatIndicatorUnspecifiedBytes, MessageExpiry: 10_000_000},
			want: &Message{Topic: "b", PayloadUTF8: ptr(false), MessageExpiry: ptr(uint32(604800))},
		},
		{
			name: "reserved topic without retain",
			in:   iotdataplane.PublishInput{Topic: aws.String("$aws/things/x/shadow/update/accepted"), Payload: []byte("{}")},
			want: &Message{Topic: "$aws/things/x/shadow/update/accepted", Payload: []byte("{}")},
		},
		{
			name: "qos 2",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), Qos: 2},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "payload over 128 KB",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), Payload: make([]byte, 128<<10+1)},
			code: "RequestEntityTooLargeException", status: 413,
		},
		{
			name: "wildcard topic",
			in:   iotdataplane.PublishInput{Topic: aws.String("a/+/b")},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "retained reserved topic",
			in:   iotdataplane.PublishInput{Topic: aws.String("$aws/things/x/shadow/update"), Retain: true, Payload: []byte("{}")},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "wildcard response topic",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), ResponseTopic: aws.String("r/#")},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "user properties not an array",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), UserProperties: aws.String(`{"k":"v"}`)},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "correlation data not base64",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), CorrelationData: aws.String("***")},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "unknown payload format indicator",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), PayloadFormatIndicator: types.PayloadFormatIndicator("TEXT")},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "negative message expiry",
			in:   iotdataplane.PublishInput{Topic: aws.String("a"), MessageExpiry: -5},
			code: "InvalidRequestException", status: 400,
		},
		{
			name: "topic over 256 bytes",
			in:   iotdataplane.PublishInput{Topic: aws.String(strings.Repeat("t", 257))},
			code: "InvalidRequestException", status: 400,
		},
	}
	e := newDataEnv(t)
	c := e.data()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.Data.published())
			_, err := c.Publish(ctx, &tc.in)
			msgs := e.Data.published()[before:]
			if tc.want == nil {
				wantAPIError(t, err, tc.code, tc.status)
				if len(msgs) != 0 {
					t.Fatalf("a refused publish reached the broker: %+v", msgs)
				}
				return
			}
			mustOK(t, err)
			if len(msgs) != 1 {
				t.Fatalf("broker got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if len(got.Payload) == 0 {
				got.Payload = nil
			}
			if !reflect.DeepEqual(&got, tc.want) {
				t.Fatalf("broker got\n %+v\nwant\n %+v", got, *tc.want)
			}
		})
	}
}

// TestUserPropertiesHeader: the header as boto3 (JSON of the value it is given, so a string arrives
// quoted), the SDKs and hand-written requests send it.
func TestUserPropertiesHeader(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, header string
		want         []UserProperty
		bad          bool
	}{
		{name: "array", header: b64(`[{"a":"1"},{"b":"2"}]`), want: []UserProperty{{"a", "1"}, {"b", "2"}}},
		{name: "several members keep their order", header: b64(`[{"z":"1","a":"2"}]`), want: []UserProperty{{"z", "1"}, {"a", "2"}}},
		{name: "boto3 string", header: b64(`"[{\"a\":\"1\"}]"`), want: []UserProperty{{"a", "1"}}},
		{name: "numbers and booleans", header: b64(`[{"n":45,"b":true}]`), want: []UserProperty{{"n", "45"}, {"b", "true"}}},
		{name: "empty array", header: b64(`[]`), want: nil},
		{name: "not base64", header: "[{", bad: true},
		{name: "object", header: b64(`{"a":"1"}`), bad: true},
		{name: "nested", header: b64(`[{"a":{"b":"c"}}]`), bad: true},
		{name: "null value", header: b64(`[{"a":null}]`), bad: true},
		{name: "trailing data", header: b64(`[] []`), bad: true},
		{name: "truncated", header: b64(`[{"a":"1"`), bad: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseUserProperties(c.header)
			if c.bad {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			mustOK(t, err)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestPublishToShadowTopic: a message published over HTTP to a shadow request topic reaches the
// subscribers and is a shadow request, answered on the response topics (as a rule's republish is).
func TestPublishToShadowTopic(t *testing.T) {
	e := newDataEnv(t)
	_, err := e.data().Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("$aws/things/heater/shadow/update"), Qos: 1,
		Payload: []byte(`{"state":{"desired":{"temp":20}}}`)})
	mustOK(t, err)
	m := e.Pub.wait(t, "$aws/things/heater/shadow/update/delta")
	if v := jsonField(t, m.Payload, "state", "temp"); v != 20.0 {
		t.Fatalf("delta: got %s", m.Payload)
	}
	out, err := e.data().GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("heater")})
	mustOK(t, err)
	if v := jsonField(t, out.Payload, "state", "desired", "temp"); v != 20.0 {
		t.Fatalf("shadow: got %s", out.Payload)
	}
	if got := e.Data.published(); len(got) != 1 || got[0].Topic != "$aws/things/heater/shadow/update" {
		t.Fatalf("broker got %+v, want the request itself", got)
	}
}

// TestPublishWithoutBroker: no broker wired → ServiceUnavailableException, never a silent drop.
func TestPublishWithoutBroker(t *testing.T) {
	e := newDataEnv(t, func(c *Config) { c.DataPlane = nil })
	_, err := e.data().Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("a")})
	wantAPIError(t, err, "ServiceUnavailableException", 503)
	_, err = e.data().DeleteConnection(ctx, &iotdataplane.DeleteConnectionInput{ClientId: aws.String("dev")})
	wantAPIError(t, err, "ServiceUnavailableException", 503)
}

// TestDeleteConnectionWithGoSDK: the flags reach the broker; an unknown client is 404 and a '$'
// client ID 400 (AWS: API_iotdata_DeleteConnection).
func TestDeleteConnectionWithGoSDK(t *testing.T) {
	e := newDataEnv(t)
	e.Data.clients["dev-1"] = true
	e.Data.clients["dev/2"] = true
	c := e.data()
	cases := []struct {
		name   string
		in     iotdataplane.DeleteConnectionInput
		want   *disconnectCall
		code   string
		status int
	}{
		{name: "defaults", in: iotdataplane.DeleteConnectionInput{ClientId: aws.String("dev-1")},
			want: &disconnectCall{ClientID: "dev-1"}},
		{name: "clean session, no will", in: iotdataplane.DeleteConnectionInput{ClientId: aws.String("dev-1"), CleanSession: true, PreventWillMessage: true},
			want: &disconnectCall{ClientID: "dev-1", CleanSession: true, PreventWill: true}},
		{name: "client ID with a slash", in: iotdataplane.DeleteConnectionInput{ClientId: aws.String("dev/2")},
			want: &disconnectCall{ClientID: "dev/2"}},
		{name: "unknown client", in: iotdataplane.DeleteConnectionInput{ClientId: aws.String("nobody")},
			code: "ResourceNotFoundException", status: 404},
		{name: "dollar client ID", in: iotdataplane.DeleteConnectionInput{ClientId: aws.String("$iotlab/broker")},
			code: "InvalidRequestException", status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.Data.mu.Lock()
			e.Data.disconnects = nil
			e.Data.mu.Unlock()
			_, err := c.DeleteConnection(ctx, &tc.in)
			if tc.want == nil {
				wantAPIError(t, err, tc.code, tc.status)
				return
			}
			mustOK(t, err)
			e.Data.mu.Lock()
			got := append([]disconnectCall(nil), e.Data.disconnects...)
			e.Data.mu.Unlock()
			if len(got) != 1 || got[0] != *tc.want {
				t.Fatalf("broker got %+v, want %+v", got, *tc.want)
			}
		})
	}
}

// TestRetainedMessagesWithGoSDK: GetRetainedMessage and ListRetainedMessages over the Retained
// interface (checklist 53).
func TestRetainedMessagesWithGoSDK(t *testing.T) {
	e := newDataEnv(t)
	mod := time.UnixMilli(1772366400123)
	e.Retained.put(RetainedMessage{Topic: "status/lamp", Payload: []byte("on"), QoS: 1, LastModified: mod,
		UserProperties: []UserProperty{{"a", "1"}, {"b", "2"}}})
	for _, tp := range []string{"c/1", "c/2", "c/3", "a"} {
		e.Retained.put(RetainedMessage{Topic: tp, Payload: []byte(tp + "!"), LastModified: mod})
	}
	c := e.data()

	t.Run("get", func(t *testing.T) {
		out, err := c.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("status/lamp")})
		mustOK(t, err)
		if aws.ToString(out.Topic) != "status/lamp" || string(out.Payload) != "on" || out.Qos != 1 || out.LastModifiedTime != 1772366400123 ||
			string(out.UserProperties) != `[{"a":"1"},{"b":"2"}]` {
			t.Fatalf("got %+v (userProperties %s)", out, out.UserProperties)
		}
	})
	t.Run("get qos 0", func(t *testing.T) {
		out, err := c.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("a")})
		mustOK(t, err)
		if out.Qos != 0 || string(out.Payload) != "a!" || out.UserProperties != nil {
			t.Fatalf("got %+v", out)
		}
	})
	t.Run("get missing", func(t *testing.T) {
		_, err := c.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("nothing/here")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("list in pages", func(t *testing.T) {
		p := iotdataplane.NewListRetainedMessagesPaginator(c, &iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(2)})
		var topics []string
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			mustOK(t, err)
			pages++
			for _, s := range out.RetainedTopics {
				topics = append(topics, aws.ToString(s.Topic))
				if s.PayloadSize != int64(len(aws.ToString(s.Topic))+1) && aws.ToString(s.Topic) != "status/lamp" {
					t.Errorf("%s: payloadSize %d", aws.ToString(s.Topic), s.PayloadSize)
				}
				if s.LastModifiedTime != 1772366400123 {
					t.Errorf("%s: lastModifiedTime %d", aws.ToString(s.Topic), s.LastModifiedTime)
				}
			}
		}
		if want := []string{"a", "c/1", "c/2", "c/3", "status/lamp"}; !reflect.DeepEqual(topics, want) || pages != 3 {
			t.Fatalf("got %v in %d pages, want %v in 3", topics, pages, want)
		}
	})
	for _, tc := range []struct {
		name string
		in   iotdataplane.ListRetainedMessagesInput
	}{
		{"max results 0", iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(0)}},
		{"max results 201", iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(201)}},
		{"foreign token", iotdataplane.ListRetainedMessagesInput{NextToken: aws.String("***")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListRetainedMessages(ctx, &tc.in)
			wantAPIError(t, err, "InvalidRequestException", 400)
		})
	}
	t.Run("empty list", func(t *testing.T) {
		bare := newDataEnv(t)
		resp, err := http.Get(bare.URL + "/retainedMessage")
		mustOK(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != `{"retainedTopics":[]}` {
			t.Fatalf("got %d %s, want 200 {\"retainedTopics\":[]}", resp.StatusCode, body)
		}
	})
	t.Run("no broker", func(t *testing.T) {
		bare := newDataEnv(t, func(c *Config) { c.Retained = nil })
		_, err := bare.data().ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{})
		wantAPIError(t, err, "ServiceUnavailableException", 503)
	})
}
