package shadowsvc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/shadow"
	"github.com/iotlab/iotlab/emulator/store"
)

// Publisher sends the service's messages: the responses and notifications on the reserved shadow
// topics. The broker binds it (emulator/instance: PublisherFunc around broker.Server.Publish at QoS
// 1, no retain); implementations must be safe for concurrent use and must not call back into the
// Service synchronously.
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(topic string, payload []byte) error

// Publish calls f.
func (f PublisherFunc) Publish(topic string, payload []byte) error { return f(topic, payload) }

// Options configure a Service. Zero values get defaults.
type Options struct {
	// Store keeps the shadows. Required.
	Store store.Store
	// Publisher sends the messages; nil publishes nothing (the HTTP API still works).
	Publisher Publisher
	// Scope is the account and region of the requests that come through HandleMessage (the broker's);
	// default 123456789012 / eu-west-1.
	Scope registry.Scope
	// Now is the clock of timestamps, metadata and tombstones; default time.Now.
	Now func() time.Time
	// Logger receives failures to write or to publish; nil discards.
	Logger *slog.Logger

	// Workers is the number of goroutines answering MQTT requests (default 4); QueueLen the requests
	// each may have waiting (default 256). A request that finds its queue full is dropped and logged.
	Workers, QueueLen int
	// MaxInFlight is how many MQTT requests of one client may wait for their answer; beyond it the
	// request is answered 429 on /rejected. Zero means AWS's 10; negative switches the limit off.
	// AWS: device-shadow-error-messages (429)
	MaxInFlight int
	// SweepInterval is how often expired tombstones are removed from the store; default 1 hour,
	// negative for never (they are still ignored, and removed at the next start).
	SweepInterval time.Duration
}

// Defaults.
const (
	defaultWorkers  = 4
	defaultQueueLen = 256
	awsMaxInFlight  = 10
	defaultSweep    = time.Hour
	defaultAccount  = "123456789012"
	defaultRegion   = "eu-west-1"
	lockStripes     = 64
	maxListPageSize = 100 // iot-data model: PageSize 1–100
)

// keyPrefix is the store prefix of shadow records: "shadow/<account>/<region>/<thing>~<shadow>".
const keyPrefix = "shadow/"

// Service is the Device Shadow service. It is safe for concurrent use.
type Service struct {
	st    store.Store
	pub   Publisher
	scope registry.Scope
	now   func() time.Time
	log   *slog.Logger

	maxInFlight int
	sweepEvery  time.Duration

	locks [lockStripes]sync.Mutex // serialize read-modify-write of the shadows hashed to each stripe

	mu     sync.RWMutex // guards things
	things map[thingKey]map[string]*shadow.Stored

	inflightMu sync.Mutex // guards inflight
	inflight   map[string]int

	closeMu sync.RWMutex // guards closed and sends on queues
	closed  bool
	queues  []chan job
	stop    chan struct{} // closed by Close: ends the sweeper
	wg      sync.WaitGroup
}

// thingKey names the shadows of one thing.
type thingKey struct {
	sc    registry.Scope
	thing string
}

