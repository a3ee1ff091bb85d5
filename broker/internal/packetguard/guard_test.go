package packetguard

import "testing"

// guardSubscribeCases are streams (after a CONNECT of the given version) and whether the guard must
// stop the last packet.
var guardSubscribeCases = []struct {
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

func TestGuardSubscribe(t *testing.T) {
	for _, tc := range guardSubscribeCases {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(connect(tc.version), tc.packets...)
			last := len(stream) - 1 // the bad packet's last byte: mochi must never have it
			// Every split into two reads, and one byte per read.
			for cut := 0; cut <= len(stream); cut++ {
				var g Guard
				kept, bad := 0, false
				for _, chunk := range [][]byte{stream[:cut], stream[cut:]} {
					k, f := g.Feed(chunk, 0)
					kept += k
					if f == BadSubscribe {
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
			var g Guard
			kept, bad := 0, false
			for i := range stream {
				k, f := g.Feed(stream[i:i+1], 0)
				kept += k
				if f == BadSubscribe {
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

// TestGuardHeaders: the faults found in fixed headers, after a CONNECT of the given version, whatever
// the reads' sizes.
func TestGuardHeaders(t *testing.T) {
	big := append([]byte{0x30, 0x80, 0x80, 0x0a}, make([]byte, 10)...) // remaining length 163,840
	cases := []struct {
		name    string
		version byte
		packets []byte
		max     int
		want    Fault
	}{
		{"pingreq and a small publish", 5, []byte{0xc0, 0, 0x30, 3, 0, 1, 'a'}, 100, OK},
		{"packet just at the limit", 5, append([]byte{0x30, 99}, make([]byte, 99)...), 100, OK},
		{"packet one byte over the limit", 5, append([]byte{0x30, 100}, make([]byte, 100)...), 100, TooLarge},
		{"too large after a first packet", 5, append([]byte{0xc0, 0}, big...), 146 << 10, TooLarge},
		{"too large, MQTT 3.1.1: left to mochi", 4, big, 146 << 10, OK},
		{"no limit", 5, big, 0, OK},
		{"empty AUTH", 5, []byte{0xc0, 0, 0xf0, 0}, 100, EmptyAuth},
		{"AUTH with a reason code: the hook answers it", 5, []byte{0xf0, 2, 0x18, 0}, 100, OK},
		{"body bytes that look like headers are skipped", 5, []byte{0x30, 4, 0xf0, 0, 0xf0, 0, 0xc0, 0}, 100, OK},
		{"five length bytes: malformed, no longer followed", 5, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xf0, 0}, 0, OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(connect(tc.version), tc.packets...)
			for _, chunk := range []int{len(stream), 3, 1} {
				var g Guard
				got := OK
				for b := stream; len(b) > 0 && got == OK; {
					n := min(len(b), chunk)
					_, got = g.Feed(b[:n], tc.max)
					b = b[n:]
				}
				if got != tc.want {
					t.Fatalf("reads of %d bytes: fault %d, want %d", chunk, got, tc.want)
				}
			}
		})
	}
}

// FuzzGuard: any stream, cut anywhere, is followed the same way as in one piece.
func FuzzGuard(f *testing.F) {
	f.Add([]byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 30, 0, 0, 0, 0xc0, 0, 0xf0, 0}, uint8(3))
	f.Add([]byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 30, 0, 0, 0, 0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}, uint8(17))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		var whole, parts Guard
		wk, want := whole.Feed(stream, 1000)
		c := min(int(cut), len(stream))
		pk, got := parts.Feed(stream[:c], 1000)
		if got == OK {
			var k int
			k, got = parts.Feed(stream[c:], 1000)
			pk += k
		}
		if got != want || (want == BadSubscribe && pk != wk) {
			t.Fatalf("in two pieces %d (keep %d), in one %d (keep %d)", got, pk, want, wk)
		}
	})
}

// connect is a CONNECT of protocol level v with client ID "g" and Clean Start. [MQTT-3.1]
func connect(v byte) []byte {
	b := []byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', v, 0x02, 0, 30}
	if v == 5 {
		b = append(b, 0) // no properties
	}
	b = append(b, 0, 1, 'g')
	b[1] = byte(len(b) - 2)
	return b
}
