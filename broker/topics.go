package broker

import (
	"strings"
	"unicode/utf8"
)

// Reserved topic prefixes. AWS: reserved-topics, topics.html#topicnames
const (
	awsPrefix        = "$aws/"
	rulesPrefix      = "$aws/rules/"
	eventsPrefix     = "$aws/events/"
	sharePrefix      = "$share/"
	lifecyclePrefix  = "$aws/events/presence/"
	subscriptionsEvt = "$aws/events/subscriptions/"
)

// topicProblem says what is wrong with a topic name or filter; "" when nothing is.
type topicProblem string

const (
	topicOK       topicProblem = ""
	topicEmpty    topicProblem = "empty"
	topicWildcard topicProblem = "wildcard in a topic name"
	topicTooLong  topicProblem = "longer than the topic size limit"
	topicSlashes  topicProblem = "more forward slashes than the limit"
	topicInvalid  topicProblem = "not a valid topic filter"
	topicReserved topicProblem = "reserved topic"
	topicUTF8     topicProblem = "not valid UTF-8"
)

// checkTopicName applies AWS's rules to a PUBLISH topic: no wildcards, at most lim.TopicBytes bytes and
// lim.TopicSlashes '/', not counting the Basic Ingest prefix "$aws/rules/<rule>/".
// AWS: topics.html, GR:iot-core (topic size, slashes)
func (s *Server) checkTopicName(t string) topicProblem {
	if t == "" {
		return topicEmpty
	}
	if strings.ContainsAny(t, "+#") {
		return topicWildcard // [MQTT-3.3.2-2]
	}
	if !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
		return topicUTF8 // [MQTT-1.5.4-1] [MQTT-1.5.4-2]
	}
	return s.checkSize(stripBasicIngest(t), 0)
}

// checkTopicFilter applies AWS's rules to a SUBSCRIBE filter: MQTT syntax, size and slashes (the two
// slashes of "$share/<name>/" do not count, and the share name has its own rules).
// AWS: mqtt.html#mqtt5-shared-subscription
func (s *Server) checkTopicFilter(f string) topicProblem {
	if f == "" {
		return topicEmpty
	}
	if !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return topicUTF8
	}
	rest := f
	extraSlashes := 0
	if strings.HasPrefix(f, sharePrefix) {
		name, tail, ok := strings.Cut(f[len(sharePrefix):], "/")
		if !ok || name == "" || tail == "" || strings.ContainsAny(name, "+#") || utf8.RuneCountInString(name) > 128 {
			return topicInvalid // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
		}
		rest = tail
	}
	if !validFilterSyntax(rest) {
		return topicInvalid // [MQTT-4.7.1-2] [MQTT-4.7.1-3]
	}
	return s.checkSize(rest, extraSlashes)
}

func (s *Server) checkSize(t string, extraSlashes int) topicProblem {
	if s.lim.TopicBytes > 0 && len(t) > s.lim.TopicBytes {
		return topicTooLong
	}
	if s.lim.TopicSlashes > 0 && strings.Count(t, "/")+extraSlashes > s.lim.TopicSlashes {
		return topicSlashes
	}
	return topicOK
}

// stripBasicIngest removes "$aws/rules/<rule>/", which AWS excludes from the topic limits.
func stripBasicIngest(t string) string {
	if !strings.HasPrefix(t, rulesPrefix) {
		return t
	}
	_, rest, ok := strings.Cut(t[len(rulesPrefix):], "/")
	if !ok {
		return t
	}
	return rest
}

// validFilterSyntax: '#' only as the whole last level, '+' only as a whole level.
func validFilterSyntax(f string) bool {
	for i := 0; i < len(f); {
		j := strings.IndexByte(f[i:], '/')
		level := f[i:]
		last := j < 0
		if !last {
			level = f[i : i+j]
		}
		if strings.ContainsAny(level, "+#") && len(level) != 1 {
			return false
		}
		if level == "#" && !last {
			return false
		}
		if last {
			break
		}
		i += j + 1
	}
	return true
}

// clientMayPublish says whether a client may publish to a topic at all, whatever its policy:
// the '$' namespace is AWS's. Clients publish to the service topics (shadows, jobs, Basic Ingest,
// fleet provisioning, Defender, …) but never to event topics or to '$' topics AWS does not define.
// AWS: reserved-topics ("you can't create new topics that begin with a dollar sign")
func clientMayPublish(t string) bool {
	if t == "" || t[0] != '$' {
		return true
	}
	if !strings.HasPrefix(t, awsPrefix) {
		return false
	}
	rest := t[len(awsPrefix):]
	for _, p := range []string{"things/", "rules/", "certificates/", "provisioning-templates/", "sitewise/", "defender/"} {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

// clientMaySubscribe says whether a filter is open to subscription at all: '$' filters must be AWS's
// (or shared subscriptions), and Basic Ingest topics cannot be subscribed to.
// AWS: iot-basic-ingest ("you can't subscribe to Basic Ingest topics"), reserved-topics
func clientMaySubscribe(f string) bool {
	if strings.HasPrefix(f, sharePrefix) {
		_, tail, _ := strings.Cut(f[len(sharePrefix):], "/")
		f = tail
	}
	if f == "" || f[0] != '$' {
		return true
	}
	return strings.HasPrefix(f, awsPrefix) && !strings.HasPrefix(f, rulesPrefix)
}

// filterMatches reports whether an AWS topic filter matches a topic. Unlike the MQTT specification,
// "a/#" does not match "a". Top-level wildcards do not match '$' topics [MQTT-4.7.2-1].
// AWS: mqtt.html#mqtt-differences, topics.html#topicfilters
func filterMatches(filter, topic string) bool {
	if strings.HasPrefix(filter, sharePrefix) {
		_, filter, _ = strings.Cut(filter[len(sharePrefix):], "/")
	}
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			// '#' needs a level of its own here: "a/#" matches "a/" and "a/b" but not "a".
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore && !tmore {
			return true
		}
		if !fmore {
			return false
		}
		if !tmore {
			// The topic ended: only a trailing "#" could match, and AWS requires a level for it.
			return false
		}
		filter, topic = frest, trest
	}
}

// hashParent returns "a/b" for a filter "a/b/#" (shared or not): the pattern of the topics mochi-mqtt
// also delivers to that filter although AWS does not ("a/b" itself). mochi does so only when the level
// before '#' is literal, so ok is false for "a/+/#" and for filters not ending in "/#".
func hashParent(filter string) (parent string, ok bool) {
	if strings.HasPrefix(filter, sharePrefix) {
		_, filter, _ = strings.Cut(filter[len(sharePrefix):], "/")
	}
	p, found := strings.CutSuffix(filter, "/#")
	if !found || p == "" || p == "+" || strings.HasSuffix(p, "/+") || strings.Contains(p, "#") {
		return "", false
	}
	return p, true
}