// Open loads every shadow from the store, drops expired tombstones and starts the workers.
func Open(opt Options) (*Service, error) {
	if opt.Store == nil {
		return nil, errors.New("shadowsvc: no store")
	}
	if opt.Scope.Account == "" {
		opt.Scope.Account = defaultAccount
	}
	if opt.Scope.Region == "" {
		opt.Scope.Region = defaultRegion
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Workers <= 0 {
		opt.Workers = defaultWorkers
	}
	if opt.QueueLen <= 0 {
		opt.QueueLen = defaultQueueLen
	}
	if opt.MaxInFlight == 0 {
		opt.MaxInFlight = awsMaxInFlight
	}
	if opt.SweepInterval == 0 {
		opt.SweepInterval = defaultSweep
	}
	s := &Service{
		st:          opt.Store,
		pub:         opt.Publisher,
		scope:       opt.Scope,
		now:         opt.Now,
		log:         opt.Logger,
		maxInFlight: opt.MaxInFlight,
		sweepEvery:  opt.SweepInterval,
		things:      map[thingKey]map[string]*shadow.Stored{},
		inflight:    map[string]int{},
		stop:        make(chan struct{}),
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.queues = make([]chan job, opt.Workers)
	for i := range s.queues {
		q := make(chan job, opt.QueueLen)
		s.queues[i] = q
		s.wg.Add(1)
		go s.work(q)
	}
	if s.sweepEvery > 0 {
		s.wg.Add(1)
		go s.sweeper()
	}
	return s, nil
}

// Close stops taking MQTT requests, waits until the queued ones are answered and every goroutine
// has exited. The HTTP methods keep working on the store, which the caller closes afterwards. Close
// is safe to call twice.
func (s *Service) Close() error {
	s.closeMu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
		close(s.stop)
	}
	s.closeMu.Unlock()
	s.wg.Wait()
	return nil
}

func storeKey(sc registry.Scope, id shadow.ID) string {
	return keyPrefix + sc.Account + "/" + sc.Region + "/" + id.Thing + "~" + id.Shadow
}

// parseKey reverses storeKey. Neither names nor accounts nor regions contain '/' or '~'.
func parseKey(key string) (registry.Scope, shadow.ID, bool) {
	parts := strings.Split(strings.TrimPrefix(key, keyPrefix), "/")
	if len(parts) != 3 {
		return registry.Scope{}, shadow.ID{}, false
	}
	thing, name, ok := strings.Cut(parts[2], "~")
	id := shadow.ID{Thing: thing, Shadow: name}
	if !ok || !id.Valid() {
		return registry.Scope{}, shadow.ID{}, false
	}
	return registry.Scope{Account: parts[0], Region: parts[1]}, id, true
}

func (s *Service) load() error {
	now := s.now()
	var expired []store.Op
	err := s.st.Scan(keyPrefix, func(key string, val []byte) error {
		sc, id, ok := parseKey(key)
		if !ok {
			return fmt.Errorf("shadowsvc: corrupt key %q", key)
		}
		st := new(shadow.Stored)
		if err := json.Unmarshal(val, st); err != nil {
			return fmt.Errorf("shadowsvc: corrupt record %q: %w", key, err)
		}
		if st.Expired(now) {
			expired = append(expired, store.Op{Key: key})
			return nil
		}
		s.set(sc, id, st)
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.st.Apply(expired...); err != nil {
		// Harmless: they are ignored, and the sweep or the next start tries again.
		s.log.Warn("shadowsvc: removing expired tombstones", "err", err)
	}
	return nil
}

// lock serializes the changes of one shadow; the returned function unlocks.
func (s *Service) lock(sc registry.Scope, id shadow.ID) func() {
	h := fnv.New32a()
	h.Write([]byte(storeKey(sc, id)))
	l := &s.locks[h.Sum32()%lockStripes]
	l.Lock()
	return l.Unlock
}

// stripe is the worker queue of a shadow: the same as its lock stripe, reduced to the queues.
func (s *Service) stripe(sc registry.Scope, id shadow.ID) int {
	h := fnv.New32a()
	h.Write([]byte(storeKey(sc, id)))
	return int(h.Sum32() % uint32(len(s.queues)))
}

func (s *Service) lookup(sc registry.Scope, id shadow.ID) *shadow.Stored {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.things[thingKey{sc, id.Thing}][id.Shadow]
}

// set records st in memory; nil forgets the shadow.
func (s *Service) set(sc registry.Scope, id shadow.ID, st *shadow.Stored) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := thingKey{sc, id.Thing}
	m := s.things[k]
	if st == nil {
		delete(m, id.Shadow)
		if len(m) == 0 {
			delete(s.things, k)
		}
		return
	}
	if m == nil {
		m = map[string]*shadow.Stored{}
		s.things[k] = m
	}
	m[id.Shadow] = st
}

// save writes st durably, then applies it in memory.
func (s *Service) save(sc registry.Scope, id shadow.ID, st *shadow.Stored) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("shadowsvc: encoding %s: %w", id, err)
	}
	if err := s.st.Apply(store.Op{Key: storeKey(sc, id), Value: b}); err != nil {
		return fmt.Errorf("shadowsvc: saving shadow %s: %w", id, err)
	}
	s.set(sc, id, st)
	return nil
}

// Get answers GetThingShadow: the shadow's document (shadow.Get). Rejections are *shadow.Error;
// other errors are internal failures. Nothing is published.
func (s *Service) Get(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error) {
	return s.do(sc, id, shadow.OpGet, request, false)
}

// Update answers UpdateThingShadow: it applies the request (shadow.Update), stores the result,
// publishes /update/accepted, /update/documents and /update/delta, and returns the accepted
// document. Rejections are *shadow.Error and publish nothing; other errors are internal failures
// (nothing changed).
func (s *Service) Update(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error) {
	return s.do(sc, id, shadow.OpUpdate, request, false)
}

// Delete answers DeleteThingShadow: it leaves a tombstone (shadow.Delete), publishes
// /delete/accepted and returns its document {"version","timestamp"}. Rejections are *shadow.Error.
func (s *Service) Delete(sc registry.Scope, id shadow.ID, request []byte) ([]byte, error) {
	return s.do(sc, id, shadow.OpDelete, request, false)
}

// invalidName is the rejection of a shadow id whose names break the iot-data model's patterns.
func invalidName(id shadow.ID, now time.Time) *shadow.Error {
	if !shadow.ValidThingName(id.Thing) {
		return shadow.NewError(400, "Invalid thing name", "", now)
	}
	return shadow.NewError(400, "Invalid shadow name", "", now)
}

