package awsapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotlab/iotlab/emulator/awsapi/datamodel"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
)

// The iot-data plane (signing name iotdata): Publish, DeleteConnection, the retained messages and the
// Device Shadow operations (data_shadows.go). Over HTTP the caller is an IAM principal: iotlab
// accepts every signed or unsigned request, so no IoT policy applies here; devices over MQTT are
// checked by the broker (AWS: iot-data API, device-shadow-rest-api).
//
// The back ends are interfaces declared here and bound by emulator/instance: the broker (DataPlane,
// Retained) and emulator/shadowsvc (Shadows).

// DataPlane is what Publish and DeleteConnection need from the MQTT broker.
type DataPlane interface {
	// Publish sends m as the service does: no publish policy, every delivery checked with the
	// subscriber's iot:Receive. An *awserr.Error is returned to the caller as is; any other error is
	// an InvalidRequestException carrying its text (the broker refuses only malformed publishes).
	Publish(m Message) error
	// Disconnect ends clientID's connection (and, with cleanSession, its session), publishing its
	// will unless preventWill; false when there was neither a connection nor a persistent session.
	Disconnect(clientID string, cleanSession, preventWill bool) bool
}

// Message is a message published through the iot-data Publish operation. The MQTT 5 properties are
// forwarded to MQTT 5 subscribers; a zero field is an absent property.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte // 0 or 1
	Retain  bool

	UserProperties  []UserProperty // in order
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	// PayloadUTF8 is the Payload Format Indicator: nil absent, false unspecified bytes (0), true
	// UTF-8 data (1).
	PayloadUTF8 *bool
	// MessageExpiry is the Message Expiry Interval in seconds (1 to 604800), nil when absent.
	MessageExpiry *uint32
}

// UserProperty is an MQTT 5 user property.
type UserProperty struct{ Key, Value string }

// Shadows is the Device Shadow service (emulator/shadowsvc's Service). Rejections are
// *shadow.Error, answered with Error.Exception and the status of Error.Code; any other error is an
// internal failure.
type Shadows interface {
	Get(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error)
	Update(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error)
	Delete(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error)
	ListNamed(sc registry.Scope, thing, nextToken string, pageSize int) (names []string, next string, err error)
	// Submit hands a message published over HTTP to a shadow request topic to the shadow service,
	// which answers it on the response topics as it answers devices; false when the topic isn't
	// one of those.
	Submit(sc registry.Scope, clientID, topic string, payload []byte) bool
}

// Retained is the broker's store of retained messages.
type Retained interface {
	// RetainedMessage returns the message retained for topic.
	RetainedMessage(topic string) (RetainedMessage, bool)
	// RetainedMessages returns every retained message, in any order (Payload may be nil when
	// PayloadSize is set).
	RetainedMessages() []RetainedMessage
}

// RetainedMessage is a retained message as the iot-data API describes it.
type RetainedMessage struct {
	Topic          string
	Payload        []byte
	PayloadSize    int // len(Payload) when 0
	QoS            byte
	LastModified   time.Time
	UserProperties []UserProperty
}

func (s *Server) registerData() {
	s.handle("iotdata", "Publish", op(s.publish))
	s.handle("iotdata", "DeleteConnection", op(s.deleteConnection))
	s.handle("iotdata", "GetRetainedMessage", op(s.getRetainedMessage))
	s.handle("iotdata", "ListRetainedMessages", op(s.listRetainedMessages))
	s.registerShadows()
}

// Limits of the data plane. AWS: GR:iot-core (message broker limits), mqtt.html#mqtt5-properties
const (
	maxPublishPayload = 128 << 10 // "The AWS IoT service rejects publish … requests larger than this size"
	maxMessageExpiry  = 604800    // 7 days; larger values are clamped
	maxTopicBytes     = 256
)

// noBroker answers a data-plane call when no broker is wired (e.g. an API-only test server).
func noBroker() error {
	return awserr.New(awserr.ServiceUnavailable, "The MQTT message broker is not running")
}

