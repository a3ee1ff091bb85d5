package rules

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotlab/iotlab/emulator/rules/sql"
)

// Rule is one enabled topic rule, as RuleSource lists it. AWS: API_TopicRule
type Rule struct {
	Name string
	SQL  string
	// SQLVersion is informational: every version is evaluated with 2016-03-23's semantics.
	SQLVersion  string
	Actions     []Action
	ErrorAction *Action
}

// Action is one rule action as AWS's Action union spells it: Type is the union member's name
// ("republish", "lambda", "http", "dynamoDBv2", …) and Params that member's JSON document
// ({"topic":"alerts/${topic(2)}","qos":1,"roleArn":…}). AWS: API_Action
type Action struct {
	Type   string
	Params json.RawMessage
}

// RuleSource lists the rules the engine runs. emulator/instance binds it to the registry for the
// broker's account and region (registry.EnabledTopicRules). It must be safe for concurrent use.
type RuleSource interface {
	// EnabledRules returns the enabled rules of the engine's account and region.
	EnabledRules() ([]Rule, error)
}

// Publisher publishes as the service does, for republish actions and error actions: any topic the
// service may use ('$aws/…' included), no publish policy, deliveries still checking iot:Receive.
// emulator/instance binds it to the broker's Server.Publish.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte, retain bool) error
}

// HeaderPublisher is a Publisher that can also set MQTT 5 properties, for republish actions with
// headers. Without it the headers are dropped (and that is logged once per rule).
type HeaderPublisher interface {
	Publisher
	PublishWithHeaders(topic string, payload []byte, qos byte, retain bool, h Headers) error
}

// Headers are the MQTT 5 properties of a republished message. AWS: API_MqttHeaders
type Headers struct {
	ContentType     string
	CorrelationData []byte  // decoded from the action's base64
	MessageExpiry   *uint32 // seconds
	PayloadUTF8     *bool   // payloadFormatIndicator: UTF8_DATA (true) or UNSPECIFIED_BYTES (false)
	ResponseTopic   string
	UserProperties  []UserProperty
}

// UserProperty is one MQTT 5 user property.
type UserProperty struct{ Key, Value string }

func (h Headers) empty() bool {
	return h.ContentType == "" && h.CorrelationData == nil && h.MessageExpiry == nil && h.PayloadUTF8 == nil &&
		h.ResponseTopic == "" && len(h.UserProperties) == 0
}

// Function is the local stand-in of a Lambda function: exactly one of URL and Command.
type Function struct {
	// URL receives the event (the SELECT result) as the body of a POST with Content-Type
	// application/json. A 2xx answer without an X-Amz-Function-Error header is success; the body is
	// logged at debug level. A Lambda runtime emulator's invoke URL fits
	// (http://127.0.0.1:9000/2015-03-31/functions/function/invocations).
	URL string
	// Command is run with the event on its standard input and AWS_LAMBDA_FUNCTION_NAME and AWS_REGION
	// in its environment; exit status 0 is success. Its output is logged at debug level.
	Command []string
	// Timeout bounds one invocation; default 3 s, Lambda's default function timeout.
	Timeout time.Duration
}

// Quirks lists, one field each, the engine's deliberate deviations from AWS IoT. The zero value is
// iotlab's default.
type Quirks struct {
	// FunctionErrorsAsAWS makes lambda actions behave as on AWS, where the rules engine invokes the
	// function asynchronously (InvocationType Event) and so sees only whether Lambda accepted the
	// invocation: an error inside the function (here: a non-zero exit, a status that is not 2xx, an
	// X-Amz-Function-Error answer, a timeout) stays with Lambda's retries and is never the rule's
	// failure. iotlab's default reports those errors to the rule's error action, so a learner sees a
	// failing function where the rule points (checklist 96). A function that cannot be found or
	// reached fails the action either way, as a failed Invoke does on AWS. AWS: lambda-rule-action
	FunctionErrorsAsAWS bool

	// MaxRepublishHops cuts chains of rules republishing to topics that trigger rules: a message
	// that a republish action produced from a message that was itself republished … more than this
	// many times is not evaluated (it is still delivered to subscribers). Zero means 8; negative
	// means no limit, as on AWS, where such a loop runs (and is billed) until throttled. It applies
	// only when the wiring hands the engine the broker's service-side publishes too.
	MaxRepublishHops int
}

