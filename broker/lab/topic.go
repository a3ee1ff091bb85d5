package lab

import "strings"

// Topic names and filters, as MQTT 3.1.1 and MQTT 5 define them in section 4.7. These helpers are pure; the
// ACL matcher uses them, and so does the hook where mochi's own matching is looser than the specification.

// matchTopic reports whether the topic filter matches the topic name.
func matchTopic(filter, topic string) bool {
	// [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic name starting with '$'.
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	return matchLevels(filter, topic)
}

// matchTopicLoose is matchTopic without the '$' rule: it answers "could a broker that ignores [MQTT-4.7.2-1]
// deliver this topic to this filter?", which is what a conservative safety check needs.
func matchTopicLoose(filter, topic string) bool {
	return matchLevels(filter, topic)
}

func matchLevels(filter, topic string) bool {
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true // '#' matches the parent level and any number of child levels (§4.7.1.2)
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t { // '+' matches exactly one level, possibly empty (§4.7.1.3)
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "sport/#" matches "sport"
		}
		filter, topic = frest, trest
	}
}

// validFilter reports whether s is a well-formed topic filter: not empty, '#' only as the whole last level
// [MQTT-4.7.1-2], '+' only as a whole level [MQTT-4.7.1-3].
func validFilter(s string) bool {
	if s == "" { // [MQTT-4.7.3-1]
		return false
	}
	for rest, more := s, true; more; {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		if strings.Contains(level, "#") && (level != "#" || more) {
			return false
		}
		if strings.Contains(level, "+") && level != "+" {
			return false
		}
	}
	return true
}

// hasWildcard reports whether s contains a wildcard character; topic names never do [MQTT-3.3.2-2].
func hasWildcard(s string) bool {
	return strings.ContainsAny(s, "+#")
}

// isShareFilter reports whether s is a shared subscription filter. mochi compares the "$share" prefix without
// regard to case; so does this, to agree with it about which strings are filters.
func isShareFilter(s string) bool {
	first, _, _ := strings.Cut(s, "/")
	return strings.EqualFold(first, "$share")
}

// shareTopicFilter returns the topic filter of a shared subscription "$share/{group}/{filter}" [MQTT-4.8.2-1],
// or s itself when it is not one.
func shareTopicFilter(s string) string {
	if !isShareFilter(s) {
		return s
	}
	_, rest, _ := strings.Cut(s, "/")
	_, filter, _ := strings.Cut(rest, "/")
	return filter
}
