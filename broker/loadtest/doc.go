// Package loadtest is the end-to-end half of `make bench`: it starts the brokers under test as child
// processes, drives them from this process with its own minimal MQTT 3.1.1 client over mutual TLS, and
// prints one table in which every iotlab figure stands beside baselines measured in the same run on the
// same machine:
//
//   - iotlab: `iotlab up --ephemeral --limits none …` from the binary that runs the bench (a fresh build
//     under `make bench`), with identity, policy, lifecycle events and rules on; devices are provisioned
//     through its AWS API with aws-sdk-go-v2, as a user would.
//   - raw mochi: mochi-mqtt v2.7.9 as it comes, with one allow-all hook (mochi refuses every client
//     without an auth hook) and the same TLS configuration and server certificate, run by the hidden
//     command `iotlab bench baseline-mochi` (RawMochi) so that it too is a process of its own.
//   - mosquitto: Debian's Mosquitto 2 with mTLS and an ACL file equivalent to iotlab's policy
//     (MosquittoConfig), on a loopback port, `max_inflight_messages 0` (2.0.11 stalls QoS 1 otherwise).
//
// Nothing here is iotlab's own code path: the generator speaks MQTT itself (client.go) and reaches iotlab
// only through its listeners, its AWS API and /_iotlab/health. Every address is 127.0.0.1, every phase is
// bounded in count and time, and every figure is a benchmark result, never a pass/fail test; the ratios
// against the goals are printed, not enforced.
package loadtest