const defaultMaxHops = 8

// Options configure an Engine. Zero values get defaults.
type Options struct {
	Rules     RuleSource // required
	Publisher Publisher  // required

	// Functions maps a Lambda function ARN, or a bare function name (optionally "name:qualifier"),
	// to its local handler. A lambda action whose function is not here fails.
	Functions map[string]Function
	// FunctionEnv is added to the environment of command functions, e.g. AWS_ENDPOINT_URL so that a
	// function's SDK calls (iot-data UpdateThingShadow, say) reach this iotlab, as a Lambda's reach AWS.
	FunctionEnv []string
	// HTTPClient makes the requests of http actions and URL functions. The default does not follow
	// redirects and uses no proxy; every request is bounded by a 3 s timeout anyway.
	HTTPClient *http.Client
	// HTTPAllow lists URL prefixes (e.g. "http://192.168.1.20:8080/") that http actions may call
	// besides loopback URLs. End a prefix with "/": "http://host" also allows "http://host.evil".
	HTTPAllow []string

	// Account is what accountid() returns; Region is given to local functions as AWS_REGION.
	Account, Region string

	// QueueSize bounds the messages waiting for evaluation; default 1024. Beyond it Handle drops.
	QueueSize int
	// MaxInFlight bounds the rule executions with lambda or http actions running at once; default 16.
	MaxInFlight int

	Now     func() time.Time // default time.Now
	NewUUID func() string    // newuuid(), trace ids; default random version-4 UUIDs
	Logger  *slog.Logger     // nil discards
	Quirks  Quirks
}

// Message is one message the broker (or the iot-data API) accepted.
type Message struct {
	Topic   string
	Payload []byte
	// ClientID is the publisher's MQTT client ID; "" for a message that did not come from an MQTT
	// client (iot-data Publish, the broker's own publishes), for which clientid() is "n/a".
	ClientID string
	// Principal is what principal() returns: the certificate ID for an X.509 client.
	Principal string
	// Timestamp is when the broker accepted the message, what timestamp() returns; zero means now.
	Timestamp time.Time

	hops int // how many republish actions led to this message
}

// Stats counts what the engine did since New.
type Stats struct {
	Received       uint64 // messages given to Handle
	Dropped        uint64 // messages dropped because the queue was full (AWS: RuleMessageThrottled)
	Fired          uint64 // rule evaluations whose WHERE was true
	Executed       uint64 // rule runs finished: every action, and the error action when one ran, done
	SQLErrors      uint64 // rule evaluations that failed (logged; no action runs)
	ActionFailures uint64 // failed actions
	ErrorActions   uint64 // error actions run successfully
	NotExecuted    uint64 // action runs skipped because iotlab does not run that action type
	HopsCut        uint64 // messages not evaluated because of Quirks.MaxRepublishHops
}

// Engine runs topic rules. It is safe for concurrent use.
type Engine struct {
	opt    Options
	log    *slog.Logger
	queue  chan Message
	sem    chan struct{} // MaxInFlight tokens
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	rules    atomic.Pointer[ruleSet]
	reloadMu sync.Mutex // serializes Reload, so an older listing never replaces a newer one

	notedMu sync.Mutex // guards noted
	noted   map[string]bool

	echoMu    sync.Mutex // guards echoes and lastSweep
	echoes    map[echoKey][]echo
	lastSweep time.Time
	seed      maphash.Seed

	lastDropLog atomic.Int64 // unix nanoseconds of the last "queue full" log line

	received, dropped, fired, executed, sqlErrors, failures, errorActions, notExecuted, hopsCut atomic.Uint64
}

