// Package exercises holds the course's hands-on steps as data: each chapter is a Scenario of Steps; a
// Step is what the learner does (Actions) and what should then be true (Expectations), with the AWS page
// it teaches. Nothing here performs I/O: exercises/runner executes a Step against an exercises/target, the
// TUI shows it, `iotlab check` turns every Expectation into a row of its table.
//
// Names that belong to one run (things, certificates' devices, policies, groups, client ids, topic roots)
// are written @{name}; the runner expands them with its run prefix (e.g. "iotlab-k3x9-c7-") so that runs
// never collide, in a shared AWS account or in a long-lived local state dir. Everything else is literal.
package exercises

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Listener is where a step talks to: the AWS API, the lab listener or the mTLS MQTT endpoint.
type Listener string

const (
	// API is the control plane (iot) and the HTTP data plane (iot-data).
	API Listener = "api"
	// Lab is iotlab's plain-MQTT lab listener (Mosquitto-like, port 1883). AWS has none: on the aws
	// target, steps on it are not applicable.
	Lab Listener = "lab"
	// MTLS is the AWS IoT Core MQTT endpoint: mutual TLS on port 8883.
	MTLS Listener = "mqtts"
)

// Capability is something a step needs from its target beyond a listener.
type Capability string

const (
	// CapLab: the target has a lab listener (local only).
	CapLab Capability = "lab"
	// CapLocalLogs: the AWS-format log file is readable (local only; on AWS the logs go to CloudWatch
	// and need an IAM role).
	CapLocalLogs Capability = "local-logs"
	// CapRuleRole: rule actions that need an IAM role can be created (local always; AWS with
	// --rule-role-arn).
	CapRuleRole Capability = "rule-role"
	// CapAPIThrottle: the API throttles calls beyond AWS's per-API rate quotas (AWS always; iotlab with
	// --api-throttle).
	CapAPIThrottle Capability = "api-throttle"
)

// Scenario is one chapter of the course.
type Scenario struct {
	Chapter   int
	ID        string // short, stable: "registry", "topics", …
	Title     string
	Summary   string
	Listeners []Listener // in the order the chapter uses them
	Doc       string     // the AWS page the chapter teaches
	Steps     []Step
}

// Step is one thing the learner does, and what should follow. A step is executable on its own once the
// steps before it in its scenario have run (Setup steps make a chapter independent of earlier ones).
type Step struct {
	ID       string // unique within the scenario
	Title    string
	Do       string // what the learner does, in the book's words
	Doc      string // AWS page
	Listener Listener
	// Setup marks groundwork repeated from earlier chapters (the TUI may run it without showing it).
	Setup   bool
	Needs   []Capability
	Actions []Action
	Expect  []Expectation
}

// Requires lists every capability the step needs, its listener's included.
func (s Step) Requires() []Capability {
	caps := append([]Capability(nil), s.Needs...)
	if s.Listener == Lab {
		caps = append(caps, CapLab)
	}
	for _, a := range s.Actions {
		if c, ok := a.(Connect); ok && c.Listener == Lab && s.Listener != Lab {
			caps = append(caps, CapLab)
		}
	}
	return caps
}

// Action is one thing done to the target. Implementations are plain structs, below.
type Action interface {
	// Describe says, in a line, what the action does; names are still @{…} templates.
	Describe() string
}

// Expectation is one outcome to verify after a step's actions. Implementations are plain structs, below.
type Expectation interface {
	// Describe returns the behaviour checked and the expected value, names still @{…} templates.
	Describe() (behaviour, expected string)
}

// ---- control plane (iot) --------------------------------------------------------------------------

// CreateBillingGroup: iot:CreateBillingGroup.
type CreateBillingGroup struct{ Name string }

// CreateThingType: iot:CreateThingType with searchable attributes.
type CreateThingType struct {
	Name        string
	Description string
	Searchable  []string
}

