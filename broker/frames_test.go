package broker

import "testing"

func TestFramer(t *testing.T) {
	big := append([]byte{0x30, 0x80, 0x80, 0x0a}, make([]byte, 10)...) // remaining length 163,840
	cases := []struct {
		name   string
		stream []byte
		chunk  int // bytes per feed; 0 = all at once
		max    int
		want   frameFault
	}{
		{"pingreq and a small publish", []byte{0xc0, 0, 0x30, 3, 0, 1, 'a'}, 0, 100, frameOK},
		{"one byte at a time", []byte{0xc0, 0, 0x30, 3, 0, 1, 'a', 0xc0, 0}, 1, 100, frameOK},
		{"packet just at the limit", append([]byte{0x30, 99}, make([]byte, 99)...), 0, 100, frameOK},
		{"packet one byte over the limit", append([]byte{0x30, 100}, make([]byte, 100)...), 0, 100, frameTooLarge},
		{"too large, after a first packet, length split across feeds", append([]byte{0xc0, 0}, big...), 3, 146 << 10, frameTooLarge},
		{"no limit", big, 0, 0, frameOK},
		{"empty AUTH", []byte{0xc0, 0, 0xf0, 0}, 0, 100, frameEmptyAuth},
		{"AUTH with a reason code", []byte{0xf0, 2, 0x18, 0}, 0, 100, frameOK},
		{"body bytes that look like headers are skipped", []byte{0x30, 4, 0xf0, 0, 0xf0, 0, 0xc0, 0}, 0, 100, frameOK},
		{"five length bytes: malformed, no longer followed", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xf0, 0}, 0, 0, frameOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f framer
			got := frameOK
			for b := tc.stream; len(b) > 0 && got == frameOK; {
				n := len(b)
				if tc.chunk > 0 {
					n = min(n, tc.chunk)
				}
				got = f.feed(b[:n], tc.max)
				b = b[n:]
			}
			if got != tc.want {
				t.Fatalf("feed(% x) = %d, want %d", tc.stream, got, tc.want)
			}
		})
	}
}

// FuzzFramer: any stream, cut anywhere, is followed the same way as in one piece.
func FuzzFramer(f *testing.F) {
	f.Add([]byte{0xc0, 0, 0x30, 3, 0, 1, 'a', 0xf0, 0}, uint8(3))
	f.Add(append([]byte{0x30, 0x80, 0x80, 0x0a}, make([]byte, 10)...), uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		var whole, parts framer
		want := whole.feed(stream, 1000)
		c := min(int(cut), len(stream))
		got := parts.feed(stream[:c], 1000)
		if got == frameOK {
			got = parts.feed(stream[c:], 1000)
		}
		if got != want {
			t.Fatalf("in two pieces %d, in one %d", got, want)
		}
	})
}
