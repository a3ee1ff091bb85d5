// Package rules is the AWS IoT rules engine: it runs the enabled topic rules of one account and region
// on the messages the broker accepts, and performs their actions locally.
//
// The engine knows its neighbours only through interfaces it declares: RuleSource lists the enabled
// rules (emulator/instance binds the registry), Publisher publishes as the service does (the broker's
// Server.Publish). The wiring feeds it every accepted message with Handle and calls Reload when a rule
// changes (registry Event kind "rule"). It imports only the standard library and rules/sql.
//
// # Flow
//
// Handle never blocks: it copies the message into a bounded queue and returns; when the queue is full
// the message is dropped, logged and counted (Stats.Dropped), as AWS throttles the rules engine
// (CloudWatch metric RuleMessageThrottled) rather than slowing publishers. One goroutine takes
// messages in order and evaluates every enabled rule whose FROM topic filter matches the topic (AWS:
// iot-sql-from). A Basic Ingest topic, $aws/rules/<ruleName>/<rest>, goes to that rule only, whatever
// its FROM clause, and topic() sees <rest> (AWS: iot-basic-ingest); the broker delivers such messages
// to no subscriber. When WHERE is true, every action of the rule runs on the SELECT result.
//
// A rule whose actions are all quick (republish, and the actions not run locally) runs on that
// goroutine, so republished messages keep the order of the messages that caused them. A rule with a
// lambda or http action runs on its own goroutine (at most Options.MaxInFlight at once), its actions
// concurrently, so a slow webhook never holds up other rules. AWS gives no ordering guarantee either.
//
// # Actions
//
//   - republish: the topic is a substitution template ("alerts/${topic(2)}"; "$$" writes "$", so
//     "$$aws/things/T/shadow/update" reaches the shadow service), qos 0 or 1 (default 0), headers as
//     MQTT 5 properties when the Publisher implements HeaderPublisher. AWS: republish-rule-action
//   - lambda: the function ARN (a template) names a local handler in Options.Functions, by full ARN or
//     by function name: an HTTP endpoint that receives the event JSON in a POST (a Lambda runtime
//     emulator's /2015-03-31/functions/<name>/invocations URL works) or a command that reads it on
//     stdin. The rule does not wait for it, as AWS invokes functions asynchronously (InvocationType
//     Event). AWS: lambda-rule-action
//   - http: a POST of the SELECT result to the URL (a template) with the action's headers (values are
//     templates), 3 s timeout, no redirects, 2xx is success. Only loopback URLs (localhost, 127.0.0.0/8,
//     ::1) and URLs starting with a prefix of Options.HTTPAllow are called; others fail. AWS calls
//     only confirmed HTTPS destinations on ports 443 and 8443; iotlab needs neither TLS nor a
//     confirmed destination. AWS: https-rule-action
//   - every other action type (dynamoDB, dynamoDBv2, kinesis, s3, sns, sqs, firehose, …) is accepted by
//     CreateTopicRule and stored, and the engine logs, once per rule and action type, that it is not
//     executed locally. It is not a failure: the error action does not run for it.
//
// # Errors
//
// When an action fails (a republish the broker refuses, a function that cannot be found, exits
// non-zero, answers a status that is not 2xx or times out, a webhook that answers a status that is not
// 2xx), the rule's errorAction runs once per rule and message with AWS's document (AWS:
// rule-error-handling):
//
//	{"ruleName":…,"topic":…,"cloudwatchTraceId":…,"clientId":…,"base64OriginalPayload":…,
//	 "failures":[{"failedAction":"LambdaAction","failedResource":<function ARN>,"errorMessage":…}]}
//
// SQL that fails to evaluate (a function that needs AWS, payload fields read from a binary payload) is
// logged and runs no action and no error action: AWS's error action covers rule actions only, SQL
// problems go to its logs. A failing error action is logged.
//
// # Deviations
//
// Quirks lists them: local function failures reach the error action (on AWS a function's own errors
// stay with Lambda), and republish chains are cut after Quirks.MaxRepublishHops. Every SQL version is
// evaluated with 2016-03-23's semantics (see rules/sql).
package rules
