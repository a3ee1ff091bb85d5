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