// CreateThing: iot:CreateThing. Save names the result (or error) for Result/APIError expectations.
type CreateThing struct {
	Name         string
	Type         string
	Attrs        map[string]string
	BillingGroup string
	Save         string
}

// CreateThingGroup: iot:CreateThingGroup, under Parent when set.
type CreateThingGroup struct{ Name, Parent string }

// AddThingToGroup: iot:AddThingToThingGroup.
type AddThingToGroup struct{ Thing, Group string }

// AddThingToBillingGroup: iot:AddThingToBillingGroup.
type AddThingToBillingGroup struct{ Thing, Group string }

// ListThings: iot:ListThings filtered by an attribute and/or a thing type; saves the names.
type ListThings struct {
	AttrName, AttrValue, Type string
	Save                      string
}

// ListThingsInGroup: iot:ListThingsInThingGroup (recursive); saves the names.
type ListThingsInGroup struct {
	Group     string
	Recursive bool
	Save      string
}

// ListThingsInBillingGroup: iot:ListThingsInBillingGroup; saves the names.
type ListThingsInBillingGroup struct{ Group, Save string }

// DescribeThing: iot:DescribeThing; saves the output.
type DescribeThing struct{ Name, Save string }

// DescribeThingType: iot:DescribeThingType; saves the output.
type DescribeThingType struct{ Name, Save string }

// DescribeEndpoint: iot:DescribeEndpoint (Type "" asks for the legacy endpoint); saves the output.
type DescribeEndpoint struct{ Type, Save string }

// CreatePolicy: iot:CreatePolicy. Document is a template: @{…} names expand, ${iot:…} variables stay.
type CreatePolicy struct{ Name, Document string }

// Provision makes a device's identity the book's way, through the control plane: CreateThing (unless
// NoThing), a certificate — AWS-made key (CreateKeysAndCertificate) or the device's own EC key and a CSR
// (CreateCertificateFromCsr) — AttachPolicy (when Policy is set) and AttachThingPrincipal. The
// certificate and key are kept under Device's name for Connect.
type Provision struct {
	Device  string // credential name; the thing is @{Device} unless Thing is set
	Thing   string
	Type    string
	Attrs   map[string]string
	OwnKey  bool
	Policy  string
	NoThing bool
	// Save stores {certificateId, certificateArn, certificatePem, derSha256, keyType}.
	Save string
}

// ForeignCertificate makes a certificate for Device that AWS never saw: a self-signed one.
type ForeignCertificate struct{ Device string }

// UpdateCertificate: iot:UpdateCertificate of Device's certificate to Status.
type UpdateCertificate struct{ Device, Status string }

// TestAuthorization: iot:TestAuthorization for Device's certificate: may ClientID do Action on
// Resource (an ARN tail such as "topic/home/x")? Saves the first result.
type TestAuthorization struct {
	Device, ClientID, Action, Resource string
	Save                               string
}

// EnableLogging makes sure AWS IoT logs at least errors (SetV2LoggingOptions when not configured).
type EnableLogging struct{}

// CreateRule: iot:CreateTopicRule with one republish action (and the rule role).
type CreateRule struct {
	Name      string // letters, digits and _: the runner turns the prefix's '-' into '_'
	SQL       string
	Republish string // topic template
	QoS       int
}

// ---- data plane (iot-data) ------------------------------------------------------------------------

// UpdateShadow: iot-data UpdateThingShadow (the backend's way to command a device).
type UpdateShadow struct{ Thing, Document, Save string }

// GetShadow: iot-data GetThingShadow; saves the document.
type GetShadow struct{ Thing, Save string }

// GetRetained: iot-data GetRetainedMessage; saves {topic, payload, qos} or the error.
type GetRetained struct{ Topic, Save string }

// ---- MQTT ------------------------------------------------------------------------------------------

