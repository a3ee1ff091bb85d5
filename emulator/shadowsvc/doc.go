// Package shadowsvc is the Device Shadow service: it keeps every shadow in the store and serves the
// two transports AWS offers, the iot-data HTTP API (through emulator/awsapi, which calls Get, Update,
// Delete and ListNamed) and the reserved MQTT topics $aws/things/<thing>/shadow/… (through
// HandleMessage, which the composition root feeds with the broker's accepted client publishes).
// The document logic — merging, versions, metadata, the delta, limits and error documents — is
// emulator/shadow's; this package adds persistence, concurrency and the messages.
//
// # Persistence
//
// Each shadow is one store record, "shadow/<account>/<region>/<thing>~<shadow>" ("<thing>~" for the
// classic shadow), holding shadow.Stored's persisted form. A change is written to the store (one
// atomic, durable Apply) before it is applied in memory and acknowledged, so a failed write changes
// nothing and an acknowledged one survives a crash. A deleted shadow leaves a tombstone that keeps its
// version for shadow.VersionRetention (48 hours); expired tombstones are dropped at start and by a
// periodic sweep.
//
// Shadows need no registered thing: AWS doesn't "enforce a mapping between a thing's registry name
// and its use of … shadow state" (AWS: iot-thing-management), and deleting a thing doesn't delete its
// shadows (AWS: device-shadow-data-flow).
//
// # Messages
//
// After every accepted update, whichever transport it came from, the service publishes
// /update/accepted, /update/documents and, when desired and reported differ, /update/delta; after
// every accepted delete, /delete/accepted. MQTT requests also get /get/accepted and the /rejected
// documents; a rejected HTTP request publishes nothing (AWS: device-shadow-error-messages). Every
// message goes through Publisher, i.e. the broker, so subscribers need iot:Subscribe and iot:Receive
// on the response topics as on AWS. The messages of one shadow are published in the order of its
// versions.
//
// # Concurrency
//
// MQTT requests are queued to a fixed set of workers, a shadow always to the same worker, so the
// requests a device sends for one shadow are answered in order; HandleMessage never blocks the
// broker. More than MaxInFlight unanswered requests from one client get 429 on /rejected, as AWS
// answers "more than 10 in-flight requests on a single connection" (AWS: device-shadow-error-messages).
// HTTP requests run on the caller's goroutine; per-shadow locks keep both transports consistent.
// Close stops the workers after they have answered what was queued.
package shadowsvc
