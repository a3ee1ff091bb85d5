// Package policy is the AWS IoT Core policy engine: it parses and validates policy documents and
// decides whether a principal may perform a data-plane action (iot:Connect, iot:Publish,
// iot:Subscribe, iot:Receive, iot:RetainPublish, the shadow and retained-message actions, …) on a
// resource.
//
// The package is pure: no I/O, no clock, no package state. Callers (the broker, the HTTP data plane,
// TestAuthorization) collect the principal's effective policies and what is known about the
// connection, and call Evaluate or Decide.
//
// # Model
//
// Parse validates a document as CreatePolicy and CreatePolicyVersion do (JSON syntax, Version,
// Statement, Effect, Action/NotAction, Resource/NotResource, Condition, 2048 characters without
// whitespace) and compiles it once: action patterns are lower-cased, resource patterns are split into
// literal, wildcard and variable pieces, condition operators and keys are resolved. The result,
// *Compiled, is immutable and shared by every connection that uses the policy version.
//
// Evaluate applies IAM's evaluation logic, which AWS IoT Core adopts (AWS: iot-policies):
//
//   - default deny: with no matching Allow the answer is IMPLICIT_DENY;
//   - an explicit Deny in any of the principal's policies wins over every Allow (EXPLICIT_DENY);
//   - otherwise one matching Allow suffices (ALLOWED).
//
// A statement matches when the action matches one of its Actions (case-insensitively, with '*' and
// '?': "iot:*", "iot:Pub*") — or none of its NotActions —, the resource ARN matches one of its
// Resources — or none of its NotResources — and every condition holds. The Decision names the
// statement that decided (policy, version, 1-based statement position, Sid) and, from Evaluate, every
// policy that allowed or denied, which is what TestAuthorization reports. Decision.Explain renders it
// for the learner.
//
// # Wildcards
//
// Resources follow IAM, not MQTT (AWS: pub-sub-policy): '*' is any sequence of characters across
// topic levels, '?' exactly one character, and MQTT's '+' and '#' are literal: the resource
// "topicfilter/a/+/b" authorizes subscribing to the filter "a/+/b" and to nothing else. The escapes
// ${*}, ${?} and ${$} stand for literal '*', '?' and '$' (AWS: iot-policy-variables). See
// MatchResource.
//
// # Policy variables
//
// In "Version": "2012-10-17" documents, Resource entries and condition values may use
// (AWS: iot-policy-variables, basic-policy-variables, thing-policy-variables, cert-policy-variables):
//
//	${iot:ClientId} ${iot:DomainName} ${aws:SourceIp}
//	${iot:Connection.Thing.ThingName} ${iot:Connection.Thing.ThingTypeName}
//	${iot:Connection.Thing.Attributes[name]} ${iot:Connection.Thing.IsAttached}
//	${iot:Certificate.Subject.CommonName} (and the other subject/issuer attributes)
//	${iot:Certificate.Subject.AlternativeName.DNSName} (RFC822Name, DirectoryName, UniformResourceIdentifier, IPAddress)
//	${iot:Certificate.SerialNumber} ${iot:Certificate.AvailableKeys}
//
// A multi-valued certificate attribute gives its first value; ".1" selects the second (zero-based),
// ".List" all values (for ForAllValues:/ForAnyValue: conditions). The same names serve as condition
// keys, together with iot:ConnectAttributes ("PersistentConnect", "LastWill"). Variable and key names
// are case-insensitive. A substituted value is literal text: a client ID "a*" does not widen a
// pattern.
//
// Unresolved variables. AWS documents what happens for certificate variables: with a missing index
// "no substitution is made", and a value holding '*', '$', '+', '?' or '#', or longer than 1024
// characters, "is not replaced …, leaving the ${policy-variable} text in the policy document"
// (AWS: cert-policy-variables#policy-limits). It is silent for the others (no thing attached, no
// client ID over HTTP); this package applies the same rule to every variable. The ${…} text stays, so
// the entry matches only a resource that literally contains "${iot:Connection.Thing.ThingName}": an
// Allow statement becomes inert, which is the safe outcome. Caveat: the same holds for Deny
// statements — a Deny whose resource needs an unresolvable variable does not match, so it denies
// nothing. Guard such statements with a Null condition or write the Deny without variables.
//
// # Conditions
//
// All IAM operators: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress,
// ArnEquals/ArnLike and negations, Null, the …IfExists forms and the ForAllValues:/ForAnyValue: set
// operators. Operators and keys combine with AND, the values of one key with OR. A key absent from the
// request — including every key AWS IoT does not define — makes the operator false and a negated
// operator true, …IfExists true; Null tests presence; ForAllValues: holds on an empty set and
// ForAnyValue: does not (IAM's rules).
//
// # AWS pages
//
// Under https://docs.aws.amazon.com/iot/latest/developerguide/: iot-policies.html,
// iot-policy-actions.html, pub-sub-policy.html, iot-policy-variables.html, basic-policy-variables.html,
// thing-policy-variables.html, cert-policy-variables.html, use-policy-variables.html; API_CreatePolicy
// in the API reference; IAM's reference_policies_elements_condition_operators.html and
// reference_policies_evaluation-logic.html.
package policy
