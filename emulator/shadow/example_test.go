package shadow_test

import (
	"fmt"
	"time"

	"github.com/iotlab/iotlab/emulator/shadow"
)

func Example() {
	now := time.Unix(1700000000, 0)
	lamp := shadow.ID{Thing: "lamp"}

	// An app asks for red; the shadow doesn't exist yet, so this creates it at version 1.
	s, resp, rej := shadow.Update(nil, []byte(`{"state":{"desired":{"color":"red"}},"clientToken":"app-1"}`), now)
	if rej != nil {
		fmt.Println(string(rej.JSON()))
		return
	}
	fmt.Println("accepted: ", string(resp.Accepted))
	fmt.Println("delta:    ", string(resp.Delta))

	// The device reports red: desired and reported agree, so there is no delta.
	s, resp, _ = shadow.Update(s, []byte(`{"state":{"reported":{"color":"red"}}}`), now.Add(time.Second))
	fmt.Println("delta nil:", resp.Delta == nil)

	doc, _ := shadow.Get(lamp, s, nil, now.Add(2*time.Second))
	fmt.Println("get:      ", string(doc))

	// A stale version is refused.
	_, _, rej = shadow.Update(s, []byte(`{"state":{"desired":{"color":"blue"}},"version":1,"clientToken":"app-2"}`), now)
	fmt.Println("rejected: ", string(rej.JSON()))
	// Output:
	// accepted:  {"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000,"clientToken":"app-1"}
	// delta:     {"version":1,"timestamp":1700000000,"state":{"color":"red"},"metadata":{"color":{"timestamp":1700000000}},"clientToken":"app-1"}
	// delta nil: true
	// get:       {"state":{"desired":{"color":"red"},"reported":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1700000000}},"reported":{"color":{"timestamp":1700000001}}},"version":2,"timestamp":1700000002}
	// rejected:  {"code":409,"message":"Version conflict","clientToken":"app-2"}
}

func ExampleUpdate_nested() {
	now := time.Unix(1700000000, 0)
	s, _, _ := shadow.Update(nil, []byte(`{"state":{"reported":{"lights":{"color":{"r":255,"g":0,"b":255}}}}}`), now)
	_, resp, _ := shadow.Update(s, []byte(`{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255}}}}}`), now)
	// Only the differing leaf is in the delta, with the path to it.
	fmt.Println(string(resp.Delta))
	// Output:
	// {"version":2,"timestamp":1700000000,"state":{"lights":{"color":{"g":255}}},"metadata":{"lights":{"color":{"g":{"timestamp":1700000000}}}}}
}

func ExampleGet_notFound() {
	_, rej := shadow.Get(shadow.ID{Thing: "lamp", Shadow: "config"}, nil, []byte(`{"clientToken":"t1"}`), time.Unix(1700000000, 0))
	fmt.Println(rej.Code, rej.Exception())
	fmt.Println(string(rej.JSON()))
	// Output:
	// 404 ResourceNotFoundException
	// {"code":404,"message":"No shadow exists with name: 'lamp~config'","clientToken":"t1"}
}

func ExampleDelete() {
	now := time.Unix(1700000000, 0)
	id := shadow.ID{Thing: "lamp"}
	s, _, _ := shadow.Update(nil, []byte(`{"state":{"reported":{"on":true}}}`), now)
	s, _, _ = shadow.Update(s, []byte(`{"state":{"reported":{"on":false}}}`), now)
	tomb, accepted, _ := shadow.Delete(id, s, nil, now)
	fmt.Println(string(accepted))
	_, rej := shadow.Get(id, tomb, nil, now)
	fmt.Println(rej.Message)
	// Recreated within 48 hours, the shadow continues the old numbering.
	_, resp, _ := shadow.Update(tomb, []byte(`{"state":{"reported":{"on":true}}}`), now.Add(time.Hour))
	fmt.Println(string(resp.Documents))
	// Output:
	// {"version":2,"timestamp":1700000000}
	// No shadow exists with name: 'lamp'
	// {"previous":null,"current":{"state":{"reported":{"on":true}},"metadata":{"reported":{"on":{"timestamp":1700003600}}},"version":3},"timestamp":1700003600}
}

func ExampleParseTopic() {
	t, ok := shadow.ParseTopic("$aws/things/lamp/shadow/name/config/update")
	fmt.Println(ok, t.Thing, t.Shadow, t.Op)
	fmt.Println(t.Response(shadow.KindDelta))
	fmt.Println(shadow.ResponseTopic("lamp", "", shadow.OpGet, shadow.KindAccepted))
	// Output:
	// true lamp config update
	// $aws/things/lamp/shadow/name/config/update/delta
	// $aws/things/lamp/shadow/get/accepted
}
