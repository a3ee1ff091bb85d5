// Package broker is iotlab's AWS IoT Core message broker: MQTT 3.1.1 and MQTT 5 over mutual TLS, built
// on mochi-mqtt with one hook that applies AWS's rules.
//
// Identity comes from the TLS layer: the client certificate's ID (hex SHA-256 of its DER) must be
// registered and ACTIVE. Every operation is authorized with the AWS IoT policy engine
// (emulator/policy): iot:Connect on client/<clientId> at CONNECT, iot:Publish (and iot:RetainPublish)
// on topic/<topic> at PUBLISH, iot:Subscribe on topicfilter/<filter> at SUBSCRIBE and iot:Receive on
// topic/<topic> at every delivery. Refusals look as they do on AWS for each MQTT version.
//
// The broker also applies AWS's protocol differences (QoS 0 and 1 only, '#' not matching its parent
// level, client ID rules, keep-alive bounds, duplicate client IDs taking over), its quotas (Limits),
// publishes lifecycle events on $aws/events/…, and writes AWS-format logs (package awslog).
// Deliberate deviations from AWS are all in Quirks.
//
// The broker delivers every message itself (route.go, session.go, outbox.go): mochi-mqtt parses,
// answers the protocol and keeps the subscriptions, but drops QoS 1 messages under load, expires
// retained messages after a day, and sends retained messages to wildcard filters, where AWS does
// none of that. Each client ID has a session holding its queued QoS 1 messages; at most 100 are in
// flight to a connection and the rest wait, up to a per-session bound; a resumed persistent session
// gets its stored messages at 10 per second. Retained messages follow AWS's rules (retained.go).
// With a store (Options.StorePath, a bbolt file), retained messages, persistent sessions, their
// subscriptions and queued messages survive restarts and crashes, and a QoS 1 PUBLISH is acknowledged
// only once it is on disk for every persistent session it is queued for, or delivered to and
// acknowledged by all of them (group commit, commit.go).
//
// The broker knows the control plane only through Directory, which it declares; emulator/instance
// binds the registry to it and calls CertificateChanged, CACertificateChanged, PoliciesChanged,
// LoggingChanged and Disconnect when the control plane changes something live connections depend on.
// Optional interfaces widen what the Directory answers: CADirectory (registered CAs), LoggingDirectory
// (the V2 logging configuration) and ThingGroupDirectory (THING_GROUP log targets).
//
// AWS pages are cited as "AWS: page" (https://docs.aws.amazon.com/iot/latest/developerguide/page.html,
// GR: = general reference, API_ = API reference); "research §n" and "checklist n" refer to the
// project's research notes on AWS IoT Core behaviour and their emulation checklist.
package broker