// Connect opens an MQTT connection named Client. On MTLS it presents Device's certificate; the client id
// is ID (default @{Device}, or @{Client} on the lab listener).
type Connect struct {
	Client   string
	ID       string
	Device   string
	Listener Listener // Lab or MTLS; default: the step's listener
	Version  int      // 4 (MQTT 3.1.1, default) or 5
	// Persistent asks for a persistent session: CleanSession=0 (3.1.1) or Clean Start=0 with a session
	// expiry of one hour (5).
	Persistent bool
	// NoAck: the client never acknowledges QoS 1 deliveries (a stalled device).
	NoAck bool
}

// Subscribe sends one SUBSCRIBE with every filter at QoS.
type Subscribe struct {
	Client  string
	Filters []string
	QoS     int
}

// Publish sends a message. For QoS 1 it waits for the PUBACK (or the connection closing).
type Publish struct {
	Client  string
	Topic   string
	Payload string
	QoS     int
	Retain  bool
}

// Disconnect sends DISCONNECT and closes.
type Disconnect struct{ Client string }

// Drop closes the client's network connection without DISCONNECT (power or network lost).
type Drop struct{ Client string }

// WhoAmI asks STS GetCallerIdentity and DescribeEndpoint(iot:Data-ATS); saves {Account, Arn, Region,
// Endpoint}: what a user must see before anything is created in an AWS account.
type WhoAmI struct{ Save string }

// StartFleet starts the simulated smart-home fleet (exercises/fleet, what `iotlab devices` runs): it
// provisions its devices through the control plane (things @{<room>-sensor}, @{hall-door}, @{hall-lock},
// policy @{home-fleet}) and connects each with its own certificate.
type StartFleet struct{ Rooms []string }

// StartLock starts the simulated hall-door lock (exercises/fleet) as Device: it reports its state to its
// shadow and obeys desired states and commands.
type StartLock struct{ Device string }

// ---- expectations ----------------------------------------------------------------------------------

// Accepted expects Client's CONNECT to have been accepted (CONNACK 0), and SessionPresent when set.
type Accepted struct {
	Client         string
	SessionPresent *bool
	Why            string
}

// RefusedConnect expects Client's CONNECT to have been refused (no CONNACK, a CONNACK code ≥ 0x80, or
// a failed TLS handshake).
type RefusedConnect struct{ Client, Why string }

// PublishAllowed / PublishRefused expect the outcome of Client's last publish to Topic: allowed is a
// PUBACK 0 (QoS 1) or an open connection (QoS 0); refused is a PUBACK ≥ 0x80 (MQTT 5) or the connection
// closed (MQTT 3.1.1).
type PublishAllowed struct{ Client, Topic, Why string }

// PublishRefused: see PublishAllowed.
type PublishRefused struct{ Client, Topic, Why string }

// Granted expects the SUBACK code of Filter to grant QoS (or any QoS when QoS < 0).
type Granted struct {
	Client, Filter string
	QoS            int
	Why            string
}

// SubscribeRefused expects the SUBACK code of Filter to be a failure (0x80 or an MQTT 5 reason ≥ 0x80).
type SubscribeRefused struct{ Client, Filter, Why string }

// Receives expects Client to receive a message on Topic within the wait; Payload, QoS, Retain and Dup
// are checked when set ("" / nil mean any; EmptyPayload asks for an empty one).
type Receives struct {
	Client, Topic, Payload string
	EmptyPayload           bool
	QoS                    *int
	Retain, Dup            *bool
	Why                    string
}

// NotReceives expects Client to receive nothing on Topic (with Payload, when set) during a quiet period.
type NotReceives struct{ Client, Topic, Payload, Why string }

// Result expects a saved API result: the value at Path (dotted, JSON field names of the SDK output; ""
// for the whole value) to equal Want (Contains: to contain it).
// Want may refer to another saved value as @{=save.path}. With Match, Want is a regular expression;
// with Unordered, a list compares as a set.
type Result struct {
	Save, Path, Want           string
	Contains, Match, Unordered bool
	Why                        string
}

// Absent is the Want of a Result or ShadowState that expects no value at Path.
const Absent = "(absent)"

// APIError expects a saved API call to have failed with the AWS error Code.
type APIError struct{ Save, Code, Why string }

