// Package registry is the state of the AWS IoT control plane: things, thing types, thing groups, billing
// groups, tags, certificates, policies and their attachments, kept per account and region as AWS keeps
// them. It knows nothing of HTTP or JSON wire shapes: the awsapi package translates. Every mutation is
// validated, written to the store in one atomic batch, and only then applied in memory, so an error —
// including a failed disk write — leaves both unchanged.
package registry

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/store"
)

// Scope is one account in one region: AWS IoT resources never cross it.
type Scope struct{ Account, Region string }

// Options configure a Registry. Zero values get defaults.
type Options struct {
	Store store.Store      // required
	Now   func() time.Time // default time.Now
	Rand  io.Reader        // default crypto/rand.Reader; ids and registration codes come from it
	// ThingTypeDeleteDelay is how long a thing type must stay deprecated before DeleteThingType accepts it:
	// default 5 minutes, as AWS; negative for none. AWS: delete-thing-types
	ThingTypeDeleteDelay time.Duration
}

// Registry is safe for concurrent use.
type Registry struct {
	st              store.Store
	now             func() time.Time
	rand            io.Reader
	typeDeleteDelay time.Duration

	mu     sync.RWMutex // guards scopes and everything reachable from it
	scopes map[Scope]*state

	watchMu  sync.Mutex // guards watchers
	watchers []func(Event)
}

// state is one scope's resources, keyed by name (or id).
type state struct {
	things        map[string]*Thing
	thingTypes    map[string]*ThingType
	thingGroups   map[string]*ThingGroup
	billingGroups map[string]*BillingGroup
	tags          map[string]map[string]string // resource ARN → tags
	certs         map[string]*Certificate
	caCerts       map[string]*CACertificate
	policies      map[string]*Policy
	extra         map[string]map[string]json.RawMessage // kind → name → record, for kinds owned by other files
}

func newState() *state {
	return &state{
		things:        map[string]*Thing{},
		thingTypes:    map[string]*ThingType{},
		thingGroups:   map[string]*ThingGroup{},
		billingGroups: map[string]*BillingGroup{},
		tags:          map[string]map[string]string{},
		certs:         map[string]*Certificate{},
		caCerts:       map[string]*CACertificate{},
		policies:      map[string]*Policy{},
		extra:         map[string]map[string]json.RawMessage{},
	}
}

// kinds lists how each record kind is stored and where it loads into.
var kinds = map[string]func(s *state, name string, raw []byte) error{
	"thing":        loadInto(func(s *state) map[string]*Thing { return s.things }),
	"thingtype":    loadInto(func(s *state) map[string]*ThingType { return s.thingTypes }),
	"thinggroup":   loadInto(func(s *state) map[string]*ThingGroup { return s.thingGroups }),
	"billinggroup": loadInto(func(s *state) map[string]*BillingGroup { return s.billingGroups }),
	"tags":         loadInto(func(s *state) map[string]map[string]string { return s.tags }),
	"cert":         loadInto(func(s *state) map[string]*Certificate { return s.certs }),
	"cacert":       loadInto(func(s *state) map[string]*CACertificate { return s.caCerts }),
	"policy":       loadInto(func(s *state) map[string]*Policy { return s.policies }),
}

func loadInto[T any](m func(*state) map[string]T) func(*state, string, []byte) error {
	return func(s *state, name string, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		m(s)[name] = v
		return nil
	}
}

// keyPrefix is the store prefix of all registry records; a key is "reg/<account>/<region>/<kind>/<name>".
const keyPrefix = "reg/"

func recordKey(sc Scope, kind, name string) string {
	return keyPrefix + sc.Account + "/" + sc.Region + "/" + kind + "/" + name
}

