// Package packetguard follows the packet boundaries of the bytes an MQTT server receives, so that a
// server built on mochi-mqtt v2.7.9 sees each packet's fixed header (and an MQTT 5 SUBSCRIBE's body)
// before mochi parses it. Both of iotlab's mochi servers use it: the AWS broker (broker/conn.go) and
// the lab listener (broker/lab). Pure: standard library only.
package packetguard

import "errors"

// Guard follows the packet boundaries of the bytes a connection receives, so that the broker
// sees each packet's fixed header (and an MQTT 5 SUBSCRIBE's body) before mochi-mqtt parses it. It
// answers three faults mochi gets wrong, because they fail before any hook runs:
//   - an MQTT 5 packet over the Maximum Packet Size: mochi's ReadFixedHeader returns ErrPacketTooLarge
//     and the connection closes without the DISCONNECT 0x95 of [MQTT-3.2.2-15] and [MQTT-4.13.2-1];
//   - an MQTT 5 AUTH of remaining length 0: its decoder wants a reason code and the connection closes
//     silently, where AWS answers any AUTH with DISCONNECT 0x82 (checklist 20 (V));
//   - the SUBSCRIBE below, which crashes mochi.
//
// mochi v2.7.9's
// SubscribeDecode reads an MQTT 5 topic filter and then indexes its Subscription Options byte without
// checking that it is there (packets.go:959, `sub.decode(buf[offset])`); a SUBSCRIBE whose body ends
// right after a filter panics on the connection's read goroutine, where nothing recovers, and the
// whole process exits. Any device that may connect could stop the broker with 20 bytes (upstream
// mochi-mqtt/server#501; found here by FuzzPacketPath). A recover would not do: mochi's end of
// connection (OnDisconnect, session clean-up) would be skipped.
//
// The guard follows the packet boundaries of the bytes a connection receives, learns the protocol
// version from the CONNECT, and parses MQTT 5 SUBSCRIBE bodies as they stream by. When one ends where
// a Subscription Options byte belongs, Read withholds the packet's last byte and fails instead: mochi's
// read of the body then fails as on any truncated packet, and the connection ends the ordinary way.
// [MQTT-3.8.3-1] (each filter is followed by its options). Other bodies are skipped by length, so it
// costs a few instructions per packet. Used by the connection's read goroutine only.
type Guard struct {
	version byte // the CONNECT's protocol level; 0 until known
	tripped bool // a malformed SUBSCRIBE was found: nothing more is read

	// fixed header
	inHdr   bool
	typ     byte
	rem     int
	mul     int
	lenSize int
	lost    bool // a length of five bytes or more, or a fault mochi ends the connection on: stop following

	left int // bytes of the current body still to come

	// CONNECT body: the first bytes, up to the protocol level
	connect []byte

	// MQTT 5 SUBSCRIBE body, parsed as it comes
	sub      bool // the current body is a SUBSCRIBE being checked
	st       guardState
	need     int // bytes of the current field still to come (packet ID, filter length)
	acc      int // the field's value so far
	propMul  int // multiplier of the properties length's next byte
	propSize int // bytes of the properties length read
}

type guardState byte

const (
	sgPacketID  guardState = iota // 2 bytes
	sgPropsLen                    // variable byte integer
	sgProps                       // acc bytes to skip
	sgFilterLen                   // 2 bytes
	sgFilter                      // acc bytes to skip
	sgOptions                     // 1 byte; the body must not end here
	sgDone                        // malformed in a way mochi reports itself: stop checking this body
)

// ErrMalformedSubscribe ends a connection whose SUBSCRIBE would crash mochi's decoder.
var ErrMalformedSubscribe = errors.New("broker: malformed MQTT 5 SUBSCRIBE: a topic filter without its subscription options")

const (
	packetTypeConnect   = 1
	packetTypeSubscribe = 8
)

// Fault is what the guard found in the stream.
type Fault byte

const (
	OK           Fault = iota
	TooLarge           // an MQTT 5 packet over the Maximum Packet Size
	EmptyAuth          // an MQTT 5 AUTH of remaining length 0
	BadSubscribe       // the SUBSCRIBE mochi's decoder panics on
)

const packetTypeAuth = 15 // MQTT 5's AUTH [MQTT-2.1.2]