// ShadowState expects, within the wait, the value at Path of Thing's shadow to be Want (polled through
// GetThingShadow). With Stays, it must be Want already and stay so for the quiet period.
type ShadowState struct {
	Thing, Path, Want, Why string
	Stays                  bool
}

// DecidedBy expects the broker to name the policy statement that decided Client's Action (an
// "iot:Publish"…): Effect "Allow"/"Deny" and Sid. Needs the broker's event stream (local in-process
// target); elsewhere it is not applicable.
type DecidedBy struct{ Client, Action, Effect, Sid, Why string }

// LogEntry expects an AWS IoT log entry (eventType, status, reason) for Client in the AWS-format log.
type LogEntry struct{ Client, EventType, Status, Reason, Why string }

// ---- descriptions ----------------------------------------------------------------------------------

func (a CreateBillingGroup) Describe() string { return "create billing group " + a.Name }
func (a CreateThingType) Describe() string {
	return fmt.Sprintf("create thing type %s (searchable: %s)", a.Name, strings.Join(a.Searchable, ", "))
}
func (a CreateThing) Describe() string {
	s := "create thing " + a.Name
	if a.Type != "" {
		s += " of type " + a.Type
	}
	if len(a.Attrs) > 0 {
		s += " with " + attrs(a.Attrs)
	}
	return s
}
func (a CreateThingGroup) Describe() string {
	if a.Parent != "" {
		return "create thing group " + a.Name + " under " + a.Parent
	}
	return "create thing group " + a.Name
}
func (a AddThingToGroup) Describe() string { return "add " + a.Thing + " to thing group " + a.Group }
func (a AddThingToBillingGroup) Describe() string {
	return "add " + a.Thing + " to billing group " + a.Group
}
func (a ListThings) Describe() string {
	s := "list things"
	if a.AttrName != "" {
		s += " with " + a.AttrName + "=" + a.AttrValue
	}
	if a.Type != "" {
		s += " of type " + a.Type
	}
	return s
}
func (a ListThingsInGroup) Describe() string { return "list the things in thing group " + a.Group }
func (a ListThingsInBillingGroup) Describe() string {
	return "list the things in billing group " + a.Group
}
func (a DescribeThing) Describe() string     { return "describe thing " + a.Name }
func (a DescribeThingType) Describe() string { return "describe thing type " + a.Name }
func (a DescribeEndpoint) Describe() string {
	if a.Type == "" {
		return "describe the endpoint (no type: legacy)"
	}
	return "describe the " + a.Type + " endpoint"
}
func (a CreatePolicy) Describe() string { return "create policy " + a.Name }
func (a Provision) Describe() string {
	how := "an AWS-made key (CreateKeysAndCertificate)"
	if a.OwnKey {
		how = "its own EC key and a CSR (CreateCertificateFromCsr)"
	}
	s := "provision " + a.Device + " with " + how
	if a.Policy != "" {
		s += ", policy " + a.Policy
	}
	return s
}
func (a ForeignCertificate) Describe() string {
	return "make a self-signed certificate for " + a.Device + " that AWS never registered"
}
func (a UpdateCertificate) Describe() string {
	return "set the certificate of " + a.Device + " to " + a.Status
}
func (a TestAuthorization) Describe() string {
	return fmt.Sprintf("ask TestAuthorization whether %s may %s on %s", a.ClientID, a.Action, a.Resource)
}
func (a EnableLogging) Describe() string { return "turn AWS IoT logging on (at least ERROR)" }
func (a CreateRule) Describe() string {
	return fmt.Sprintf("create rule %s: %s → republish to %s", a.Name, a.SQL, a.Republish)
}
func (a UpdateShadow) Describe() string { return "update the shadow of " + a.Thing + ": " + a.Document }
func (a GetShadow) Describe() string    { return "get the shadow of " + a.Thing }
func (a GetRetained) Describe() string {
	return "get the retained message of " + a.Topic + " over HTTP"
}
func (a Connect) Describe() string {
	v := "MQTT 3.1.1"
	if a.Version == 5 {
		v = "MQTT 5"
	}
	s := "connect " + a.Client + " (" + v
	if a.Persistent {
		s += ", persistent session"
	}
	if a.Device != "" {
		s += ", certificate of " + a.Device
	}
	if a.ID != "" {
		s += ", client id " + a.ID
	}
	return s + ")"
}
func (a Subscribe) Describe() string {
	return fmt.Sprintf("%s subscribes to %s (QoS %d)", a.Client, strings.Join(a.Filters, ", "), a.QoS)
}
func (a Publish) Describe() string {
	s := fmt.Sprintf("%s publishes %q to %s (QoS %d", a.Client, a.Payload, a.Topic, a.QoS)
	if a.Retain {
		s += ", retained"
	}
	return s + ")"
}
func (a Disconnect) Describe() string { return a.Client + " disconnects" }
func (a Drop) Describe() string       { return a.Client + " loses its connection (no DISCONNECT)" }
func (a StartLock) Describe() string  { return "start the lock " + a.Device }
func (a WhoAmI) Describe() string {
	return "show the account, region and endpoint (STS, DescribeEndpoint)"
}
func (a StartFleet) Describe() string {
	return "start the smart-home fleet (" + strings.Join(a.Rooms, ", ") + " sensors, the hall door and its lock)"
}

