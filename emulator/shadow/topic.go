package shadow

import "strings"

// Name limits (iot-data service model: ThingName [a-zA-Z0-9:_-]+ 1–128, ShadowName
// [$a-zA-Z0-9:_-]+ 1–64).
const (
	MaxThingNameBytes  = 128
	MaxShadowNameBytes = 64
)

// Operations and response kinds of the reserved topics (AWS: device-shadow-mqtt).
const (
	OpGet    = "get"
	OpUpdate = "update"
	OpDelete = "delete"

	KindAccepted  = "accepted"
	KindRejected  = "rejected"
	KindDelta     = "delta"
	KindDocuments = "documents"
)

// ID names one shadow: the classic (unnamed) shadow of a thing when Shadow is "", else one of its
// named shadows. Classic and named shadows of a thing are independent documents.
type ID struct {
	Thing  string
	Shadow string
}

// String is the name the service uses in its messages: "thing" for the classic shadow,
// "thing~shadow" for a named one.
func (id ID) String() string {
	if id.Shadow == "" {
		return id.Thing
	}
	return id.Thing + "~" + id.Shadow
}

// Valid reports whether both names follow the service model's rules (an empty Shadow is the
// classic shadow).
func (id ID) Valid() bool {
	return ValidThingName(id.Thing) && (id.Shadow == "" || ValidShadowName(id.Shadow))
}

// Prefix is the topic prefix of the shadow: $aws/things/<thing>/shadow[/name/<shadow>].
func (id ID) Prefix() string {
	if id.Shadow == "" {
		return "$aws/things/" + id.Thing + "/shadow"
	}
	return "$aws/things/" + id.Thing + "/shadow/name/" + id.Shadow
}

// ValidThingName reports whether s matches [a-zA-Z0-9:_-]+ and is at most 128 bytes.
func ValidThingName(s string) bool { return validName(s, MaxThingNameBytes, false) }

// ValidShadowName reports whether s matches [$a-zA-Z0-9:_-]+ and is at most 64 bytes. The '$' is
// in the iot-data model's pattern, though AWS's prose lists only [a-zA-Z0-9:_-].
func ValidShadowName(s string) bool { return validName(s, MaxShadowNameBytes, true) }

func validName(s string, max int, dollar bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == ':', c == '_', c == '-':
		case c == '$' && dollar:
		default:
			return false
		}
	}
	return true
}

// Topic is a parsed shadow topic.
type Topic struct {
	ID
	// Op is get, update or delete.
	Op string
	// Kind is "" for a request topic (what devices and apps publish to) and accepted, rejected,
	// delta or documents for a response topic (what the service publishes to).
	Kind string
}

// String builds the topic.
func (t Topic) String() string {
	s := t.Prefix() + "/" + t.Op
	if t.Kind != "" {
		s += "/" + t.Kind
	}
	return s
}

// Response is the topic of the reply of the given kind to the request topic t.
func (t Topic) Response(kind string) string {
	t.Kind = kind
	return t.String()
}

// ResponseTopic is the topic on which the service answers operation op on a shadow with a message
// of the given kind, e.g. ResponseTopic("lamp", "", "update", "delta") is
// "$aws/things/lamp/shadow/update/delta".
func ResponseTopic(thing, shadowName, op, kind string) string {
	return Topic{ID: ID{Thing: thing, Shadow: shadowName}, Op: op, Kind: kind}.String()
}

// ParseTopic recognises the reserved shadow topics (AWS: device-shadow-mqtt, reserved-topics):
//
//	$aws/things/<thing>/shadow/<op>[/<kind>]
//	$aws/things/<thing>/shadow/name/<shadow>/<op>[/<kind>]
//
// where op is get, update or delete and kind, for responses, is accepted or rejected, or for update
// also delta or documents. The names must be valid (ValidThingName, ValidShadowName). Anything else
// under $aws/things/<thing>/shadow — including the wildcard filters AWS advises against — gives
// ok == false.
func ParseTopic(topic string) (t Topic, ok bool) {
	rest, found := strings.CutPrefix(topic, "$aws/things/")
	if !found {
		return Topic{}, false
	}
	parts := strings.Split(rest, "/")
	// parts: thing, "shadow", [ "name", shadow, ] op, [kind]
	if len(parts) < 3 || parts[1] != "shadow" {
		return Topic{}, false
	}
	t.Thing = parts[0]
	parts = parts[2:]
	if parts[0] == "name" {
		if len(parts) < 3 {
			return Topic{}, false
		}
		t.Shadow = parts[1]
		if !ValidShadowName(t.Shadow) {
			return Topic{}, false
		}
		parts = parts[2:]
	}
	if !ValidThingName(t.Thing) || len(parts) > 2 {
		return Topic{}, false
	}
	t.Op = parts[0]
	if len(parts) == 2 {
		if parts[1] == "" { // a trailing '/' is another topic level, not "no kind"
			return Topic{}, false
		}
		t.Kind = parts[1]
	}
	switch t.Op {
	case OpGet, OpDelete:
		ok = t.Kind == "" || t.Kind == KindAccepted || t.Kind == KindRejected
	case OpUpdate:
		ok = t.Kind == "" || t.Kind == KindAccepted || t.Kind == KindRejected || t.Kind == KindDelta || t.Kind == KindDocuments
	}
	if !ok {
		return Topic{}, false
	}
	return t, true
}
