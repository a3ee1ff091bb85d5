// Package shadow is the document logic of the AWS IoT Device Shadow service: validating and merging
// update requests, versions, metadata, the delta, and the exact documents the service publishes on
// the reserved shadow topics and returns from the iot-data HTTP API.
//
// The package is pure: no I/O, no clock (time is passed in), no package state. The transports — the
// broker for $aws/things/<thing>/shadow/… and the HTTP API for GetThingShadow, UpdateThingShadow and
// DeleteThingShadow — load the Stored value of a shadow, call Update, Get or Delete, store what comes
// back and publish or return the documents:
//
//	next, resp, rej := shadow.Update(cur, payload, now)
//	if rej != nil { publish(t.Response("rejected"), rej.JSON()); return }
//	save(next)
//	publish(t.Response("accepted"), resp.Accepted)
//	publish(t.Response("documents"), resp.Documents)
//	if resp.Delta != nil { publish(t.Response("delta"), resp.Delta) }
//
// Over HTTP, the same documents are the response bodies, and a rejection is the status Error.Code
// with the error code Error.Exception and Error.Message. AWS publishes no MQTT message for a request
// that came over HTTP and failed; an accepted HTTP update still publishes /update/delta and
// /update/documents (AWS: device-shadow-error-messages, device-shadow-data-flow).
//
// Functions return *Error rather than error so that callers reach Code and JSON directly; don't
// store a nil *Error in an error variable.
//
// # Documents
//
// The shapes and member orders follow what the service sends (AWS: device-shadow-document,
// device-shadow-data-flow, and messages captured from the real service quoted in SDK issues):
//
//	/update/accepted  {"state":<request state>,"metadata":…,"version":N,"timestamp":T,"clientToken"?}
//	/update/documents {"previous":{"state","metadata","version"}|null,"current":{…},"timestamp":T,"clientToken"?}
//	/update/delta     {"version":N,"timestamp":T,"state":<delta>,"metadata":<its desired metadata>,"clientToken"?}
//	/get/accepted     {"state":{"desired","reported","delta"},"metadata":{"desired","reported"},"version":N,"timestamp":T,"clientToken"?}
//	/delete/accepted  {"version":N,"timestamp":T,"clientToken"?}
//	…/rejected        {"code":C,"message":M,"timestamp"?:T,"clientToken"?}
//
// Timestamps are epoch seconds. Objects keep the order in which their members arrived.
//
// # Choices where AWS is silent
//
// Each is documented where it is implemented: the 404 wording for named shadows, when error
// documents carry a timestamp (Error), array metadata, empty objects, a version sent for a shadow
// that doesn't exist, the version after 48 hours (Update), the message for arrays holding null,
// what /get and /delete do with their payload (Get, Delete), the nesting depth count (MaxDepth), and
// number equality in the delta (numbers compare by value, so 1 and 1.0 agree).
//
// # AWS pages
//
// Under https://docs.aws.amazon.com/iot/latest/developerguide/: device-shadow-document.html,
// device-shadow-mqtt.html, device-shadow-data-flow.html, device-shadow-error-messages.html,
// device-shadow-rest-api.html, diagnosing-shadows.html; the iot-data service model (ThingName,
// ShadowName); the shadow quotas in https://docs.aws.amazon.com/general/latest/gr/iot-core.html. Where
// the pages are silent, AWS's own local reimplementation — the Greengrass shadow manager
// (github.com/aws-greengrass/aws-greengrass-shadow-manager) — is the tie-breaker, and is named so.
package shadow