// do runs one request on one shadow. viaMQTT decides what is published: MQTT requests get every
// answer on the response topics, HTTP requests only the notifications of accepted changes.
func (s *Service) do(sc registry.Scope, id shadow.ID, op string, request []byte, viaMQTT bool) ([]byte, error) {
	if !id.Valid() {
		rej := invalidName(id, s.now())
		if viaMQTT {
			s.publish(shadow.ResponseTopic(id.Thing, id.Shadow, op, shadow.KindRejected), rej.JSON())
		}
		return nil, rej
	}
	unlock := s.lock(sc, id)
	defer unlock()
	now := s.now()
	cur := s.lookup(sc, id)
	topic := func(kind string) string { return shadow.ResponseTopic(id.Thing, id.Shadow, op, kind) }
	reject := func(rej *shadow.Error) ([]byte, error) {
		if viaMQTT {
			s.publish(topic(shadow.KindRejected), rej.JSON())
		}
		return nil, rej
	}
	// failed answers a store failure: 500 over MQTT, an internal error over HTTP.
	failed := func(err error) ([]byte, error) {
		s.log.Error("shadowsvc: store write failed", "shadow", id.String(), "err", err)
		if viaMQTT {
			s.publish(topic(shadow.KindRejected), shadow.NewError(500, shadow.MsgInternal, shadow.ClientToken(request), now).JSON())
		}
		return nil, err
	}

	switch op {
	case shadow.OpGet:
		doc, rej := shadow.Get(id, cur, request, now)
		if rej != nil {
			return reject(rej)
		}
		if viaMQTT {
			s.publish(topic(shadow.KindAccepted), doc)
		}
		return doc, nil

	case shadow.OpUpdate:
		next, resp, rej := shadow.Update(cur, request, now)
		if rej != nil {
			return reject(rej)
		}
		if err := s.save(sc, id, next); err != nil {
			return failed(err)
		}
		s.publish(topic(shadow.KindAccepted), resp.Accepted)
		s.publish(topic(shadow.KindDocuments), resp.Documents)
		if resp.Delta != nil {
			s.publish(topic(shadow.KindDelta), resp.Delta)
		}
		return resp.Accepted, nil

	case shadow.OpDelete:
		tomb, doc, rej := shadow.Delete(id, cur, request, now)
		if rej != nil {
			return reject(rej)
		}
		if err := s.save(sc, id, tomb); err != nil {
			return failed(err)
		}
		s.publish(topic(shadow.KindAccepted), doc)
		return doc, nil
	}
	return nil, fmt.Errorf("shadowsvc: unknown operation %q", op)
}

func (s *Service) publish(topic string, payload []byte) {
	if s.pub == nil {
		return
	}
	if err := s.pub.Publish(topic, payload); err != nil {
		s.log.Warn("shadowsvc: publish failed", "topic", topic, "err", err)
	}
}

// ListNamed answers ListNamedShadowsForThing: the names of the thing's named shadows (deleted ones
// excluded, the classic shadow never listed), sorted, pageSize at a time (0 means 100, the model's
// maximum; AWS documents no default), and the token of the next page ("" on the last). A thing with
// no named shadow gets an empty list. Rejections (a bad name, page size or token) are *shadow.Error.
func (s *Service) ListNamed(sc registry.Scope, thing, nextToken string, pageSize int) ([]string, string, error) {
	now := s.now()
	if !shadow.ValidThingName(thing) {
		return nil, "", shadow.NewError(400, "Invalid thing name", "", now)
	}
	if pageSize < 0 || pageSize > maxListPageSize {
		return nil, "", shadow.NewError(400, fmt.Sprintf("pageSize must be between 1 and %d", maxListPageSize), "", now)
	}
	if pageSize == 0 {
		pageSize = maxListPageSize
	}
	after := ""
	if nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || !shadow.ValidShadowName(string(b)) {
			return nil, "", shadow.NewError(400, "The nextToken is invalid", "", now)
		}
		after = string(b)
	}
	s.mu.RLock()
	var names []string
	for name, st := range s.things[thingKey{sc, thing}] {
		if name != "" && st.Exists() && name > after {
			names = append(names, name)
		}
	}
	s.mu.RUnlock()
	slices.Sort(names)
	next := ""
	if len(names) > pageSize {
		names = names[:pageSize]
		next = base64.RawURLEncoding.EncodeToString([]byte(names[pageSize-1]))
	}
	if names == nil {
		names = []string{}
	}
	return names, next, nil
}

// sweeper removes expired tombstones every sweepEvery until Close.
func (s *Service) sweeper() {
	defer s.wg.Done()
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes the tombstones older than shadow.VersionRetention from the store and from memory.
// It runs periodically (Options.SweepInterval); tests call it directly.
func (s *Service) Sweep() {
	now := s.now()
	type victim struct {
		sc registry.Scope
		id shadow.ID
	}
	var victims []victim
	s.mu.RLock()
	for k, m := range s.things {
		for name, st := range m {
			if st.Expired(now) {
				victims = append(victims, victim{k.sc, shadow.ID{Thing: k.thing, Shadow: name}})
			}
		}
	}
	s.mu.RUnlock()
	for _, v := range victims {
		func() {
			defer s.lock(v.sc, v.id)()
			if !s.lookup(v.sc, v.id).Expired(now) {
				return // recreated meanwhile
			}
			if err := s.st.Apply(store.Op{Key: storeKey(v.sc, v.id)}); err != nil {
				s.log.Warn("shadowsvc: removing an expired tombstone", "shadow", v.id.String(), "err", err)
				return
			}
			s.set(v.sc, v.id, nil)
		}()
	}
}
