package policy_test

import (
	"errors"
	"fmt"

	"github.com/iotlab/iotlab/emulator/policy"
)

func Example() {
	doc, err := policy.Parse(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "iot:Connect",
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
	    {"Sid": "OwnTopics", "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/${iot:Connection.Thing.ThingName}/*"},
	    {"Effect": "Deny", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/*/firmware"}
	  ]
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := &policy.Context{ClientID: "lamp-1", HasClientID: true,
		Thing: &policy.Thing{Name: "lamp-1", IsAttached: true}}
	for _, topic := range []string{"home/lamp-1/state", "home/lamp-2/state", "home/lamp-1/firmware"} {
		d := policy.Evaluate(policy.Request{
			Action:   "iot:Publish",
			Resource: "arn:aws:iot:eu-west-1:123456789012:topic/" + topic,
			Policies: []policy.Policy{{Name: "lamp-policy", Version: "1", Doc: doc}},
			Context:  ctx,
		})
		fmt.Println(topic, "→", d.Effect)
	}
	// Output:
	// home/lamp-1/state → ALLOWED
	// home/lamp-2/state → IMPLICIT_DENY
	// home/lamp-1/firmware → EXPLICIT_DENY
}

func ExampleParse_malformed() {
	_, err := policy.Parse(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "client/c1"}]}`)
	var me *policy.MalformedError
	if errors.As(err, &me) {
		fmt.Println(me.Message)
		fmt.Println("statement", me.Statement)
	}
	// Output:
	// Policy document is Malformed: The resource client/c1 is not in valid ARN format
	// statement 1
}

func ExampleDecision_Explain() {
	doc, _ := policy.Parse(`{"Version": "2012-10-17", "Statement": [
	  {"Sid": "PubHall", "Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/hall/*"},
	  {"Effect": "Deny", "Action": "iot:*", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/hall/secret"}]}`)
	policies := []policy.Policy{{Name: "hall", Version: "3", Doc: doc}}
	for _, req := range []policy.Request{
		{Action: "iot:Publish", Resource: "arn:aws:iot:eu-west-1:123456789012:topic/home/hall/temp", Policies: policies},
		{Action: "iot:Publish", Resource: "arn:aws:iot:eu-west-1:123456789012:topic/home/hall/secret", Policies: policies},
		{Action: "iot:Subscribe", Resource: "arn:aws:iot:eu-west-1:123456789012:topicfilter/home/#", Policies: policies},
	} {
		fmt.Println(policy.Evaluate(req).Explain())
	}
	// Output:
	// ALLOWED by policy "hall" v3 statement 1 (Sid "PubHall")
	// EXPLICIT_DENY by policy "hall" v3 statement 2
	// IMPLICIT_DENY: no statement allows iot:Subscribe on topicfilter/home/#
}

func ExampleMatchResource() {
	fmt.Println(policy.MatchResource("topic/home/*", "topic/home/hall/temp")) // '*' crosses levels
	fmt.Println(policy.MatchResource("topic/room?", "topic/room1"))           // '?' is one character
	fmt.Println(policy.MatchResource("topicfilter/home/+", "topicfilter/home/hall"))
	fmt.Println(policy.MatchResource("topicfilter/home/+", "topicfilter/home/+")) // MQTT '+' is literal
	fmt.Println(policy.MatchResource("topic/a${*}", "topic/a*"))                  // ${*} is a literal '*'
	// Output:
	// true
	// true
	// false
	// true
	// true
}

func ExampleSubstituteVariables() {
	ctx := &policy.Context{ClientID: "sensor-7", HasClientID: true}
	fmt.Println(policy.SubstituteVariables("topic/${iot:ClientId}/*", ctx))
	fmt.Println(policy.SubstituteVariables("client/${iot:Connection.Thing.ThingName}", ctx))
	// Output:
	// topic/sensor-7/* true
	// client/${iot:Connection.Thing.ThingName} false
}