// Open loads every scope from the store.
func Open(opt Options) (*Registry, error) {
	if opt.Store == nil {
		return nil, fmt.Errorf("registry: no store")
	}
	r := &Registry{st: opt.Store, now: opt.Now, rand: opt.Rand, typeDeleteDelay: opt.ThingTypeDeleteDelay, scopes: map[Scope]*state{}}
	if r.typeDeleteDelay == 0 {
		r.typeDeleteDelay = 5 * time.Minute
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	err := r.st.Scan(keyPrefix, func(key string, val []byte) error {
		parts := strings.SplitN(strings.TrimPrefix(key, keyPrefix), "/", 4)
		if len(parts) != 4 {
			return fmt.Errorf("registry: corrupt key %q", key)
		}
		sc := Scope{Account: parts[0], Region: parts[1]}
		s := r.scope(sc)
		load, ok := kinds[parts[2]]
		if !ok {
			if s.extra[parts[2]] == nil {
				s.extra[parts[2]] = map[string]json.RawMessage{}
			}
			s.extra[parts[2]][parts[3]] = append(json.RawMessage(nil), val...)
			return nil
		}
		if err := load(s, parts[3], val); err != nil {
			return fmt.Errorf("registry: corrupt record %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// scope returns the state of sc, creating it; callers hold mu for writing, or are in Open.
func (r *Registry) scope(sc Scope) *state {
	s := r.scopes[sc]
	if s == nil {
		s = newState()
		r.scopes[sc] = s
	}
	return s
}

// view runs fn with a read lock on sc's state (which may be empty).
func (r *Registry) view(sc Scope, fn func(s *state) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.scopes[sc]
	if s == nil {
		s = newState() // reads of an unknown scope see nothing; don't create it under a read lock
	}
	return fn(s)
}

// txn stages a mutation: writes for the store and the in-memory changes that follow them.
type txn struct {
	r      *Registry
	sc     Scope
	s      *state
	ops    []store.Op
	apply  []func()
	events []Event
}

// update runs fn under the write lock; when fn succeeds its writes are committed to the store in one
// batch and then applied in memory. fn must not modify state directly: it stages with put/del.
func (r *Registry) update(sc Scope, fn func(t *txn) error) error {
	r.mu.Lock()
	t := &txn{r: r, sc: sc, s: r.scope(sc)}
	if err := fn(t); err != nil {
		r.mu.Unlock()
		return err
	}
	if err := r.st.Apply(t.ops...); err != nil {
		r.mu.Unlock()
		return awserr.New(awserr.InternalFailure, "state could not be saved: %v", err)
	}
	for _, f := range t.apply {
		f()
	}
	r.mu.Unlock()
	r.emit(t.events)
	return nil
}

// put stages a record write and, after commit, set (which stores v in memory).
func (t *txn) put(kind, name string, v any, set func()) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("registry: marshal %s/%s: %v", kind, name, err)) // our own types always marshal
	}
	t.ops = append(t.ops, store.Op{Key: recordKey(t.sc, kind, name), Value: b})
	t.apply = append(t.apply, set)
}

// del stages a record delete and, after commit, unset.
func (t *txn) del(kind, name string, unset func()) {
	t.ops = append(t.ops, store.Op{Key: recordKey(t.sc, kind, name)})
	t.apply = append(t.apply, unset)
}

// emit queues an event for watchers, delivered after the commit.
func (t *txn) emit(e Event) { e.Scope = t.sc; t.events = append(t.events, e) }

// Event tells watchers (the broker) that something a live connection depends on changed.
type Event struct {
	Scope Scope
	Kind  string // "cert", "policy", "attachment", "thing", "thinggroup"
	Name  string
	// CertStatus is set for Kind "cert": the new status.
	CertStatus string
}

// Watch registers fn to be called after each committed change (outside the registry's lock).
func (r *Registry) Watch(fn func(Event)) {
	r.watchMu.Lock()
	r.watchers = append(r.watchers, fn)
	r.watchMu.Unlock()
}

func (r *Registry) emit(es []Event) {
	if len(es) == 0 {
		return
	}
	r.watchMu.Lock()
	ws := append([]func(Event){}, r.watchers...)
	r.watchMu.Unlock()
	for _, e := range es {
		for _, w := range ws {
			w(e)
		}
	}
}

// Now is the registry's clock, for callers that stamp what they return.
func (r *Registry) Now() time.Time { return r.now() }

// newUUID returns a random version-4 UUID from the injected randomness.
func (r *Registry) newUUID() string {
	var b [16]byte
	if _, err := io.ReadFull(r.rand, b[:]); err != nil {
		panic(fmt.Sprintf("registry: randomness failed: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// randHex returns n random bytes as hex.
func (r *Registry) randHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.rand, b); err != nil {
		panic(fmt.Sprintf("registry: randomness failed: %v", err))
	}
	return fmt.Sprintf("%x", b)
}