// AWS: API_iotdata_Publish, mqtt.html#mqtt5-properties
func (s *Server) publish(r *Request, in *datamodel.PublishRequest) (*struct{}, error) {
	m := Message{Topic: in.Topic, Payload: in.Payload, Retain: deref(in.Retain), ContentType: in.ContentType, ResponseTopic: in.ResponseTopic}
	if err := checkTopicName(in.Topic, "topic"); err != nil {
		return nil, err
	}
	if in.Qos != nil {
		if q := *in.Qos; q < 0 || q > 1 {
			// AWS IoT Core supports QoS 0 and 1 (model: Qos 0–1).
			return nil, awserr.InvalidReq("1 validation error detected: Value '%d' at 'qos' failed to satisfy constraint: Member must have value less than or equal to 1", q)
		}
		m.QoS = byte(*in.Qos)
	}
	if len(in.Payload) > maxPublishPayload {
		return nil, awserr.New(awserr.RequestEntityTooLarge, "The payload exceeds the maximum size allowed (%d bytes)", maxPublishPayload)
	}
	if m.Retain && strings.HasPrefix(in.Topic, "$") {
		// AWS: mqtt.html#mqtt-retain — "You can't publish to a reserved topic with the RETAIN flag set."
		return nil, awserr.InvalidReq("Retained messages can't be published to reserved topics: %s", in.Topic)
	}
	if in.ResponseTopic != "" {
		if err := checkTopicName(in.ResponseTopic, "responseTopic"); err != nil {
			return nil, err
		}
	}
	if in.UserProperties != "" {
		ups, err := parseUserProperties(in.UserProperties)
		if err != nil {
			return nil, err
		}
		m.UserProperties = ups
	}
	switch in.PayloadFormatIndicator {
	case "":
	case "UNSPECIFIED_BYTES":
		m.PayloadUTF8 = ptr(false)
	case "UTF8_DATA":
		m.PayloadUTF8 = ptr(true)
	default:
		return nil, awserr.InvalidReq("1 validation error detected: Value '%s' at 'payloadFormatIndicator' failed to satisfy constraint: Member must satisfy enum value set: [UNSPECIFIED_BYTES, UTF8_DATA]", in.PayloadFormatIndicator)
	}
	if in.CorrelationData != "" {
		// The header carries the correlation data base64-encoded (model: "The base64-encoded binary data").
		b, err := base64.StdEncoding.DecodeString(in.CorrelationData)
		if err != nil {
			return nil, awserr.InvalidReq("correlationData must be base64-encoded")
		}
		m.CorrelationData = b
	}
	if in.MessageExpiry != nil {
		e := *in.MessageExpiry
		if e < 0 {
			return nil, awserr.InvalidReq("messageExpiry must not be negative")
		}
		// AWS: mqtt.html#mqtt5-properties — 0 is treated as 1, more than 7 days as 7 days.
		m.MessageExpiry = ptr(uint32(min(max(e, 1), maxMessageExpiry)))
	}
	if s.cfg.DataPlane == nil {
		return nil, noBroker()
	}
	if err := s.cfg.DataPlane.Publish(m); err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, awserr.InvalidReq("%v", err)
	}
	if s.cfg.Shadows != nil && strings.HasPrefix(m.Topic, "$aws/things/") {
		// A publish to a shadow request topic is a shadow request, as from a device or a rule's
		// republish action; the answers go to the response topics.
		s.cfg.Shadows.Submit(r.Scope, "", m.Topic, m.Payload)
	}
	return nil, nil
}

// checkTopicName applies AWS's rules for a topic name: not empty, UTF-8, no wildcards, at most 256
// bytes. AWS: topics.html
func checkTopicName(t, member string) error {
	switch {
	case t == "":
		return awserr.InvalidReq("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must not be empty", member)
	case !utf8.ValidString(t) || strings.ContainsRune(t, 0):
		return awserr.InvalidReq("The %s is not valid UTF-8", member)
	case strings.ContainsAny(t, "+#"):
		return awserr.InvalidReq("The %s must not contain wildcard characters: %s", member, t)
	case len(t) > maxTopicBytes && !strings.HasPrefix(t, "$aws/rules/"):
		return awserr.InvalidReq("The %s is longer than %d bytes", member, maxTopicBytes)
	}
	return nil
}

// parseUserProperties reads the x-amz-mqtt5-user-properties header: base64 of a JSON array of
// objects, each holding one or more "name": "value" members, in order — e.g.
// [{"deviceName":"alpha"},{"deviceCnt":"45"}]. boto3 JSON-encodes the value it is given, so a
// string holding that array (which it sends quoted) is accepted too. Numbers and booleans become
// their JSON text.
func parseUserProperties(header string) ([]UserProperty, error) {
	bad := awserr.InvalidReq("userProperties must be a base64-encoded JSON array of objects with string values")
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil, bad
	}
	var quoted string
	if json.Unmarshal(raw, &quoted) == nil {
		raw = []byte(quoted)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	expect := func(want json.Delim) bool {
		tok, err := dec.Token()
		return err == nil && tok == want
	}
	if !expect('[') {
		return nil, bad
	}
	var out []UserProperty
	for dec.More() {
		if !expect('{') {
			return nil, bad
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, bad
			}
			v, err := dec.Token()
			if err != nil {
				return nil, bad
			}
			var val string
			switch v := v.(type) {
			case string:
				val = v
			case json.Number:
				val = v.String()
			case bool:
				val = "false"
				if v {
					val = "true"
				}
			default:
				return nil, bad
			}
			out = append(out, UserProperty{Key: k.(string), Value: val})
		}
		if !expect('}') {
			return nil, bad
		}
	}
	if !expect(']') {
		return nil, bad
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad
	}
	return out, nil
}

