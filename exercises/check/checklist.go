package check

// Item is one behaviour of the research file's emulation checklist (§11 of
// /work/shared/research/aws-iot-core.md): its number there, a one-line summary, and whether it is
// marked (V) — not fully documented, to be confirmed against a real account.
type Item struct {
	N          int
	Section    string
	Behaviour  string
	Unverified bool
}

const (
	secConn    = "connection, TLS, identity"
	secPub     = "QoS, publish, subscribe"
	secSession = "sessions, retained messages"
	secCtl     = "control plane"
	secShadow  = "shadows"
	secRules   = "logging, rules"
)

// Checklist is §11, in order.
var Checklist = []Item{
	{1, secConn, "DescribeEndpoint iot:Data-ATS: a bare host name, the same on every call", false},
	{2, secConn, "8883 requires a client certificate: none, no MQTT session", false},
	{3, secConn, "443 with ALPN x-amzn-mqtt-ca is 8883; ALPN mqtt is custom auth; no ALPN is HTTPS/WSS", false},
	{4, secConn, "unregistered / inactive / expired certificate: 3.1.1 closed without CONNACK, 5 CONNACK 0x87", true},
	{5, secConn, "allowed CONNECT: CONNACK 0; presence/connected event with AWS's fields", false},
	{6, secConn, "iot:Connect denied: 3.1.1 no CONNACK, 5 CONNACK 0x87; connect_failed AUTHORIZATION_FAILED", false},
	{7, secConn, "certificate without a policy: as 6 (default deny)", false},
	{8, secConn, "explicit Deny on client/x beats Allow on client/*", false},
	{9, secConn, "iot:Connection.Thing.IsAttached: attached thing allowed, other thing denied", false},
	{10, secConn, "client id over 128 bytes refused (5: CONNACK 0x85)", true},
	{11, secConn, "client id starting with $ refused", true},
	{12, secConn, "MQTT 5 empty client id: CONNACK Assigned Client Identifier", false},
	{13, secConn, "duplicate client id: new one accepted, old one closed (5: DISCONNECT 0x8E), DUPLICATE_CLIENTID", false},
	{14, secConn, "client ids with + or # connect, no lifecycle events", false},
	{15, secConn, "more than 1 CONNECT/s per client id throttled", true},
	{16, secConn, "keep-alive 0 or >1200 → 1200, 1–29 → 30 (5: Server Keep Alive); 1.5× silence disconnects", true},
	{17, secConn, "second CONNECT on an open connection disconnects", false},
	{18, secConn, "MQTT 5 CONNACK: Max QoS 1, Retain 1, Wildcard 1, SubID 0, Topic Alias Max 8, Max Packet 146 KB, Receive Max 100", true},
	{19, secConn, "MQTT 5 Session Expiry above 3600 s: CONNACK returns the adjusted value", false},
	{20, secConn, "MQTT 5 AUTH packet: DISCONNECT 0x82", true},
	{21, secPub, "QoS 0/1 publish delivered; PUBACK 0x00 even with no subscribers", true},
	{22, secPub, "QoS 2 publish: 3.1.1 closed, 5 DISCONNECT 0x9B", true},
	{23, secPub, "MQTT 3.1.1 publish denied: connection closed; Publish-In Failure log; will published", false},
	{24, secPub, "MQTT 5 QoS 1 publish denied: PUBACK 0x87, connection stays open", true},
	{25, secPub, "retained publish without iot:RetainPublish: as 23/24", false},
	{26, secPub, "subscribe denied: 3.1.1 SUBACK 0x80 (others granted), 5 SUBACK 0x87", true},
	{27, secPub, "topicfilter/some/+/topic allows only the literal filter some/+/topic", false},
	{28, secPub, "topic/a/* crosses levels; topic/a/??? matches a/xyz, not a/xy", false},
	{29, secPub, "Subscribe a/# allowed, Receive denied on a/secret/*: a/open delivered, a/secret/x not", false},
	{30, secPub, "removing iot:Receive from a live subscriber stops deliveries", false},
	{31, secPub, "sensor/# gets sensor/, sensor/t, sensor/t/r1 but not sensor", false},
	{32, secPub, "publish to a topic with + or # refused", true},
	{33, secPub, "topic over 256 bytes or 7 slashes refused", true},
	{34, secPub, "SUBSCRIBE with more than 8 filters refused", true},
	{35, secPub, "51st subscription on a connection refused", true},
	{36, secPub, "payload over 128 KB disconnects", true},
	{37, secPub, "more than 100 publishes/s per connection discarded (probe: a burst of 200 MQTT 5 QoS 1 publishes)", true},
	{38, secPub, "101st unacknowledged QoS 1 held until the client acknowledges (probe: 110 messages; the 1-hour retry window is not waited for)", false},
	{39, secPub, "publish to a reserved $aws topic not allowed: disconnect", true},
	{40, secPub, "$aws/rules/<rule>/x goes to the rule only; subscribing to $aws/rules/… refused", false},
	{41, secPub, "subscribed / unsubscribed lifecycle events list the topics", false},
	{42, secPub, "DISCONNECT: CLIENT_INITIATED_DISCONNECT, no will; TCP drop: CONNECTION_LOST, will published", false},
	{43, secPub, "connect and disconnect events share versionNumber; a reconnect gets a larger one", false},
	{44, secPub, "a will on a topic the client may not publish to: connection refused", false},
	{45, secSession, "persistent session: session present, subscriptions restored, QoS 1 queued, QoS 0 not", false},
	{46, secSession, "reconnect after the session expiry: no session (probe: MQTT 5 Session Expiry 1 s instead of 1 h, reconnect 2 s later)", false},
	{47, secSession, "MQTT 3 persistent session resumed as MQTT 5: not resumed", false},
	{48, secSession, "MQTT 5 SEI 0 then SEI > 0 on DISCONNECT: protocol error", true},
	{49, secSession, "iot:ConnectAttributes ForAllValues:StringNotEquals PersistentConnect denies cleanSession=0", false},
	{50, secSession, "retained message to a new subscriber of the exact topic only (not a wildcard, not shared)", false},
	{51, secSession, "a live subscriber receives a retained publish with RETAIN 0", false},
	{52, secSession, "empty retained payload deletes it (GetRetainedMessage 404); subscribers still get the empty message", false},
	{53, secSession, "GetRetainedMessage / ListRetainedMessages shapes", false},
	{54, secSession, "HTTP Publish retain=true stores; MQTT 5 headers forwarded", false},
	{55, secSession, "MQTT 5 message expiry counts down; expired queued and retained messages not delivered (probe: expiry 1 s and 10 s, 2 s offline)", false},
	{56, secSession, "MQTT 5 user properties and content type reach MQTT 5 subscribers", false},
	{57, secSession, "topic alias above 8: DISCONNECT 0x94", false},
	{58, secSession, "SUBSCRIBE with a Subscription Identifier: DISCONNECT 0xA1", false},
	{59, secSession, "shared subscription: each message to exactly one member", false},
	{60, secSession, "shared group with all members offline: QoS 1 queued for the persistent member, QoS 0 dropped", false},
	{61, secCtl, "CreateThing twice identical: 200; other attributes: 409 ResourceAlreadyExists", false},
	{62, secCtl, "CreateThing with 4 attributes and no type: 400", true},
	{63, secCtl, "attribute value with a space: 400; thing name with /: 400", false},
	{64, secCtl, "UpdateThing with a stale expectedVersion: 409 VersionConflict", false},
	{65, secCtl, "DeleteThing missing: 200; with an attached certificate: 400", false},
	{66, secCtl, "DeleteThingType not deprecated: 400", false},
	{67, secCtl, "thing-group limits; deleting a group with children: 400", true},
	{68, secCtl, "CreateKeysAndCertificate: RSA 2048, id = SHA-256 of DER, INACTIVE unless setAsActive", true},
	{69, secCtl, "CreateCertificateFromCsr: RSA ≥ 2048 and EC accepted, others 400; same CSR twice → two certificates", false},
	{70, secCtl, "RegisterCertificateWithoutCA of a registered certificate: 409", false},
	{71, secCtl, "UpdateCertificate to PENDING_ACTIVATION: 400; INACTIVE disconnects live connections", true},
	{72, secCtl, "DeleteCertificate while ACTIVE: 406 CertificateStateException", false},
	{73, secCtl, "CreatePolicy with invalid JSON: 400 MalformedPolicy; version 1 default", false},
	{74, secCtl, "6th policy version: 409 VersionsLimitExceeded", false},
	{75, secCtl, "SetDefaultPolicyVersion changes the authorization of connected clients", false},
	{76, secCtl, "11th AttachPolicy on a certificate: 410 LimitExceeded", true},
	{77, secCtl, "policy on a parent thing group authorizes a member of a child group", false},
	{78, secCtl, "GetTopicRule missing: 401; invalid SQL: 400 SqlParseException; rule name with -: 400", false},
	{79, secCtl, "throttling: control plane 400 ThrottlingException, data plane 429 (probe: bursts of 30 and 40 calls; iotlab needs --api-throttle)", false},
	{80, secCtl, "errors carry x-amzn-ErrorType and {message}: SDKs raise the modelled exception", false},
	{81, secShadow, "update desired: accepted, documents and delta", false},
	{82, secShadow, "then reported equal: accepted and documents, no delta", false},
	{83, secShadow, "stale version: update/rejected 409; over HTTP 409 ConflictException", false},
	{84, secShadow, "clientToken echoed; over 64 bytes 400", false},
	{85, secShadow, "invalid JSON 400; missing state 400; too deep 400; over 8 KB 413", false},
	{86, secShadow, "null removes a field; desired: null removes the section", false},
	{87, secShadow, "get of a never-created shadow: get/rejected 404", true},
	{88, secShadow, "delete: delete/accepted with version; the version continues afterwards", false},
	{89, secShadow, "named shadows behave identically and independently", false},
	{90, secShadow, "more than 10 in-flight shadow requests on a connection: 429 (probe: 30 updates back to back)", false},
	{91, secShadow, "HTTP shadow API with SigV4 and iot:*ThingShadow permissions", false},
	{92, secRules, "V2 logging levels: INFO logs everything, ERROR failures only, DISABLED nothing; a CLIENT_ID target overrides", false},
	{93, secRules, "GetV2LoggingOptions before any Set: 404 NotConfigured", false},
	{94, secRules, "rule SELECT with topic(), clientid(), timestamp(), WHERE; republish to alerts/${topic(2)}", false},
	{95, secRules, "republish to $$aws/things/T/shadow/update updates the shadow", false},
	{96, secRules, "a failing action runs the error action once with AWS's document (probe: a lambda action whose function fails or does not exist)", false},
	{97, secRules, "rules receive lifecycle events", false},
	{98, secRules, "binary payload: SELECT * passes it through; field SELECT does not fire", true},
}
