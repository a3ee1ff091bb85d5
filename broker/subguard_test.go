package broker

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// subscribeGuardCases are streams (after a CONNECT of the given version) and whether the guard must
// stop the last packet.
var subscribeGuardCases = []struct {
	name    string
	version byte
	packets []byte
	bad     bool
}{
	{"v5 empty filter, no options (the fuzz crasher)", 5, []byte{0x82, 0x05, 0x0c, 0x02, 0x00, 0x00, 0x00}, true},
	{"v5 filter a/b, no options", 5, []byte{0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', 'b'}, true},
	{"v5 filter with options", 5, []byte{0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', 'b', 0x01}, false},
	{"v5 properties, then a filter without options", 5, []byte{0x82, 0x0a, 0x00, 0x01, 0x02, 0x0b, 0x07, 0x00, 0x03, 'a', '/', 'b'}, true},
	{"v5 second filter without options", 5, []byte{0x82, 0x0c, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x01, 0x00, 0x03, 'b', '/', 'c'}, true},
	{"v5 after a valid one", 5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x01 /* options */, 0x82, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00}, true},
	{"v5 truncated filter length (mochi reports it)", 5, []byte{0x82, 0x04, 0x00, 0x01, 0x00, 0x00}, false},
	{"v5 filter longer than the body (mochi reports it)", 5, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x09, 'a'}, false},
	{"v5 properties longer than the body (mochi reports it)", 5, []byte{0x82, 0x04, 0x00, 0x01, 0x09, 0x0b}, false},
	{"v5 packet ID only", 5, []byte{0x82, 0x02, 0x00, 0x01}, false},
	{"v5 empty body", 5, []byte{0x82, 0x00}, false},
	{"v5 PUBLISH whose payload looks like one", 5, []byte{0x30, 0x0a, 0x00, 0x01, 't', 0x00, 0x82, 0x05, 0x00, 0x01, 0x00, 0x00}, false},
	{"v4 filter, no QoS (mochi reports it)", 4, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b'}, false},
}

func TestSubscribeGuard(t *testing.T) {
	for _, tc := range subscribeGuardCases {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(encodePacket(t, tc.version, connectPacket("g", true, 0)), tc.packets...)
			last := len(stream) - 1 // the bad packet's last byte: mochi must never have it
			// Every split into two reads, and one byte per read.
			for cut := 0; cut <= len(stream); cut++ {
				var g subscribeGuard
				kept, bad := 0, false
				for _, chunk := range [][]byte{stream[:cut], stream[cut:]} {
					k, b := g.feed(chunk)
					kept += k
					if b {
						bad = true
						break
					}
				}
				if bad != tc.bad {
					t.Fatalf("split at %d: bad %v, want %v", cut, bad, tc.bad)
				}
				if bad && kept != last {
					t.Fatalf("split at %d: mochi may have %d bytes, want %d (all but the last byte)", cut, kept, last)
				}
			}
			var g subscribeGuard
			kept, bad := 0, false
			for i := range stream {
				k, b := g.feed(stream[i : i+1])
				kept += k
				if b {
					bad = true
					break
				}
			}
			if bad != tc.bad || (bad && kept != last) {
				t.Fatalf("byte by byte: bad %v kept %d, want %v and %d", bad, kept, tc.bad, last)
			}
		})
	}
}

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