// New checks the options, loads the enabled rules and starts the engine. Close stops it.
func New(opt Options) (*Engine, error) {
	if opt.Rules == nil {
		return nil, errors.New("rules: Options.Rules is required")
	}
	if opt.Publisher == nil {
		return nil, errors.New("rules: Options.Publisher is required")
	}
	for name, f := range opt.Functions {
		if (f.URL == "") == (len(f.Command) == 0) {
			return nil, fmt.Errorf("rules: function %q needs exactly one of URL and Command", name)
		}
	}
	if opt.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		opt.HTTPClient = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 1024
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 16
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NewUUID == nil {
		opt.NewUUID = randomUUID
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Quirks.MaxRepublishHops == 0 {
		opt.Quirks.MaxRepublishHops = defaultMaxHops
	}
	e := &Engine{
		opt:    opt,
		log:    opt.Logger,
		queue:  make(chan Message, opt.QueueSize),
		sem:    make(chan struct{}, opt.MaxInFlight),
		noted:  map[string]bool{},
		echoes: map[echoKey][]echo{},
		seed:   maphash.MakeSeed(),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.rules.Store(&ruleSet{byName: map[string]*compiledRule{}})
	e.Reload()
	e.wg.Add(1)
	go e.dispatch()
	return e, nil
}

// Handle queues a message for evaluation and returns at once; it never blocks and may be called
// from the broker's goroutines. The payload is copied. When the queue is full the message is dropped,
// counted and logged, as AWS throttles its rules engine rather than the publisher.
//
// Give it every message the broker accepts: clients' PUBLISH packets and, when the broker reports
// them, its service-side publishes (lifecycle events, iot-data Publish, shadow responses, the
// engine's own republishes) with ClientID "". A message without ClientID that the engine itself just
// republished is recognised (by topic and payload) as the next link of a republish chain, which
// Quirks.MaxRepublishHops bounds.
func (e *Engine) Handle(m Message) {
	if e.closed.Load() {
		return
	}
	e.received.Add(1)
	if m.ClientID == "" {
		if hops, ok := e.takeEcho(m.Topic, m.Payload); ok {
			m.hops = hops
		}
	}
	if max := e.opt.Quirks.MaxRepublishHops; max > 0 && m.hops > max {
		e.hopsCut.Add(1)
		e.log.Warn("rules: republish chain cut: this message was produced by too many republish actions in a row (Quirks.MaxRepublishHops)",
			"topic", m.Topic, "hops", m.hops)
		return
	}
	m.Payload = bytes.Clone(m.Payload)
	select {
	case e.queue <- m:
	default:
		n := e.dropped.Add(1)
		now := time.Now().UnixNano()
		if last := e.lastDropLog.Load(); now-last > int64(time.Second) && e.lastDropLog.CompareAndSwap(last, now) {
			e.log.Warn("rules: queue full, message not evaluated (AWS throttles the rules engine the same way: RuleMessageThrottled)",
				"topic", m.Topic, "dropped", n, "queue", cap(e.queue))
		}
	}
}

// Reload reads the enabled rules again; call it when a rule changes. It is synchronous, so a message
// handled after Reload returns sees the new rules. A rule that no longer compiles is left out and
// logged; when the source fails, the previous rules stay.
func (e *Engine) Reload() {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	list, err := e.opt.Rules.EnabledRules()
	if err != nil {
		e.log.Error("rules: listing the enabled rules failed; keeping the previous ones", "err", err)
		return
	}
	set := &ruleSet{byName: make(map[string]*compiledRule, len(list))}
	for _, r := range list {
		cr, err := compile(r)
		if err != nil {
			e.log.Error("rules: rule left out", "rule", r.Name, "err", err)
			continue
		}
		set.list = append(set.list, cr)
		set.byName[cr.name] = cr
	}
	e.rules.Store(set)
	e.log.Debug("rules: loaded", "rules", len(set.list))
}

// Close stops the engine: messages still queued are not evaluated, running functions and HTTP
// requests are cancelled, and Close returns when every goroutine has ended. Handle does nothing
// afterwards.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	e.cancel()
	e.wg.Wait()
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Received:       e.received.Load(),
		Dropped:        e.dropped.Load(),
		Fired:          e.fired.Load(),
		Executed:       e.executed.Load(),
		SQLErrors:      e.sqlErrors.Load(),
		ActionFailures: e.failures.Load(),
		ErrorActions:   e.errorActions.Load(),
		NotExecuted:    e.notExecuted.Load(),
		HopsCut:        e.hopsCut.Load(),
	}
}

// dispatch evaluates queued messages in order.
func (e *Engine) dispatch() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case m := <-e.queue:
			e.process(m)
		}
	}
}

