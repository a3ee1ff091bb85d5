package broker

// framer follows the packet boundaries of the bytes a connection receives, so that the broker sees
// each packet's fixed header before mochi-mqtt parses it. mochi ends a connection on two MQTT 5 faults
// without the DISCONNECT the specification and AWS give, because they fail before any hook runs: a
// packet over the Maximum Packet Size (ReadFixedHeader returns ErrPacketTooLarge), and an AUTH packet
// of remaining length 0 (its decoder wants a reason code). Seeing the header first, the broker sends
// that DISCONNECT itself; mochi then closes as it does today.
//
// The framer only counts: a body is skipped by length, a header is at most five bytes, so it costs a
// few instructions per packet. It is used by the connection's read goroutine only.
type framer struct {
	skip    int  // bytes of the current packet's body still to come
	inHdr   bool // within a fixed header: typ is known, the remaining length is being decoded
	typ     byte // the packet type of the header being decoded
	rem     int  // the remaining length decoded so far
	mul     int  // the multiplier of the next length byte
	lenSize int  // length bytes read so far
	broken  bool // the stream is malformed (a length of more than four bytes): stop following it
}

// frameFault is what the framer noticed in a fixed header.
type frameFault byte

const (
	frameOK frameFault = iota
	frameTooLarge
	frameEmptyAuth
)

// packetTypeAuth is MQTT 5's AUTH. [MQTT-2.1.2]
const packetTypeAuth = 15

// feed follows b, the next bytes of the stream, and reports the first fault of a header completed in
// it. maxPacket is the Maximum Packet Size (0: none), checked as mochi checks it: remaining length + 1.
func (f *framer) feed(b []byte, maxPacket int) frameFault {
	for len(b) > 0 && !f.broken {
		if f.skip > 0 {
			if f.skip >= len(b) {
				f.skip -= len(b)
				return frameOK
			}
			b = b[f.skip:]
			f.skip = 0
			continue
		}
		if !f.inHdr {
			f.inHdr, f.typ, f.rem, f.mul, f.lenSize = true, b[0]>>4, 0, 1, 0
			b = b[1:]
			continue
		}
		x := b[0]
		b = b[1:]
		f.rem += int(x&0x7f) * f.mul
		f.mul *= 128
		f.lenSize++
		if x&0x80 != 0 {
			if f.lenSize == 4 {
				f.broken = true // a fifth length byte: malformed, mochi ends the connection [MQTT-1.5.5]
			}
			continue
		}
		f.inHdr, f.skip = false, f.rem
		switch {
		case maxPacket > 0 && f.rem+1 > maxPacket:
			f.broken = true // mochi stops reading here
			return frameTooLarge
		case f.typ == packetTypeAuth && f.rem == 0:
			f.broken = true
			return frameEmptyAuth
		}
	}
	return frameOK
}