func (e Accepted) Describe() (string, string) {
	want := "CONNACK 0x00"
	if e.SessionPresent != nil {
		want += fmt.Sprintf(", session present %v", *e.SessionPresent)
	}
	return why(e.Why, e.Client+" connects"), want
}
func (e RefusedConnect) Describe() (string, string) {
	return why(e.Why, e.Client+" is refused"), "no session (no CONNACK 0x00)"
}
func (e PublishAllowed) Describe() (string, string) {
	return why(e.Why, e.Client+" may publish to "+e.Topic), "PUBACK 0x00"
}
func (e PublishRefused) Describe() (string, string) {
	return why(e.Why, e.Client+" may not publish to "+e.Topic), "refused (MQTT 5 PUBACK ≥ 0x80; 3.1.1 connection closed)"
}
func (e Granted) Describe() (string, string) {
	want := "granted"
	if e.QoS >= 0 {
		want = fmt.Sprintf("granted QoS %d", e.QoS)
	}
	return why(e.Why, e.Client+" subscribes to "+e.Filter), want
}
func (e SubscribeRefused) Describe() (string, string) {
	return why(e.Why, e.Client+" may not subscribe to "+e.Filter), "SUBACK failure (0x80 / ≥ 0x80)"
}
func (e Receives) Describe() (string, string) {
	var w []string
	switch {
	case e.EmptyPayload:
		w = append(w, "an empty message")
	case e.Payload != "":
		w = append(w, fmt.Sprintf("%q", e.Payload))
	default:
		w = append(w, "a message")
	}
	if e.QoS != nil {
		w = append(w, fmt.Sprintf("QoS %d", *e.QoS))
	}
	if e.Retain != nil {
		w = append(w, fmt.Sprintf("retain %v", *e.Retain))
	}
	if e.Dup != nil {
		w = append(w, fmt.Sprintf("dup %v", *e.Dup))
	}
	return why(e.Why, e.Client+" receives on "+e.Topic), strings.Join(w, ", ")
}
func (e NotReceives) Describe() (string, string) {
	what := "nothing"
	if e.Payload != "" {
		what = fmt.Sprintf("not %q", e.Payload)
	}
	return why(e.Why, e.Client+" does not receive on "+e.Topic), what
}
func (e Result) Describe() (string, string) {
	path := e.Path
	if path == "" {
		path = "result"
	}
	op := "= "
	switch {
	case e.Contains:
		op = "contains "
	case e.Match:
		op = "matches "
	}
	return why(e.Why, e.Save+": "+path), op + e.Want
}
func (e APIError) Describe() (string, string) { return why(e.Why, e.Save+" fails"), e.Code }
func (e ShadowState) Describe() (string, string) {
	if e.Stays {
		return why(e.Why, "shadow of "+e.Thing+": "+e.Path), "stays " + e.Want
	}
	return why(e.Why, "shadow of "+e.Thing+": "+e.Path), e.Want
}
func (e DecidedBy) Describe() (string, string) {
	return why(e.Why, "the statement deciding "+e.Client+"'s "+e.Action), e.Effect + " by statement " + e.Sid
}
func (e LogEntry) Describe() (string, string) {
	want := e.EventType + " " + e.Status
	if e.Reason != "" {
		want += " " + e.Reason
	}
	return why(e.Why, "AWS IoT log entry for "+e.Client), want
}

