package sql

import "strings"

// checkTopicFilter returns why f is not a valid MQTT topic filter, or "". '#' must be the last level
// and alone in it, '+' alone in its level [MQTT-4.7.1-2, MQTT-4.7.1-3]; a filter is not empty and
// holds no NUL character [MQTT-4.7.3-1, MQTT-4.7.3-2]. AWS's limits on topic length and depth are not
// checked here.
func checkTopicFilter(f string) string {
	if f == "" {
		return "it is empty"
	}
	if strings.IndexByte(f, 0) >= 0 {
		return "it contains a NUL character"
	}
	for rest := f; ; {
		level, tail, more := strings.Cut(rest, "/")
		if strings.ContainsAny(level, "+#") && len(level) > 1 {
			return "a wildcard must occupy a whole topic level"
		}
		if level == "#" && more {
			return "'#' must be the last level"
		}
		if !more {
			return ""
		}
		rest = tail
	}
}

// Matches reports whether a message published to topic triggers the rule: whether topic matches the
// FROM topic filter under MQTT's rules (AWS: iot-sql-from). '+' matches exactly one level (an empty
// one too), '#' any number of levels including none, so 'a/#' matches "a" [MQTT-4.7.1-2]. A topic
// starting with '$' ($aws/…) is matched only by a filter whose first level is not a wildcard
// [MQTT-4.7.2-1]. A statement without FROM matches nothing.
//
// Basic Ingest topics ($aws/rules/<ruleName>/…) are not matched here: the caller routes them to the
// named rule directly, whatever its FROM clause, and passes the topic without the prefix to topic()
// (see SplitBasicIngest).
func (s *Statement) Matches(topic string) bool {
	if !s.hasFrom {
		return false
	}
	return MatchTopic(s.topic, topic)
}

// MatchTopic reports whether the MQTT topic filter matches topic, with the rules Matches describes.
func MatchTopic(filter, topic string) bool {
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return false
	}
	if topic[0] == '$' && (filter == "" || filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		flevel, frest, fmore := strings.Cut(filter, "/")
		if flevel == "#" {
			return true
		}
		tlevel, trest, tmore := strings.Cut(topic, "/")
		if flevel != "+" && flevel != tlevel {
			return false
		}
		switch {
		case fmore && tmore:
			filter, topic = frest, trest
		case !fmore && !tmore:
			return true
		case fmore && !tmore:
			// "a/#" matches "a": the remaining filter must be exactly "#".
			return frest == "#"
		default:
			return false
		}
	}
}

// basicIngestPrefix starts every Basic Ingest topic (AWS: iot-basic-ingest).
const basicIngestPrefix = "$aws/rules/"

// SplitBasicIngest splits a Basic Ingest topic "$aws/rules/<ruleName>/<rest>" into the rule name and
// the topic the rule sees (rest, which topic() returns; AWS: iot-basic-ingest, "The initial prefix …
// isn't available to the topic(Decimal) function"). ok is false for any other topic.
func SplitBasicIngest(topic string) (ruleName, rest string, ok bool) {
	if !strings.HasPrefix(topic, basicIngestPrefix) {
		return "", "", false
	}
	ruleName, rest, _ = strings.Cut(topic[len(basicIngestPrefix):], "/")
	if ruleName == "" {
		return "", "", false
	}
	return ruleName, rest, true
}
