package shadowsvc

import (
	"bytes"
	"strings"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
)

// job is one MQTT request waiting for a worker.
type job struct {
	sc        registry.Scope
	clientID  string
	topic     shadow.Topic
	payload   []byte
	throttled bool // over the client's in-flight limit: answer 429
}

// HandleMessage takes a message a client published and the broker accepted (broker.EventPublish:
// ClientID, Topic, Payload). Requests on the shadow request topics ($aws/things/<thing>/shadow[/name/
// <shadow>]/get|update|delete) are queued and answered on their accepted/rejected topics in the
// scope of Options.Scope; everything else is ignored. It reports whether the message was a request
// the service took. It never blocks and never calls the Publisher, so the broker may call it from
// its event callback. The payload is copied.
func (s *Service) HandleMessage(clientID, topic string, payload []byte) bool {
	return s.Submit(s.scope, clientID, topic, payload)
}

// Submit is HandleMessage in a given scope. The iot-data Publish operation uses it for messages
// published over HTTP to a shadow request topic, which AWS's shadow service answers as it answers
// devices; clientID "" is then subject to no in-flight limit.
func (s *Service) Submit(sc registry.Scope, clientID, topic string, payload []byte) bool {
	if !strings.HasPrefix(topic, "$aws/things/") {
		return false
	}
	t, ok := shadow.ParseTopic(topic)
	if !ok || t.Kind != "" {
		return false // a response topic, or not a shadow topic
	}
	j := job{sc: sc, clientID: clientID, topic: t, payload: bytes.Clone(payload)}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	j.throttled = !s.acquire(clientID)
	select {
	case s.queues[s.stripe(sc, t.ID)] <- j:
		return true
	default:
		if !j.throttled {
			s.release(clientID)
		}
		s.log.Warn("shadowsvc: request queue full, request dropped", "client", clientID, "topic", topic)
		return false
	}
}

// acquire counts a request of clientID in flight; false when that would exceed the limit.
func (s *Service) acquire(clientID string) bool {
	if clientID == "" || s.maxInFlight < 0 {
		return true
	}
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight[clientID] >= s.maxInFlight {
		return false
	}
	s.inflight[clientID]++
	return true
}

func (s *Service) release(clientID string) {
	if clientID == "" || s.maxInFlight < 0 {
		return
	}
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if n := s.inflight[clientID]; n > 1 {
		s.inflight[clientID] = n - 1
	} else {
		delete(s.inflight, clientID)
	}
}

// work answers the requests of one queue, in order, until Close closes it.
func (s *Service) work(q chan job) {
	defer s.wg.Done()
	for j := range q {
		s.serve(j)
	}
}

func (s *Service) serve(j job) {
	if j.throttled {
		// AWS: device-shadow-error-messages — 429 for more than 10 in-flight requests.
		rej := shadow.NewError(429, shadow.MsgThrottled, shadow.ClientToken(j.payload), s.now())
		s.publish(j.topic.Response(shadow.KindRejected), rej.JSON())
		return
	}
	defer s.release(j.clientID)
	_, _ = s.do(j.sc, j.topic.ID, j.topic.Op, j.payload, true)
}