func why(w, def string) string {
	if w != "" {
		return w
	}
	return def
}

func attrs(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// Ptr returns a pointer to v, for the optional fields of expectations.
func Ptr[T any](v T) *T { return &v }

// ---- results ---------------------------------------------------------------------------------------

// Status is the verdict on an expectation, a step or a probe.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// NotApplicable: the target lacks what the step needs (the lab listener on AWS, say): not a failure.
	NotApplicable Status = "n/a"
	// Skipped: an earlier step of the scenario failed to run, so this one was not tried.
	Skipped Status = "skipped"
	// NotProbed: a checklist item no probe covers yet.
	NotProbed Status = "not probed"
)

// Outcome is one evaluated expectation: what was expected, what was observed, and the verdict.
type Outcome struct {
	Behaviour string
	Expected  string
	Observed  string
	Status    Status
}

// EventKind says what an Event reports.
type EventKind string

const (
	EvConnect     EventKind = "connect"     // client sent CONNECT
	EvConnAck     EventKind = "connack"     // broker answered (Code)
	EvPublish     EventKind = "publish"     // client published
	EvPubAck      EventKind = "puback"      // broker acknowledged (Code)
	EvReceive     EventKind = "receive"     // client received a message
	EvSubscribe   EventKind = "subscribe"   // client subscribed
	EvSubAck      EventKind = "suback"      // broker answered (Code per filter in Detail)
	EvDisconnect  EventKind = "disconnect"  // client or broker sent DISCONNECT
	EvClosed      EventKind = "closed"      // the network connection ended
	EvRefused     EventKind = "refused"     // the broker refused an operation (client view or broker view)
	EvAPI         EventKind = "api"         // an API call succeeded
	EvAPIError    EventKind = "api-error"   // an API call failed
	EvBroker      EventKind = "broker"      // the broker's own account of an operation (in-process only)
	EvStep        EventKind = "step"        // a step started
	EvExpectation EventKind = "expectation" // an expectation was evaluated
)

// Event is one observation during a step, for the TUI's live view and for reports: what was published,
// received or refused, and — when the broker tells — by which policy statement.
type Event struct {
	Time     time.Time
	Step     string // scenario/step id
	Source   string // "client", "broker", "api", "runner"
	Kind     EventKind
	Client   string // client id
	Topic    string
	QoS      int
	Retain   bool
	Dup      bool
	Payload  string
	Code     int // MQTT reason code, HTTP status
	Action   string
	Decision string // the deciding policy statement, explained ("ALLOWED by home-device v1 statement 2 …")
	// Effect ("ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY"), Policy and Sid of the deciding statement,
	// when the broker tells.
	Effect, Policy, Sid string
	Detail              string
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-11s %-8s", e.Kind, e.Source)
	if e.Client != "" {
		b.WriteString(" " + e.Client)
	}
	if e.Topic != "" {
		b.WriteString(" " + e.Topic)
	}
	if e.Payload != "" {
		p := e.Payload
		if len(p) > 60 {
			p = p[:60] + "…"
		}
		fmt.Fprintf(&b, " %q", p)
	}
	if e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	if e.Decision != "" {
		b.WriteString(" [" + e.Decision + "]")
	}
	return b.String()
}
