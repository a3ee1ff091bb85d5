package broker

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestTruncatedSubscribeDoesNotCrashBroker is the regression test of FuzzPacketPath's first crasher
// (testdata/fuzz/FuzzPacketPath/032c5a56f5f3f2ed; upstream mochi-mqtt/server#501): an MQTT 5
// SUBSCRIBE whose body ends after a topic filter made mochi's decoder index past the end and the
// panic ended the process. Now the MQTT 5 client gets DISCONNECT 0x81 (Malformed Packet), the 3.1.1
// client is closed, and the broker goes on serving.
func TestTruncatedSubscribeDoesNotCrashBroker(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.ConnectsPerSecond = -1 })
	e.policy("all", allow("iot:*", "*"))
	d := e.device("trunc", "all")
	for _, v := range []byte{5, 4} {
		rc := e.raw(d, v)
		rc.connect("trunc", 30)
		sub := []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}
		if v == 4 {
			sub = []byte{0x82, 0x04, 0x00, 0x01, 0x00, 0x00}
		}
		if _, err := rc.conn.Write(sub); err != nil {
			t.Fatal(err)
		}
		got := rc.expectClosed()
		if v == 5 && (len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != packets.ErrMalformedPacket.Code) {
			t.Errorf("MQTT 5: got %v before the close, want DISCONNECT 0x81", types(got))
		}
		if err := sentinel(e.addr(), e.clientTLS(d), "trunc-sentinel"); err != nil {
			t.Fatalf("MQTT %d: the broker stopped serving: %v", v, err)
		}
	}
}