// encodeUserProperties is the userProperties blob of GetRetainedMessage: a JSON array of one-member
// objects, in order; nil when there are none.
func encodeUserProperties(ups []UserProperty) []byte {
	if len(ups) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, up := range ups {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(up.Key)
		v, _ := json.Marshal(up.Value)
		b.WriteByte('{')
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes()
}

// AWS: API_iotdata_DeleteConnection, mqtt.html#mqtt-client-disconnect
func (s *Server) deleteConnection(r *Request, in *datamodel.DeleteConnectionRequest) (*struct{}, error) {
	id := in.ClientId
	if id == "" || strings.HasPrefix(id, "$") || utf8.RuneCountInString(id) > 128 {
		return nil, awserr.InvalidReq("1 validation error detected: Value '%s' at 'clientId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[^$].*", id)
	}
	if s.cfg.DataPlane == nil {
		return nil, noBroker()
	}
	if !s.cfg.DataPlane.Disconnect(id, deref(in.CleanSession), deref(in.PreventWillMessage)) {
		return nil, awserr.NotFound("No connection or session exists for client ID %s", id)
	}
	return nil, nil
}

// retained returns the broker's retained messages, or the error to answer when no broker is wired.
func (s *Server) retained() (Retained, error) {
	if s.cfg.Retained == nil {
		return nil, noBroker()
	}
	return s.cfg.Retained, nil
}

// AWS: API_iotdata_GetRetainedMessage
func (s *Server) getRetainedMessage(r *Request, in *datamodel.GetRetainedMessageRequest) (*retainedMessageResponse, error) {
	if err := checkTopicName(in.Topic, "topic"); err != nil {
		return nil, err
	}
	rs, err := s.retained()
	if err != nil {
		return nil, err
	}
	m, ok := rs.RetainedMessage(in.Topic)
	if !ok {
		return nil, awserr.NotFound("No retained message exists for topic %s", in.Topic)
	}
	payload := m.Payload
	if payload == nil {
		payload = []byte{}
	}
	return &retainedMessageResponse{
		Topic:            m.Topic,
		Payload:          payload,
		Qos:              int32(m.QoS),
		LastModifiedTime: m.LastModified.UnixMilli(),
		UserProperties:   encodeUserProperties(m.UserProperties),
	}, nil
}

// retainedMessageResponse is GetRetainedMessageResponse with payload and qos always sent (the
// generated shape drops an empty payload and QoS 0).
type retainedMessageResponse struct {
	Topic            string `json:"topic"`
	Payload          []byte `json:"payload"`
	Qos              int32  `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
	UserProperties   []byte `json:"userProperties,omitempty"`
}

// retainedSummary is a RetainedMessageSummary with qos and payloadSize always sent.
type retainedSummary struct {
	Topic            string `json:"topic"`
	PayloadSize      int64  `json:"payloadSize"`
	Qos              int32  `json:"qos"`
	LastModifiedTime int64  `json:"lastModifiedTime"`
}

type listRetainedResponse struct {
	NextToken      string            `json:"nextToken,omitempty"`
	RetainedTopics []retainedSummary `json:"retainedTopics"`
}

// Page sizes of ListRetainedMessages (model: MaxResults 1–200; AWS documents no default).
const maxRetainedPage = 200

// AWS: API_iotdata_ListRetainedMessages. Topics are listed in byte order; the token is the last
// topic of the page, opaque to clients.
func (s *Server) listRetainedMessages(r *Request, in *datamodel.ListRetainedMessagesRequest) (*listRetainedResponse, error) {
	n := maxRetainedPage
	if in.MaxResults != nil {
		if v := *in.MaxResults; v < 1 || v > maxRetainedPage {
			return nil, awserr.InvalidReq("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", v, maxRetainedPage)
		}
		n = int(*in.MaxResults)
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, awserr.InvalidReq("The nextToken is invalid")
		}
		after = string(b)
	}
	rs, err := s.retained()
	if err != nil {
		return nil, err
	}
	all := rs.RetainedMessages()
	slices.SortFunc(all, func(a, b RetainedMessage) int { return strings.Compare(a.Topic, b.Topic) })
	out := &listRetainedResponse{RetainedTopics: []retainedSummary{}}
	for _, m := range all {
		if m.Topic <= after {
			continue
		}
		if len(out.RetainedTopics) == n {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.RetainedTopics[n-1].Topic))
			break
		}
		size := m.PayloadSize
		if size == 0 {
			size = len(m.Payload)
		}
		out.RetainedTopics = append(out.RetainedTopics, retainedSummary{
			Topic:            m.Topic,
			PayloadSize:      int64(size),
			Qos:              int32(m.QoS),
			LastModifiedTime: m.LastModified.UnixMilli(),
		})
	}
	return out, nil
}