// process runs the rules a message triggers.
func (e *Engine) process(m Message) {
	set := e.rules.Load()
	topic := m.Topic
	var targets []*compiledRule
	if name, rest, ok := sql.SplitBasicIngest(m.Topic); ok {
		// AWS: iot-basic-ingest — the named rule only, whatever its FROM; topic() sees rest.
		topic = rest
		if r := set.byName[name]; r != nil {
			targets = []*compiledRule{r}
		} else {
			e.log.Info("rules: Basic Ingest message for a rule that does not exist or is disabled", "topic", m.Topic, "rule", name)
		}
	} else {
		for _, r := range set.list {
			if r.stmt.Matches(topic) {
				targets = append(targets, r)
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = e.opt.Now()
	}
	traceID := e.opt.NewUUID()
	env := sql.Env{
		Topic:     topic,
		ClientID:  m.ClientID,
		Principal: m.Principal,
		Timestamp: ts,
		NewUUID:   e.opt.NewUUID,
		Rand:      mrand.Float64,
		AccountID: e.opt.Account,
	}
	if m.ClientID != "" {
		env.TraceID = traceID // AWS: traceid() is Undefined for messages that did not come over MQTT
	}
	for _, r := range targets {
		out, ok, err := r.stmt.Evaluate(m.Payload, env)
		if err != nil {
			// AWS: rule-error-handling — the error action covers actions; SQL problems are logged.
			e.sqlErrors.Add(1)
			e.log.Warn("rules: SQL evaluation failed; no action runs", "rule", r.name, "topic", m.Topic, "err", err)
			continue
		}
		if !ok {
			continue
		}
		e.fired.Add(1)
		x := &execution{rule: r, msg: m, env: env, traceID: traceID}
		if !r.slow {
			e.execute(x, out)
			continue
		}
		select {
		case e.sem <- struct{}{}:
		case <-e.ctx.Done():
			return
		}
		e.wg.Add(1) // the dispatcher's own count keeps the group above zero
		go func() {
			defer e.wg.Done()
			defer func() { <-e.sem }()
			e.execute(x, out)
		}()
	}
}

// execution is one rule run on one message.
type execution struct {
	rule    *compiledRule
	msg     Message
	env     sql.Env // of the original message; templates are expanded against its payload
	traceID string
}

// expand evaluates a substitution template against the original message. AWS: iot-substitution-templates
func (x *execution) expand(t *sql.Template) (string, error) {
	if t == nil {
		return "", nil
	}
	return t.Expand(x.msg.Payload, x.env)
}

// failure is one entry of the error action's "failures". AWS: rule-error-handling
type failure struct {
	FailedAction   string `json:"failedAction"`
	FailedResource string `json:"failedResource"`
	ErrorMessage   string `json:"errorMessage"`
}

// errorDocument is the error action's message, members in AWS's order. AWS: rule-error-handling
type errorDocument struct {
	RuleName              string    `json:"ruleName"`
	Topic                 string    `json:"topic"`
	CloudwatchTraceID     string    `json:"cloudwatchTraceId"`
	ClientID              string    `json:"clientId"`
	Base64OriginalPayload []byte    `json:"base64OriginalPayload"` // encoding/json writes base64
	Failures              []failure `json:"failures"`
}

// execute runs a rule's actions on the SELECT result, then its error action once if any failed.
func (e *Engine) execute(x *execution, out []byte) {
	defer e.executed.Add(1)
	r := x.rule
	fails := make([]*failure, len(r.actions))
	if r.slow && len(r.actions) > 1 {
		var wg sync.WaitGroup
		for i, a := range r.actions {
			wg.Go(func() { fails[i] = e.runAction(x, a, out) })
		}
		wg.Wait()
	} else {
		for i, a := range r.actions {
			fails[i] = e.runAction(x, a, out)
		}
	}
	var failures []failure
	for _, f := range fails {
		if f != nil {
			failures = append(failures, *f)
		}
	}
	if len(failures) == 0 {
		return
	}
	e.failures.Add(uint64(len(failures)))
	if r.errorAction == nil {
		return
	}
	clientID := x.msg.ClientID
	if clientID == "" {
		clientID = "n/a"
	}
	doc, err := json.Marshal(errorDocument{
		RuleName:              r.name,
		Topic:                 x.msg.Topic,
		CloudwatchTraceID:     x.traceID,
		ClientID:              clientID,
		Base64OriginalPayload: x.msg.Payload,
		Failures:              failures,
	})
	if err != nil {
		e.log.Error("rules: encoding the error action's message", "rule", r.name, "err", err)
		return
	}
	res, err := r.errorAction.run(e, x, doc)
	if err != nil {
		e.log.Error("rules: the error action failed too", "rule", r.name, "action", r.errorAction.shape(), "resource", res, "err", err)
		return
	}
	if r.errorAction.executed() {
		e.errorActions.Add(1)
	}
}

// runAction runs one action and returns its failure, or nil.
func (e *Engine) runAction(x *execution, a action, payload []byte) *failure {
	res, err := a.run(e, x, payload)
	if err == nil {
		return nil
	}
	e.log.Warn("rules: action failed", "rule", x.rule.name, "action", a.shape(), "resource", res, "topic", x.msg.Topic, "err", err)
	return &failure{FailedAction: a.shape(), FailedResource: res, ErrorMessage: err.Error()}
}

// note logs msg once per key for the engine's lifetime.
func (e *Engine) note(key, msg string, args ...any) {
	e.notedMu.Lock()
	seen := e.noted[key]
	e.noted[key] = true
	e.notedMu.Unlock()
	if !seen {
		e.log.Warn(msg, args...)
	}
}

// ---- republish echoes: telling the engine's own publishes apart when they come back through Handle ----

type echoKey struct {
	topic string
	sum   uint64
}

type echo struct {
	hops int
	at   time.Time
}

const (
	echoTTL        = 10 * time.Second
	maxEchoEntries = 10000
)

// expectEcho records, before a republish, that a message on topic with payload may come back
// through Handle as the hops-th link of a republish chain.
func (e *Engine) expectEcho(topic string, payload []byte, hops int) (echoKey, bool) {
	k := echoKey{topic, maphash.Bytes(e.seed, payload)}
	now := time.Now()
	e.echoMu.Lock()
	defer e.echoMu.Unlock()
	if now.Sub(e.lastSweep) > echoTTL {
		for key, list := range e.echoes {
			keep := list[:0]
			for _, ec := range list {
				if now.Sub(ec.at) < echoTTL {
					keep = append(keep, ec)
				}
			}
			if len(keep) == 0 {
				delete(e.echoes, key)
			} else {
				e.echoes[key] = keep
			}
		}
		e.lastSweep = now
	}
	if len(e.echoes) >= maxEchoEntries {
		return k, false
	}
	e.echoes[k] = append(e.echoes[k], echo{hops: hops, at: now})
	return k, true
}

// forgetEcho removes the latest expectation of k (its publish failed).
func (e *Engine) forgetEcho(k echoKey) {
	e.echoMu.Lock()
	defer e.echoMu.Unlock()
	if list := e.echoes[k]; len(list) > 1 {
		e.echoes[k] = list[:len(list)-1]
	} else {
		delete(e.echoes, k)
	}
}

// takeEcho consumes the oldest expectation of a message, if the engine published it.
func (e *Engine) takeEcho(topic string, payload []byte) (hops int, ok bool) {
	k := echoKey{topic, maphash.Bytes(e.seed, payload)}
	e.echoMu.Lock()
	defer e.echoMu.Unlock()
	list := e.echoes[k]
	if len(list) == 0 {
		return 0, false
	}
	hops = list[0].hops
	if len(list) == 1 {
		delete(e.echoes, k)
	} else {
		e.echoes[k] = list[1:]
	}
	return hops, true
}

// publish republishes for a rule and records the expected echo.
func (e *Engine) publish(x *execution, topic string, payload []byte, qos byte, h Headers) error {
	k, recorded := e.expectEcho(topic, payload, x.msg.hops+1)
	var err error
	if hp, ok := e.opt.Publisher.(HeaderPublisher); ok && !h.empty() {
		err = hp.PublishWithHeaders(topic, payload, qos, false, h)
	} else {
		if !h.empty() {
			e.note(x.rule.name+"\x00headers", "rules: republish headers not applied: the publisher cannot set MQTT 5 properties", "rule", x.rule.name)
		}
		err = e.opt.Publisher.Publish(topic, payload, qos, false)
	}
	if err != nil && recorded {
		e.forgetEcho(k)
	}
	return err
}

// randomUUID returns a random version-4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
