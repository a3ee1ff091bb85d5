package exercises

// The course, chapter by chapter. Topics live under @{home} (the smart home's topic root); devices are
// things named after where they are: livingroom-sensor, kitchen-sensor, hall-door, hall-lock.

const (
	dg = "https://docs.aws.amazon.com/iot/latest/developerguide/"
	// arn is the ARN prefix of IoT resources in the target's account and region.
	arn = "arn:aws:iot:@{region}:@{account}:"
)

// Chapters returns every scenario of the course, in order. Each call returns fresh values.
func Chapters() []Scenario {
	return []Scenario{
		chapterRegistry(), chapterTopics(), chapterQoS(), chapterSessions(), chapterRetained(),
		chapterIdentity(), chapterPolicy(), chapterGenericPolicy(), chapterBackend(), chapterSwitch(),
	}
}

// Chapter returns the scenario of chapter n, or false.
func Chapter(n int) (Scenario, bool) {
	for _, s := range Chapters() {
		if s.Chapter == n {
			return s, true
		}
	}
	return Scenario{}, false
}

var (
	yes = Ptr(true)
	no  = Ptr(false)
	q0  = Ptr(0)
	q1  = Ptr(1)
)

// HomeDevicePolicy is the book's restrictive device policy: a device connects only as its own thing,
// publishes (and retains) only under the home's topics, subscribes to and receives the home's topics.
const HomeDevicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ConnectAsItsThing", "Effect": "Allow", "Action": "iot:Connect",
     "Resource": "` + arn + `client/${iot:Connection.Thing.ThingName}"},
    {"Sid": "PublishHome", "Effect": "Allow", "Action": ["iot:Publish", "iot:RetainPublish"],
     "Resource": "` + arn + `topic/@{home}/*"},
    {"Sid": "SubscribeHome", "Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "` + arn + `topicfilter/@{home}/*"},
    {"Sid": "ReceiveHome", "Effect": "Allow", "Action": "iot:Receive",
     "Resource": "` + arn + `topic/@{home}/*"}
  ]
}`

// GenericPolicy is chapter 8's one policy for every device, with policy variables: a device connects as
// its attached thing, publishes only under its own topic (@{home}/<room>/<thing>/…), reads its room, and
// uses its own shadow. The hall's devices read the alerts.
const GenericPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ConnectAsAttachedThing", "Effect": "Allow", "Action": "iot:Connect",
     "Resource": "` + arn + `client/${iot:Connection.Thing.ThingName}",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    {"Sid": "PublishOwnTopics", "Effect": "Allow", "Action": ["iot:Publish", "iot:RetainPublish"],
     "Resource": "` + arn + `topic/@{home}/${iot:Connection.Thing.Attributes[room]}/${iot:Connection.Thing.ThingName}/*"},
    {"Sid": "SubscribeOwnRoom", "Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": ["` + arn + `topicfilter/@{home}/${iot:Connection.Thing.Attributes[room]}/*",
                  "` + arn + `topicfilter/@{home}/alerts/*"]},
    {"Sid": "ReceiveOwnRoom", "Effect": "Allow", "Action": "iot:Receive",
     "Resource": ["` + arn + `topic/@{home}/${iot:Connection.Thing.Attributes[room]}/*",
                  "` + arn + `topic/@{home}/alerts/*"]},
    {"Sid": "OwnShadow", "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "` + arn + `topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Sid": "OwnShadowSubscribe", "Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "` + arn + `topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"}
  ]
}`

func chapterRegistry() Scenario {
	const doc = dg + "thing-registry.html"
	sensors := []struct{ name, room, floor string }{
		{"livingroom-sensor", "livingroom", "0"}, {"kitchen-sensor", "kitchen", "0"}, {"bedroom-sensor", "bedroom", "1"},
	}
	var create []Action
	for _, s := range sensors {
		create = append(create, CreateThing{Name: "@{" + s.name + "}", Type: "@{room-sensor}",
			Attrs: map[string]string{"room": s.room, "floor": s.floor}})
	}
	create = append(create, CreateThing{Name: "@{hall-door}", Attrs: map[string]string{"room": "hall"}},
		DescribeThing{Name: "@{livingroom-sensor}", Save: "livingroom"})
	return Scenario{
		Chapter: 1, ID: "registry", Title: "The registry", Listeners: []Listener{API}, Doc: doc,
		Summary: "Billing group, a thing type with searchable attributes, things with attributes, thing groups: the smart home in the AWS IoT registry.",
		Steps: []Step{
			{ID: "billing-group", Title: "A billing group for the home", Listener: API, Doc: dg + "tagging-iot-billing.html",
				Do:      "iot.create_billing_group(billingGroupName='home-billing')",
				Actions: []Action{CreateBillingGroup{Name: "@{home-billing}"}},
			},
			{ID: "thing-type", Title: "A thing type with searchable attributes", Listener: API, Doc: dg + "thing-types.html",
				Do: "iot.create_thing_type(thingTypeName='room-sensor', thingTypeProperties={'searchableAttributes': ['room', 'floor']})",
				Actions: []Action{
					CreateThingType{Name: "@{room-sensor}", Description: "a room's temperature sensor", Searchable: []string{"room", "floor"}},
					DescribeThingType{Name: "@{room-sensor}", Save: "type"},
				},
				Expect: []Expectation{Result{Save: "type", Path: "ThingTypeProperties.SearchableAttributes", Want: `["room","floor"]`, Unordered: true}},
			},
			{ID: "things", Title: "Things with attributes", Listener: API, Doc: dg + "thing-registry.html",
				Do:      "iot.create_thing(thingName='livingroom-sensor', thingTypeName='room-sensor', attributePayload={'attributes': {'room': 'livingroom', 'floor': '0'}}) — and the kitchen, the bedroom and the hall door",
				Actions: create,
				Expect: []Expectation{
					Result{Save: "livingroom", Path: "Attributes.room", Want: "livingroom"},
					Result{Save: "livingroom", Path: "ThingTypeName", Want: "@{room-sensor}"},
					Result{Save: "livingroom", Path: "Version", Want: "1"},
				},
			},
			{ID: "create-is-idempotent", Title: "CreateThing twice", Listener: API, Doc: "https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html",
				Do: "create the living-room sensor again, identically, then with other attributes",
				Actions: []Action{
					CreateThing{Name: "@{livingroom-sensor}", Type: "@{room-sensor}", Attrs: map[string]string{"room": "livingroom", "floor": "0"}, Save: "again"},
					CreateThing{Name: "@{livingroom-sensor}", Type: "@{room-sensor}", Attrs: map[string]string{"room": "kitchen", "floor": "0"}, Save: "conflict"},
				},
				Expect: []Expectation{
					Result{Save: "again", Path: "ThingName", Want: "@{livingroom-sensor}", Why: "the same CreateThing again succeeds (checklist 61)"},
					APIError{Save: "conflict", Code: "ResourceAlreadyExistsException", Why: "CreateThing with other attributes is a conflict (checklist 61)"},
				},
			},
			{ID: "search", Title: "Find things by attribute and type", Listener: API, Doc: "https://docs.aws.amazon.com/iot/latest/apireference/API_ListThings.html",
				Do: "iot.list_things(attributeName='floor', attributeValue='0', thingTypeName='room-sensor')",
				Actions: []Action{
					ListThings{AttrName: "floor", AttrValue: "0", Type: "@{room-sensor}", Save: "ground"},
					ListThings{AttrName: "room", AttrValue: "bedroom", Type: "@{room-sensor}", Save: "bedroom"},
				},
				Expect: []Expectation{
					Result{Save: "ground", Want: `["@{kitchen-sensor}","@{livingroom-sensor}"]`},
					Result{Save: "bedroom", Want: `["@{bedroom-sensor}"]`},
				},
			},
			{ID: "thing-groups", Title: "Thing groups: the home and its floors", Listener: API, Doc: dg + "thing-groups.html",
				Do: "iot.create_thing_group(thingGroupName='ground-floor', parentGroupName='home'); iot.add_thing_to_thing_group(…)",
				Actions: []Action{
					CreateThingGroup{Name: "@{home}"},
					CreateThingGroup{Name: "@{ground-floor}", Parent: "@{home}"},
					CreateThingGroup{Name: "@{first-floor}", Parent: "@{home}"},
					AddThingToGroup{Thing: "@{livingroom-sensor}", Group: "@{ground-floor}"},
					AddThingToGroup{Thing: "@{kitchen-sensor}", Group: "@{ground-floor}"},
					AddThingToGroup{Thing: "@{hall-door}", Group: "@{ground-floor}"},
					AddThingToGroup{Thing: "@{bedroom-sensor}", Group: "@{first-floor}"},
					ListThingsInGroup{Group: "@{ground-floor}", Save: "ground-floor"},
					ListThingsInGroup{Group: "@{home}", Recursive: true, Save: "home"},
				},
				Expect: []Expectation{
					Result{Save: "ground-floor", Want: `["@{hall-door}","@{kitchen-sensor}","@{livingroom-sensor}"]`},
					Result{Save: "home", Want: `["@{bedroom-sensor}","@{hall-door}","@{kitchen-sensor}","@{livingroom-sensor}"]`, Why: "the home group, recursively, holds every thing of its floors"},
				},
			},
			{ID: "billing", Title: "Every thing in the billing group", Listener: API, Doc: dg + "tagging-iot-billing.html",
				Do: "iot.add_thing_to_billing_group(billingGroupName='home-billing', thingName=…)",
				Actions: []Action{
					AddThingToBillingGroup{Thing: "@{livingroom-sensor}", Group: "@{home-billing}"},
					AddThingToBillingGroup{Thing: "@{kitchen-sensor}", Group: "@{home-billing}"},
					AddThingToBillingGroup{Thing: "@{bedroom-sensor}", Group: "@{home-billing}"},
					AddThingToBillingGroup{Thing: "@{hall-door}", Group: "@{home-billing}"},
					ListThingsInBillingGroup{Group: "@{home-billing}", Save: "billed"},
				},
				Expect: []Expectation{Result{Save: "billed", Want: `["@{bedroom-sensor}","@{hall-door}","@{kitchen-sensor}","@{livingroom-sensor}"]`}},
			},
		},
	}
}

func chapterTopics() Scenario {
	const doc = dg + "topics.html"
	lr, kt := "@{home}/livingroom/temperature", "@{home}/kitchen/temperature"
	return Scenario{
		Chapter: 2, ID: "topics", Title: "Topic structure and filters", Listeners: []Listener{Lab}, Doc: doc,
		Summary: "A smart-home topic tree on the lab listener; the single-level + and multi-level # wildcards; who receives what.",
		Steps: []Step{
			{ID: "subscribers", Title: "Three subscribers, three filters", Listener: Lab, Doc: doc,
				Do: "mosquitto_sub -t 'home/#'; mosquitto_sub -t 'home/livingroom/+'; mosquitto_sub -t 'home/+/temperature'",
				Actions: []Action{
					Connect{Client: "dashboard"}, Subscribe{Client: "dashboard", Filters: []string{"@{home}/#"}},
					Connect{Client: "livingroom-display"}, Subscribe{Client: "livingroom-display", Filters: []string{"@{home}/livingroom/+"}},
					Connect{Client: "thermostat"}, Subscribe{Client: "thermostat", Filters: []string{"@{home}/+/temperature"}},
					Connect{Client: "sensor"},
				},
				Expect: []Expectation{
					Granted{Client: "dashboard", Filter: "@{home}/#", QoS: 0},
					Granted{Client: "livingroom-display", Filter: "@{home}/livingroom/+", QoS: 0},
					Granted{Client: "thermostat", Filter: "@{home}/+/temperature", QoS: 0},
				},
			},
			{ID: "livingroom-temperature", Title: "A living-room temperature", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -t home/livingroom/temperature -m 21.5",
				Actions: []Action{Publish{Client: "sensor", Topic: lr, Payload: "21.5"}},
				Expect: []Expectation{
					Receives{Client: "dashboard", Topic: lr, Payload: "21.5", Why: "home/# matches every level below home"},
					Receives{Client: "livingroom-display", Topic: lr, Payload: "21.5", Why: "home/livingroom/+ matches one level"},
					Receives{Client: "thermostat", Topic: lr, Payload: "21.5", Why: "home/+/temperature matches any room"},
				},
			},
			{ID: "kitchen-temperature", Title: "A kitchen temperature", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -t home/kitchen/temperature -m 19.0",
				Actions: []Action{Publish{Client: "sensor", Topic: kt, Payload: "19.0"}},
				Expect: []Expectation{
					Receives{Client: "dashboard", Topic: kt, Payload: "19.0"},
					Receives{Client: "thermostat", Topic: kt, Payload: "19.0"},
					NotReceives{Client: "livingroom-display", Topic: kt, Why: "home/livingroom/+ does not match the kitchen"},
				},
			},
			{ID: "livingroom-humidity", Title: "A living-room humidity", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -t home/livingroom/humidity -m 40",
				Actions: []Action{Publish{Client: "sensor", Topic: "@{home}/livingroom/humidity", Payload: "40"}},
				Expect: []Expectation{
					Receives{Client: "dashboard", Topic: "@{home}/livingroom/humidity", Payload: "40"},
					Receives{Client: "livingroom-display", Topic: "@{home}/livingroom/humidity", Payload: "40"},
					NotReceives{Client: "thermostat", Topic: "@{home}/livingroom/humidity", Why: "home/+/temperature does not match humidity"},
				},
			},
			{ID: "deeper-levels", Title: "+ is one level, # is any number", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -t home/hall/door/state -m open",
				Actions: []Action{Publish{Client: "sensor", Topic: "@{home}/hall/door/state", Payload: "open"}},
				Expect: []Expectation{
					Receives{Client: "dashboard", Topic: "@{home}/hall/door/state", Payload: "open"},
					NotReceives{Client: "livingroom-display", Topic: "@{home}/hall/door/state"},
					NotReceives{Client: "thermostat", Topic: "@{home}/hall/door/state"},
				},
			},
			{ID: "parent-level", Title: "# also matches its parent level (MQTT; not on AWS IoT Core)", Listener: Lab, Doc: dg + "topics.html#topicfilters",
				Do:      "mosquitto_pub -t home -m hello — AWS IoT Core would not deliver it to home/# (checklist 31)",
				Actions: []Action{Publish{Client: "sensor", Topic: "@{home}", Payload: "hello"}},
				Expect:  []Expectation{Receives{Client: "dashboard", Topic: "@{home}", Payload: "hello", Why: "on the lab listener (MQTT 3.1.1 §4.7.1.2) home/# matches home"}},
			},
		},
	}
}

func chapterQoS() Scenario {
	const doc = dg + "mqtt.html#mqtt-qos"
	t := "@{home}/livingroom/temperature"
	k := "@{home}/kitchen/temperature"
	return Scenario{
		Chapter: 3, ID: "qos", Title: "QoS 0 and QoS 1", Listeners: []Listener{Lab}, Doc: doc,
		Summary: "End-to-end delivery: the effective QoS is the lower of the publish and the subscription QoS; a dropped connection loses QoS 0 and redelivers unacknowledged QoS 1.",
		Steps: []Step{
			{ID: "subscribers", Title: "A QoS 1 and a QoS 0 subscriber", Listener: Lab, Doc: doc,
				Do: "mosquitto_sub -q 1 -t 'home/+/temperature'; mosquitto_sub -q 0 -t 'home/+/temperature'",
				Actions: []Action{
					Connect{Client: "logger"}, Subscribe{Client: "logger", Filters: []string{"@{home}/+/temperature"}, QoS: 1},
					Connect{Client: "display"}, Subscribe{Client: "display", Filters: []string{"@{home}/+/temperature"}, QoS: 0},
					Connect{Client: "sensor"},
				},
				Expect: []Expectation{
					Granted{Client: "logger", Filter: "@{home}/+/temperature", QoS: 1},
					Granted{Client: "display", Filter: "@{home}/+/temperature", QoS: 0},
				},
			},
			{ID: "publish-qos1", Title: "Publish at QoS 1", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -q 1 -t home/livingroom/temperature -m 21.5",
				Actions: []Action{Publish{Client: "sensor", Topic: t, Payload: "21.5", QoS: 1}},
				Expect: []Expectation{
					PublishAllowed{Client: "sensor", Topic: t, Why: "a QoS 1 publish is acknowledged"},
					Receives{Client: "logger", Topic: t, Payload: "21.5", QoS: q1, Why: "min(1, 1) = QoS 1"},
					Receives{Client: "display", Topic: t, Payload: "21.5", QoS: q0, Why: "min(1, 0) = QoS 0"},
				},
			},
			{ID: "publish-qos0", Title: "Publish at QoS 0", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -q 0 -t home/livingroom/temperature -m 21.6",
				Actions: []Action{Publish{Client: "sensor", Topic: t, Payload: "21.6", QoS: 0}},
				Expect:  []Expectation{Receives{Client: "logger", Topic: t, Payload: "21.6", QoS: q0, Why: "min(0, 1) = QoS 0"}},
			},
			{ID: "drop", Title: "A simulated drop", Listener: Lab, Doc: doc,
				Do: "a device with a persistent session receives a QoS 1 message, loses its network before acknowledging it, and reconnects",
				Actions: []Action{
					Connect{Client: "stalled", Persistent: true, NoAck: true},
					Subscribe{Client: "stalled", Filters: []string{k}, QoS: 1},
					Publish{Client: "sensor", Topic: k, Payload: "19.5", QoS: 1},
				},
				Expect: []Expectation{Receives{Client: "stalled", Topic: k, Payload: "19.5", QoS: q1, Why: "delivered, but not acknowledged"}},
			},
			{ID: "redelivery", Title: "QoS 1 is delivered again", Listener: Lab, Doc: doc,
				Do: "the device's connection drops, a QoS 0 reading is published meanwhile, the device reconnects",
				Actions: []Action{
					Drop{Client: "stalled"},
					Publish{Client: "sensor", Topic: k, Payload: "19.6", QoS: 0},
					Connect{Client: "stalled", Persistent: true},
				},
				Expect: []Expectation{
					Accepted{Client: "stalled", SessionPresent: yes},
					Receives{Client: "stalled", Topic: k, Payload: "19.5", Dup: yes, Why: "the unacknowledged QoS 1 message comes again, marked DUP"},
					NotReceives{Client: "stalled", Topic: k, Payload: "19.6", Why: "the QoS 0 message published while offline is lost"},
				},
			},
		},
	}
}

func chapterSessions() Scenario {
	const doc = dg + "mqtt.html#mqtt-persistent-sessions"
	t := "@{home}/livingroom/temperature"
	steps := []Step{}
	for _, l := range []Listener{Lab, MTLS} {
		dev := func(name string) string {
			if l == MTLS {
				return name
			}
			return ""
		}
		suffix, where := "", "on the lab listener"
		if l == MTLS {
			suffix, where = "-8883", "on AWS IoT Core (8883)"
			steps = append(steps, Step{ID: "setup-8883", Title: "Devices with certificates", Listener: API, Setup: true, Doc: dg + "device-certs-create.html",
				Do: "create the home device policy; provision hall-display and livingroom-sensor",
				Actions: []Action{
					CreatePolicy{Name: "@{home-device}", Document: HomeDevicePolicy},
					Provision{Device: "hall-display", Policy: "@{home-device}"},
					Provision{Device: "livingroom-sensor", Policy: "@{home-device}"},
				},
			})
		}
		steps = append(steps,
			Step{ID: "subscribe" + suffix, Title: "An offline subscriber, " + where, Listener: l, Doc: doc,
				Do: "the hall display connects with cleanSession=False, subscribes at QoS 1, and disconnects",
				Actions: []Action{
					Connect{Client: "hall-display", Device: dev("hall-display"), Persistent: true},
					Subscribe{Client: "hall-display", Filters: []string{"@{home}/+/temperature"}, QoS: 1},
					Disconnect{Client: "hall-display"},
				},
				Expect: []Expectation{Granted{Client: "hall-display", Filter: "@{home}/+/temperature", QoS: 1}},
			},
			Step{ID: "publish-offline" + suffix, Title: "Readings while it is away, " + where, Listener: l, Doc: doc,
				Do: "the living-room sensor publishes 21.0 at QoS 1 and 21.1 at QoS 0",
				Actions: []Action{
					Connect{Client: "sensor", Device: dev("livingroom-sensor")},
					Publish{Client: "sensor", Topic: t, Payload: "21.0", QoS: 1},
					Publish{Client: "sensor", Topic: t, Payload: "21.1", QoS: 0},
				},
				Expect: []Expectation{PublishAllowed{Client: "sensor", Topic: t}},
			},
			Step{ID: "resume" + suffix, Title: "The session resumes, " + where, Listener: l, Doc: doc,
				Do:      "the hall display reconnects with cleanSession=False",
				Actions: []Action{Connect{Client: "hall-display", Device: dev("hall-display"), Persistent: true}},
				Expect: []Expectation{
					Accepted{Client: "hall-display", SessionPresent: yes, Why: "CONNACK says the session is present (checklist 45)"},
					Receives{Client: "hall-display", Topic: t, Payload: "21.0", QoS: q1, Why: "the QoS 1 message was queued (checklist 45)"},
					NotReceives{Client: "hall-display", Topic: t, Payload: "21.1", Why: "the QoS 0 message was not queued (checklist 45)"},
				},
			},
			Step{ID: "clean" + suffix, Title: "A clean session forgets, " + where, Listener: l, Doc: doc,
				Do: "the hall display disconnects and comes back with cleanSession=True",
				Actions: []Action{
					Disconnect{Client: "hall-display"},
					Connect{Client: "hall-display", Device: dev("hall-display")},
					Publish{Client: "sensor", Topic: t, Payload: "21.2", QoS: 1},
				},
				Expect: []Expectation{
					Accepted{Client: "hall-display", SessionPresent: no},
					NotReceives{Client: "hall-display", Topic: t, Payload: "21.2", Why: "no subscription survives a clean session"},
				},
			},
		)
	}
	return Scenario{
		Chapter: 4, ID: "sessions", Title: "Persistent sessions", Listeners: []Listener{Lab, MTLS}, Doc: doc,
		Summary: "An offline subscriber with a persistent session gets the QoS 1 messages published while it was away, not the QoS 0 ones: on the lab listener, then the same on AWS IoT Core.",
		Steps:   steps,
	}
}

func chapterRetained() Scenario {
	const doc = dg + "mqtt.html#mqtt-retain"
	t := "@{home}/livingroom/temperature"
	wild := "@{home}/+/temperature"
	return Scenario{
		Chapter: 5, ID: "retained", Title: "Retained messages", Listeners: []Listener{Lab, MTLS, API}, Doc: doc,
		Summary: "The last known value for late subscribers; clearing it; and what AWS IoT Core does differently: only a subscription to the exact topic gets it.",
		Steps: []Step{
			{ID: "retain", Title: "The last known temperature", Listener: Lab, Doc: doc,
				Do: "mosquitto_pub -r -q 1 -t home/livingroom/temperature -m 21.5; then two late subscribers",
				Actions: []Action{
					Connect{Client: "sensor"},
					Publish{Client: "sensor", Topic: t, Payload: "21.5", QoS: 1, Retain: true},
					Connect{Client: "late"}, Subscribe{Client: "late", Filters: []string{t}, QoS: 1},
					Connect{Client: "late-wildcard"}, Subscribe{Client: "late-wildcard", Filters: []string{wild}, QoS: 1},
				},
				Expect: []Expectation{
					Receives{Client: "late", Topic: t, Payload: "21.5", Retain: yes, Why: "a new subscriber gets the retained message"},
					Receives{Client: "late-wildcard", Topic: t, Payload: "21.5", Retain: yes, Why: "on MQTT brokers such as Mosquitto, a matching wildcard gets it too"},
				},
			},
			{ID: "live", Title: "Live subscribers see RETAIN 0", Listener: Lab, Doc: doc,
				Do:      "mosquitto_pub -r -q 1 -t home/livingroom/temperature -m 22.0 while 'late' is subscribed",
				Actions: []Action{Publish{Client: "sensor", Topic: t, Payload: "22.0", QoS: 1, Retain: true}},
				Expect:  []Expectation{Receives{Client: "late", Topic: t, Payload: "22.0", Retain: no}},
			},
			{ID: "clear", Title: "Clearing it", Listener: Lab, Doc: doc,
				Do: "mosquitto_pub -r -n -t home/livingroom/temperature (an empty retained message)",
				Actions: []Action{
					Publish{Client: "sensor", Topic: t, Payload: "", QoS: 1, Retain: true},
					Connect{Client: "later"}, Subscribe{Client: "later", Filters: []string{t}, QoS: 1},
				},
				Expect: []Expectation{NotReceives{Client: "later", Topic: t, Why: "nothing is retained any more"}},
			},
			{ID: "setup-8883", Title: "Devices with certificates", Listener: API, Setup: true, Doc: dg + "device-certs-create.html",
				Do: "create the home device policy (it allows iot:RetainPublish); provision the sensor and two displays",
				Actions: []Action{
					CreatePolicy{Name: "@{home-device}", Document: HomeDevicePolicy},
					Provision{Device: "livingroom-sensor", Policy: "@{home-device}"},
					Provision{Device: "hall-display", Policy: "@{home-device}"},
					Provision{Device: "kitchen-display", Policy: "@{home-device}"},
					Provision{Device: "bedroom-display", Policy: "@{home-device}"},
				},
			},
			{ID: "retain-8883", Title: "On AWS IoT Core: only the exact topic", Listener: MTLS, Doc: doc,
				Do: "publish retained 21.5 on 8883; one display subscribes to the topic, another to home/+/temperature",
				Actions: []Action{
					Connect{Client: "sensor", Device: "livingroom-sensor"},
					Publish{Client: "sensor", Topic: t, Payload: "21.5", QoS: 1, Retain: true},
					Connect{Client: "late", Device: "hall-display"}, Subscribe{Client: "late", Filters: []string{t}, QoS: 1},
					Connect{Client: "late-wildcard", Device: "kitchen-display"}, Subscribe{Client: "late-wildcard", Filters: []string{wild}, QoS: 1},
				},
				Expect: []Expectation{
					PublishAllowed{Client: "sensor", Topic: t},
					Receives{Client: "late", Topic: t, Payload: "21.5", Retain: yes, Why: "a subscriber to the exact topic gets the retained message (checklist 50)"},
					NotReceives{Client: "late-wildcard", Topic: t, Payload: "21.5", Why: "AWS IoT Core: a wildcard subscription does not get retained messages (checklist 50)"},
				},
			},
			{ID: "get-retained", Title: "Read it over HTTP", Listener: API, Doc: "https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetRetainedMessage.html",
				Do:      "iot_data.get_retained_message(topic='home/livingroom/temperature')",
				Actions: []Action{GetRetained{Topic: t, Save: "retained"}},
				Expect:  []Expectation{Result{Save: "retained", Path: "payload", Want: "21.5", Why: "GetRetainedMessage returns the last value (checklist 53)"}},
			},
			{ID: "live-8883", Title: "Live subscribers see RETAIN 0", Listener: MTLS, Doc: doc,
				Do:      "publish retained 22.0 while the display is subscribed",
				Actions: []Action{Publish{Client: "sensor", Topic: t, Payload: "22.0", QoS: 1, Retain: true}},
				Expect:  []Expectation{Receives{Client: "late", Topic: t, Payload: "22.0", Retain: no, Why: "checklist 51"}},
			},
			{ID: "clear-8883", Title: "Clearing it on AWS IoT Core", Listener: MTLS, Doc: doc,
				Do: "publish an empty retained message; then ask GetRetainedMessage",
				Actions: []Action{
					Publish{Client: "sensor", Topic: t, Payload: "", QoS: 1, Retain: true},
					GetRetained{Topic: t, Save: "cleared"},
					Connect{Client: "later", Device: "bedroom-display"}, Subscribe{Client: "later", Filters: []string{t}, QoS: 1},
				},
				Expect: []Expectation{
					Receives{Client: "late", Topic: t, EmptyPayload: true, Why: "current subscribers still receive the empty message (checklist 52)"},
					APIError{Save: "cleared", Code: "ResourceNotFoundException", Why: "nothing is retained any more (checklist 52)"},
					NotReceives{Client: "later", Topic: t},
				},
			},
		},
	}
}

func chapterIdentity() Scenario {
	const doc = dg + "x509-client-certs.html"
	return Scenario{
		Chapter: 6, ID: "identity", Title: "Proof of identity", Listeners: []Listener{API, MTLS}, Doc: doc,
		Summary: "A certificate is a device's identity: AWS-made key, or the device's own key and a CSR; mutual TLS on 8883; unknown and inactive certificates are refused.",
		Steps: []Step{
			{ID: "endpoint", Title: "The account's endpoint", Listener: API, Doc: dg + "iot-connect-devices.html#iot-connect-device-endpoints",
				Do:      "iot.describe_endpoint(endpointType='iot:Data-ATS')",
				Actions: []Action{DescribeEndpoint{Type: "iot:Data-ATS", Save: "endpoint"}, DescribeEndpoint{Type: "iot:Data-ATS", Save: "endpoint2"}},
				Expect: []Expectation{
					Result{Save: "endpoint", Path: "EndpointAddress", Want: `^[A-Za-z0-9.-]+$`, Match: true, Why: "a bare host name: no scheme, no port (checklist 1)"},
					Result{Save: "endpoint2", Path: "EndpointAddress", Want: "@{=endpoint.EndpointAddress}", Why: "the same on every call (checklist 1)"},
				},
			},
			{ID: "aws-made-key", Title: "A certificate with an AWS-made key", Listener: API, Doc: dg + "device-certs-create.html",
				Do: "iot.create_keys_and_certificate(setAsActive=True): keep the private key, it is never shown again",
				Actions: []Action{
					CreatePolicy{Name: "@{home-device}", Document: HomeDevicePolicy},
					Provision{Device: "livingroom-sensor", Policy: "@{home-device}", Save: "sensor-cert"},
				},
				Expect: []Expectation{
					Result{Save: "sensor-cert", Path: "keyType", Want: "RSA 2048", Why: "AWS makes a 2048-bit RSA key pair (checklist 68)"},
					Result{Save: "sensor-cert", Path: "idIsDerSha256", Want: "true", Why: "the certificate id is the SHA-256 of the certificate (checklist 68)"},
				},
			},
			{ID: "own-key", Title: "Your own key and a CSR", Listener: API, Doc: dg + "create-device-cert.html",
				Do:      "openssl ecparam -genkey -name prime256v1; openssl req -new …; iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)",
				Actions: []Action{Provision{Device: "hall-door", OwnKey: true, Policy: "@{home-device}", Save: "door-cert"}},
				Expect: []Expectation{
					Result{Save: "door-cert", Path: "keyType", Want: "ECDSA P-256", Why: "the certificate carries the device's own key (checklist 69)"},
					Result{Save: "door-cert", Path: "idIsDerSha256", Want: "true"},
				},
			},
			{ID: "mtls", Title: "Mutual TLS on 8883", Listener: MTLS, Doc: dg + "protocols.html",
				Do: "connect each device with its certificate, its key and Amazon Root CA 1; client id = thing name",
				Actions: []Action{
					Connect{Client: "sensor", Device: "livingroom-sensor"},
					Connect{Client: "door", Device: "hall-door", Version: 5},
				},
				Expect: []Expectation{Accepted{Client: "sensor", Why: "checklist 5"}, Accepted{Client: "door"}},
			},
			{ID: "unknown-certificate", Title: "An unknown certificate", Listener: MTLS, Doc: doc,
				Do: "a self-signed certificate AWS never registered",
				Actions: []Action{
					ForeignCertificate{Device: "mallory"},
					Connect{Client: "mallory", Device: "mallory"},
				},
				Expect: []Expectation{RefusedConnect{Client: "mallory", Why: "an unregistered certificate gets no session (checklist 4)"}},
			},
			{ID: "inactive-certificate", Title: "A deactivated certificate", Listener: MTLS, Doc: dg + "x509-client-certs.html",
				Do: "iot.update_certificate(certificateId=…, newStatus='INACTIVE'); the sensor reconnects",
				Actions: []Action{
					Disconnect{Client: "sensor"},
					UpdateCertificate{Device: "livingroom-sensor", Status: "INACTIVE"},
					Connect{Client: "sensor", Device: "livingroom-sensor"},
				},
				Expect: []Expectation{RefusedConnect{Client: "sensor", Why: "an INACTIVE certificate gets no session (checklist 4)"}},
			},
		},
	}
}

func chapterPolicy() Scenario {
	const doc = dg + "iot-policies.html"
	policy := `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ConnectAsItself", "Effect": "Allow", "Action": "iot:Connect",
     "Resource": "` + arn + `client/@{livingroom-sensor}"},
    {"Sid": "PublishHome", "Effect": "Allow", "Action": "iot:Publish",
     "Resource": "` + arn + `topic/@{home}/*"},
    {"Sid": "NoDoorCommands", "Effect": "Deny", "Action": "iot:Publish",
     "Resource": "` + arn + `topic/@{home}/hall/*"},
    {"Sid": "SubscribeHome", "Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "` + arn + `topicfilter/@{home}/*"},
    {"Sid": "ReceiveHome", "Effect": "Allow", "Action": "iot:Receive",
     "Resource": "` + arn + `topic/@{home}/*"}
  ]
}`
	t := "@{home}/livingroom/temperature"
	door := "@{home}/hall/door/cmd"
	return Scenario{
		Chapter: 7, ID: "policy", Title: "The IoT policy", Listeners: []Listener{MTLS, API}, Doc: doc,
		Summary: "What a policy allows and refuses, which statement decides (an explicit Deny beats an Allow), what MQTT 3.1.1 and 5 clients see, and the logs.",
		Steps: []Step{
			{ID: "setup", Title: "The sensor's policy", Listener: API, Setup: true, Doc: doc,
				Do: "create the policy below, attach it to the sensor's certificate, turn logging on",
				Actions: []Action{
					CreatePolicy{Name: "@{sensor-policy}", Document: policy},
					Provision{Device: "livingroom-sensor", Policy: "@{sensor-policy}"},
					EnableLogging{},
				},
			},
			{ID: "allowed", Title: "An allowed publish", Listener: MTLS, Doc: dg + "pub-sub-policy.html",
				Do: "connect as livingroom-sensor (MQTT 5) and publish the temperature",
				Actions: []Action{
					Connect{Client: "sensor", Device: "livingroom-sensor", Version: 5},
					Publish{Client: "sensor", Topic: t, Payload: "21.5", QoS: 1},
				},
				Expect: []Expectation{
					Accepted{Client: "sensor"},
					PublishAllowed{Client: "sensor", Topic: t},
					DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "ALLOWED", Sid: "PublishHome"},
				},
			},
			{ID: "explicit-deny", Title: "An explicit Deny wins", Listener: MTLS, Doc: doc,
				Do: "the sensor tries to command the hall door",
				Actions: []Action{
					Publish{Client: "sensor", Topic: door, Payload: "open", QoS: 1},
					TestAuthorization{Device: "livingroom-sensor", ClientID: "@{livingroom-sensor}", Action: "iot:Publish", Resource: "topic/" + door, Save: "auth"},
				},
				Expect: []Expectation{
					PublishRefused{Client: "sensor", Topic: door, Why: "MQTT 5: PUBACK 0x87, the connection stays open (checklist 24)"},
					DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "EXPLICIT_DENY", Sid: "NoDoorCommands"},
					Result{Save: "auth", Path: "AuthDecision", Want: "EXPLICIT_DENY", Why: "TestAuthorization names the deny"},
					Result{Save: "auth", Path: "Denied.ExplicitDeny.Policies.0.PolicyName", Want: "@{sensor-policy}"},
				},
			},
			{ID: "implicit-deny", Title: "Nothing allows it: default deny", Listener: MTLS, Doc: doc,
				Do:      "the sensor subscribes to office/#",
				Actions: []Action{Subscribe{Client: "sensor", Filters: []string{"@{office}/#"}, QoS: 1}},
				Expect: []Expectation{
					SubscribeRefused{Client: "sensor", Filter: "@{office}/#", Why: "MQTT 5: SUBACK 0x87 (checklist 26)"},
					DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Subscribe", Effect: "IMPLICIT_DENY"},
				},
			},
			{ID: "connect-as-another", Title: "Connecting as another thing", Listener: MTLS, Doc: dg + "connect-policy.html",
				Do:      "the sensor's certificate with the kitchen sensor's client id",
				Actions: []Action{Connect{Client: "impostor", Device: "livingroom-sensor", ID: "@{kitchen-sensor}"}},
				Expect: []Expectation{
					RefusedConnect{Client: "impostor", Why: "MQTT 3.1.1: the connection closes without CONNACK (checklist 6)"},
					DecidedBy{Client: "@{kitchen-sensor}", Action: "iot:Connect", Effect: "IMPLICIT_DENY"},
				},
			},
			{ID: "mqtt311-refusal", Title: "What an MQTT 3.1.1 client sees", Listener: MTLS, Doc: dg + "mqtt.html#mqtt-differences",
				Do: "the sensor, now on MQTT 3.1.1, tries the door again",
				Actions: []Action{
					Disconnect{Client: "sensor"},
					Connect{Client: "sensor", Device: "livingroom-sensor"},
					Publish{Client: "sensor", Topic: door, Payload: "open", QoS: 1},
				},
				Expect: []Expectation{PublishRefused{Client: "sensor", Topic: door, Why: "MQTT 3.1.1: the broker closes the connection (checklist 23)"}},
			},
			{ID: "logs", Title: "The logs say it too", Listener: API, Needs: []Capability{CapLocalLogs}, Doc: dg + "cwl-format.html",
				Do:     "read AWSIotLogsV2 (CloudWatch on AWS; <state-dir>/logs/AWSIotLogsV2.log here)",
				Expect: []Expectation{LogEntry{Client: "@{livingroom-sensor}", EventType: "Publish-In", Status: "Failure", Reason: "AUTHORIZATION_FAILURE", Why: "checklist 23"}},
			},
		},
	}
}

func chapterGenericPolicy() Scenario {
	const doc = dg + "iot-policy-variables.html"
	own := func(room, thing string) string { return "@{home}/" + room + "/@{" + thing + "}/temperature" }
	return Scenario{
		Chapter: 8, ID: "generic-policy", Title: "One generic, very restrictive policy", Listeners: []Listener{MTLS, API}, Doc: doc,
		Summary: "An improved topic structure (home/<room>/<thing>/…) and thing attributes make one policy with policy variables enough for every device.",
		Steps: []Step{
			{ID: "setup", Title: "Things with a room attribute, one policy", Listener: API, Doc: doc,
				Do: "create the generic policy; provision the living-room sensor and display and the kitchen sensor, each thing with its room",
				Actions: []Action{
					CreateThingType{Name: "@{room-device}", Searchable: []string{"room"}},
					CreatePolicy{Name: "@{home-generic}", Document: GenericPolicy},
					Provision{Device: "livingroom-sensor", Type: "@{room-device}", Attrs: map[string]string{"room": "livingroom"}, Policy: "@{home-generic}"},
					Provision{Device: "livingroom-display", Type: "@{room-device}", Attrs: map[string]string{"room": "livingroom"}, Policy: "@{home-generic}"},
					Provision{Device: "kitchen-sensor", Type: "@{room-device}", Attrs: map[string]string{"room": "kitchen"}, OwnKey: true, Policy: "@{home-generic}"},
				},
			},
			{ID: "own-topic", Title: "Each device on its own topic", Listener: MTLS, Doc: doc,
				Do: "every device connects as its thing; the display subscribes to its room",
				Actions: []Action{
					Connect{Client: "display", Device: "livingroom-display", Version: 5},
					Subscribe{Client: "display", Filters: []string{"@{home}/livingroom/#"}, QoS: 1},
					Connect{Client: "sensor", Device: "livingroom-sensor", Version: 5},
					Connect{Client: "kitchen", Device: "kitchen-sensor", Version: 5},
					Publish{Client: "sensor", Topic: own("livingroom", "livingroom-sensor"), Payload: `{"temperature": 21.5}`, QoS: 1},
					Publish{Client: "kitchen", Topic: own("kitchen", "kitchen-sensor"), Payload: `{"temperature": 19.0}`, QoS: 1},
				},
				Expect: []Expectation{
					Granted{Client: "display", Filter: "@{home}/livingroom/#", QoS: 1, Why: "${iot:Connection.Thing.Attributes[room]} is livingroom"},
					PublishAllowed{Client: "sensor", Topic: own("livingroom", "livingroom-sensor")},
					PublishAllowed{Client: "kitchen", Topic: own("kitchen", "kitchen-sensor"), Why: "the same policy serves the kitchen"},
					Receives{Client: "display", Topic: own("livingroom", "livingroom-sensor"), Payload: `{"temperature": 21.5}`},
					NotReceives{Client: "display", Topic: own("kitchen", "kitchen-sensor"), Why: "the display subscribes to its room only"},
					DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "ALLOWED", Sid: "PublishOwnTopics"},
				},
			},
			{ID: "not-anothers-topic", Title: "Not another device's topic", Listener: MTLS, Doc: doc,
				Do: "the living-room sensor publishes as if it were the kitchen sensor, then as the display",
				Actions: []Action{
					Publish{Client: "sensor", Topic: own("kitchen", "kitchen-sensor"), Payload: `{"temperature": 35}`, QoS: 1},
					Publish{Client: "sensor", Topic: own("livingroom", "livingroom-display"), Payload: `{"temperature": 35}`, QoS: 1},
				},
				Expect: []Expectation{
					PublishRefused{Client: "sensor", Topic: own("kitchen", "kitchen-sensor")},
					PublishRefused{Client: "sensor", Topic: own("livingroom", "livingroom-display")},
					DecidedBy{Client: "@{livingroom-sensor}", Action: "iot:Publish", Effect: "IMPLICIT_DENY"},
				},
			},
			{ID: "not-anothers-room", Title: "Not another room", Listener: MTLS, Doc: doc,
				Do:      "the kitchen sensor subscribes to the living room",
				Actions: []Action{Subscribe{Client: "kitchen", Filters: []string{"@{home}/livingroom/#"}, QoS: 1}},
				Expect:  []Expectation{SubscribeRefused{Client: "kitchen", Filter: "@{home}/livingroom/#"}},
			},
			{ID: "not-anothers-name", Title: "Not another device's name", Listener: MTLS, Doc: dg + "connect-policy.html",
				Do:      "the kitchen sensor's certificate with the living-room sensor's client id",
				Actions: []Action{Connect{Client: "impostor", Device: "kitchen-sensor", ID: "@{livingroom-sensor}"}},
				Expect:  []Expectation{RefusedConnect{Client: "impostor", Why: "iot:Connection.Thing.IsAttached is false for that thing (checklist 9)"}},
			},
		},
	}
}

func chapterBackend() Scenario {
	const doc = dg + "iot-rules.html"
	lock := "@{hall-lock}"
	sensorTopic := "@{home}/livingroom/@{livingroom-sensor}/temperature"
	badge := "@{home}/hall/@{hall-door}/badge"
	return Scenario{
		Chapter: 9, ID: "backend", Title: "The backend: rules, shadow and the hall-door lock", Listeners: []Listener{MTLS, API}, Doc: doc,
		Summary: "A rule turns known badges at the hall door into an unlock command on the lock's shadow; another raises heat alerts; the backend commands the lock through the shadow API and the lock obeys.",
		Steps: []Step{
			{ID: "setup", Title: "The hall door, its lock, a sensor, a dashboard", Listener: API, Setup: true, Doc: dg + "iot-policy-variables.html",
				Do: "the generic policy of chapter 8; provision the door, the lock, the living-room sensor and the hall dashboard",
				Actions: []Action{
					CreatePolicy{Name: "@{home-generic}", Document: GenericPolicy},
					Provision{Device: "hall-door", Attrs: map[string]string{"room": "hall"}, Policy: "@{home-generic}"},
					Provision{Device: "hall-lock", Attrs: map[string]string{"room": "hall"}, Policy: "@{home-generic}"},
					Provision{Device: "livingroom-sensor", Attrs: map[string]string{"room": "livingroom"}, Policy: "@{home-generic}"},
					Provision{Device: "hall-dashboard", Attrs: map[string]string{"room": "hall"}, Policy: "@{home-generic}"},
				},
			},
			{ID: "lock-reports", Title: "The lock reports its state", Listener: MTLS, Doc: dg + "device-shadow-mqtt.html",
				Do:      "the lock connects, reports {\"lock\": \"locked\"} to its shadow and listens for update/delta",
				Actions: []Action{StartLock{Device: "hall-lock"}},
				Expect:  []Expectation{ShadowState{Thing: lock, Path: "state.reported.lock", Want: "locked", Why: "the shadow holds the reported state"}},
			},
			{ID: "door-rule", Title: "A rule opens the door for known people", Listener: API, Needs: []Capability{CapRuleRole}, Doc: dg + "republish-rule-action.html",
				Do: "iot.create_topic_rule(ruleName='door_opener', topicRulePayload={'sql': \"SELECT … FROM 'home/hall/hall-door/badge' WHERE person = 'alice' OR person = 'bob'\", 'actions': [{'republish': {'topic': '$$aws/things/hall-lock/shadow/update', …}}]})",
				Actions: []Action{CreateRule{Name: "@{door_opener}",
					SQL:       "SELECT {'desired': {'lock': 'unlocked'}} AS state FROM '" + badge + "' WHERE person = 'alice' OR person = 'bob'",
					Republish: "$$aws/things/" + lock + "/shadow/update"}},
			},
			{ID: "stranger", Title: "A stranger's badge", Listener: MTLS, Needs: []Capability{CapRuleRole}, Doc: dg + "iot-sql-where.html",
				Do: "the door publishes {\"person\": \"mallory\"}",
				Actions: []Action{
					Connect{Client: "door", Device: "hall-door"},
					Publish{Client: "door", Topic: badge, Payload: `{"person": "mallory"}`, QoS: 1},
				},
				Expect: []Expectation{
					PublishAllowed{Client: "door", Topic: badge},
					ShadowState{Thing: lock, Path: "state.reported.lock", Want: "locked", Stays: true, Why: "WHERE is false: no action"},
				},
			},
			{ID: "known-person", Title: "Alice's badge", Listener: MTLS, Needs: []Capability{CapRuleRole}, Doc: dg + "device-shadow-data-flow.html",
				Do:      "the door publishes {\"person\": \"alice\"}",
				Actions: []Action{Publish{Client: "door", Topic: badge, Payload: `{"person": "alice"}`, QoS: 1}},
				Expect: []Expectation{
					ShadowState{Thing: lock, Path: "state.desired.lock", Want: "unlocked", Why: "the rule republished to $aws/things/…/shadow/update (checklist 95)"},
					ShadowState{Thing: lock, Path: "state.reported.lock", Want: "unlocked", Why: "the lock got the delta and obeyed"},
				},
			},
			{ID: "backend-locks", Title: "The backend locks the door", Listener: API, Doc: dg + "device-shadow-rest-api.html",
				Do: "iot_data.update_thing_shadow(thingName='hall-lock', payload=json.dumps({'state': {'desired': {'lock': 'locked'}}}))",
				Actions: []Action{
					UpdateShadow{Thing: lock, Document: `{"state": {"desired": {"lock": "locked"}}}`, Save: "update"},
				},
				Expect: []Expectation{
					Result{Save: "update", Path: "state.desired.lock", Want: "locked"},
					ShadowState{Thing: lock, Path: "state.reported.lock", Want: "locked", Why: "the lock obeyed the desired state"},
					ShadowState{Thing: lock, Path: "state.delta", Want: Absent, Why: "reported = desired: no delta (checklist 82)"},
				},
			},
			{ID: "heat-alert", Title: "A rule raises heat alerts", Listener: MTLS, Needs: []Capability{CapRuleRole}, Doc: dg + "iot-substitution-templates.html",
				Do: "SELECT temperature, topic(3) AS device FROM 'home/+/+/temperature' WHERE temperature > 30 → republish to home/alerts/${topic(3)}",
				Actions: []Action{
					CreateRule{Name: "@{heat_alert}",
						SQL:       "SELECT temperature, topic(3) AS device FROM '@{home}/+/+/temperature' WHERE temperature > 30",
						Republish: "@{home}/alerts/${topic(3)}"},
					Connect{Client: "dashboard", Device: "hall-dashboard"},
					Subscribe{Client: "dashboard", Filters: []string{"@{home}/alerts/#"}, QoS: 1},
					Connect{Client: "sensor", Device: "livingroom-sensor"},
					Publish{Client: "sensor", Topic: sensorTopic, Payload: `{"temperature": 20}`, QoS: 1},
					Publish{Client: "sensor", Topic: sensorTopic, Payload: `{"temperature": 31}`, QoS: 1},
				},
				Expect: []Expectation{
					Receives{Client: "dashboard", Topic: "@{home}/alerts/@{livingroom-sensor}", Payload: `{"temperature": 31, "device": "@{livingroom-sensor}"}`, Why: "checklist 94"},
					NotReceives{Client: "dashboard", Topic: "@{home}/alerts/@{livingroom-sensor}", Payload: `{"temperature": 20, "device": "@{livingroom-sensor}"}`},
				},
			},
		},
	}
}

func chapterSwitch() Scenario {
	const doc = dg + "iot-connect-devices.html"
	return Scenario{
		Chapter: 10, ID: "switch", Title: "The switch to AWS", Listeners: []Listener{API, MTLS}, Doc: doc,
		Summary: "The same devices, certificates and provisioning code against the real endpoint: run with --target aws.",
		Steps: []Step{
			{ID: "who-and-where", Title: "Which account, which endpoint", Listener: API, Doc: doc,
				Do:      "sts.get_caller_identity(); iot.describe_endpoint(endpointType='iot:Data-ATS')",
				Actions: []Action{WhoAmI{Save: "me"}},
				Expect: []Expectation{
					Result{Save: "me", Path: "Account", Want: `^[0-9]{12}$`, Match: true},
					Result{Save: "me", Path: "Endpoint", Want: `^[A-Za-z0-9.-]+$`, Match: true},
				},
			},
			{ID: "fleet", Title: "The smart home's devices", Listener: MTLS, Doc: dg + "iot-moisture-create-thing.html",
				Do: "iotlab devices --target aws: each device its own thing, certificate and client id; readings flow",
				Actions: []Action{
					StartFleet{Rooms: []string{"livingroom"}},
					Provision{Device: "livingroom-display", Attrs: map[string]string{"room": "livingroom"}, Policy: "@{home-fleet}"},
					Connect{Client: "display", Device: "livingroom-display"},
					Subscribe{Client: "display", Filters: []string{"@{home}/livingroom/#"}, QoS: 1},
				},
				Expect: []Expectation{Receives{Client: "display", Topic: "@{home}/livingroom/@{livingroom-sensor}/temperature", Why: "the fleet's sensor publishes its readings"}},
			},
			{ID: "command", Title: "The lock obeys", Listener: API, Doc: dg + "device-shadow-rest-api.html",
				Do:      "iot_data.update_thing_shadow(thingName='hall-lock', payload='{\"state\": {\"desired\": {\"lock\": \"unlocked\"}}}')",
				Actions: []Action{UpdateShadow{Thing: "@{hall-lock}", Document: `{"state": {"desired": {"lock": "unlocked"}}}`}},
				Expect:  []Expectation{ShadowState{Thing: "@{hall-lock}", Path: "state.reported.lock", Want: "unlocked"}},
			},
		},
	}
}