// Feed follows b, the next bytes of the stream; maxPacket is the Maximum Packet Size (0: none), checked
// as mochi checks it (remaining length + 1). It reports the first fault found: for BadSubscribe,
// keep is how many bytes of b mochi may have (the packet's last byte is not among them); after the
// other faults mochi ends the connection itself, and the guard stops following the stream.
func (g *Guard) Feed(b []byte, maxPacket int) (keep int, f Fault) {
	for i := 0; i < len(b) && !g.lost; {
		if g.left > 0 {
			n := g.body(b[i:])
			i += n
			if g.left == 0 && g.endBody() {
				g.tripped = true
				return i - 1, BadSubscribe
			}
			continue
		}
		x := b[i]
		i++
		if !g.inHdr {
			g.inHdr, g.typ, g.rem, g.mul, g.lenSize = true, x>>4, 0, 1, 0
			continue
		}
		g.rem += int(x&0x7f) * g.mul
		g.mul *= 128
		g.lenSize++
		if x&0x80 != 0 {
			if g.lenSize == 4 {
				g.lost = true
			}
			continue
		}
		g.inHdr, g.left = false, g.rem
		if g.version == 5 {
			switch {
			case maxPacket > 0 && g.rem+1 > maxPacket:
				g.lost = true // mochi stops reading here
				return len(b), TooLarge
			case g.typ == packetTypeAuth && g.rem == 0:
				g.lost = true
				return len(b), EmptyAuth
			}
		}
		g.sub = g.typ == packetTypeSubscribe && g.version == 5
		g.st, g.need, g.acc = sgPacketID, 2, 0
		if g.typ == packetTypeConnect && g.version == 0 {
			g.connect = g.connect[:0]
		}
		if g.left == 0 && g.endBody() {
			g.tripped = true
			return i - 1, BadSubscribe
		}
	}
	return len(b), OK
}

// body consumes bytes of the current body from b and returns how many.
func (g *Guard) body(b []byte) int {
	n := min(len(b), g.left)
	switch {
	case g.typ == packetTypeConnect && g.version == 0:
		g.readConnect(b[:n])
	case g.sub:
		g.readSubscribe(b[:n])
	}
	g.left -= n
	return n
}

// readConnect keeps the CONNECT's first bytes until the protocol level is known: a two-byte name
// length, the name, then the level. [MQTT-3.1.2]
func (g *Guard) readConnect(b []byte) {
	for _, x := range b {
		if len(g.connect) >= 2 {
			nameLen := int(g.connect[0])<<8 | int(g.connect[1])
			if nameLen > 6 { // not "MQTT" nor "MQIsdp": mochi refuses the CONNECT
				g.lost = true
				return
			}
			if len(g.connect) == 2+nameLen {
				g.version = x
				if g.version == 0 {
					g.lost = true // an invalid level: mochi refuses the CONNECT
				}
				return
			}
		}
		g.connect = append(g.connect, x)
	}
}

// readSubscribe parses an MQTT 5 SUBSCRIBE body as mochi's SubscribeDecode does.
func (g *Guard) readSubscribe(b []byte) {
	for i := 0; i < len(b); {
		switch g.st {
		case sgPacketID, sgFilterLen:
			g.acc = g.acc<<8 | int(b[i])
			i++
			if g.need--; g.need > 0 {
				continue
			}
			if g.st == sgPacketID {
				g.st, g.acc, g.propMul, g.propSize = sgPropsLen, 0, 1, 0
			} else {
				g.st = sgFilter
			}
		case sgPropsLen:
			x := b[i]
			i++
			g.acc += int(x&0x7f) * g.propMul
			g.propMul *= 128
			g.propSize++
			if x&0x80 != 0 {
				if g.propSize == 4 {
					g.st = sgDone // mochi rejects the length
				}
				continue
			}
			g.st = sgProps
		case sgProps, sgFilter:
			n := min(len(b)-i, g.acc)
			i += n
			g.acc -= n
		case sgOptions:
			i++
			g.st, g.need, g.acc = sgFilterLen, 2, 0
		case sgDone:
			return
		}
		g.skipDone()
	}
	g.skipDone()
}

// skipDone moves past a skip (properties, filter) that is complete at once, so that the state at the
// end of the body is exact even when the skip ends with the bytes read.
func (g *Guard) skipDone() {
	if g.acc != 0 {
		return
	}
	switch g.st {
	case sgProps:
		g.st, g.need = sgFilterLen, 2
	case sgFilter:
		g.st = sgOptions
	}
}

// endBody reports whether the body that just ended is a SUBSCRIBE mochi would crash on.
func (g *Guard) endBody() bool {
	bad := g.sub && g.st == sgOptions
	g.sub = false
	return bad
}

// Tripped reports that a BadSubscribe was found: the connection must read nothing more.
func (g *Guard) Tripped() bool { return g.tripped }

// Lost reports that the guard stopped following the stream (a malformed length, or a fault after which
// mochi ends the connection): Feed need not be called again.
func (g *Guard) Lost() bool { return g.lost }
