package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Client is a minimal MQTT 3.1.1 client for load: CONNECT, SUBSCRIBE, PUBLISH at QoS 0 and 1 (pipelined
// through a buffered writer the caller flushes), PUBACK, DISCONNECT. It is deliberately small so that the
// generator spends its CPU on the wire, not in a client library: on two cores the generator competes
// with the broker it measures.
type Client struct {
	conn net.Conn
	r    *bufio.Reader

	wmu sync.Mutex // guards w and nextID
	w   *bufio.Writer
	// nextID is the last packet identifier used by Publish.
	nextID uint16

	// OnPublish is called by the read loop for every PUBLISH received, before its PUBACK is queued.
	// The slices are only valid during the call.
	OnPublish func(topic, payload []byte)
	// OnPuback is called by the read loop for every PUBACK received.
	OnPuback func(id uint16)

	done chan struct{} // closed when the read loop ends
	err  error         // why the read loop ended; read after done
}

// Dialer opens client connections.
type Dialer struct {
	TLS       *tls.Config
	Timeout   time.Duration // TLS handshake plus CONNACK; default 10 s
	KeepAlive uint16        // seconds; default 600 (the runs are shorter, so no PINGREQ is ever needed)
	// ReadBuffer and WriteBuffer size the client's buffers; default 32 KiB each.
	ReadBuffer, WriteBuffer int
}

// MQTT 3.1.1 packet types (high nibble of the fixed header). [MQTT-2.2.1]
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktSubscribe  = 8
	pktSuback     = 9
	pktPingresp   = 13
	pktDisconnect = 14
)

// Dial connects over TLS and completes CONNECT/CONNACK. clean is the Clean Session flag.
func (d Dialer) Dial(ctx context.Context, addr, clientID string, clean bool) (*Client, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: dial %s: %w", addr, err)
	}
	conn := tls.Client(raw, d.TLS)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("loadtest: %s: tls handshake: %w", clientID, err)
	}
	rb, wb := d.ReadBuffer, d.WriteBuffer
	if rb <= 0 {
		rb = 32 << 10
	}
	if wb <= 0 {
		wb = 32 << 10
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, rb), w: bufio.NewWriterSize(conn, wb), done: make(chan struct{})}
	ka := d.KeepAlive
	if ka == 0 {
		ka = 600
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c.w.Write(encodeConnect(clientID, clean, ka))
	if err := c.w.Flush(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadtest: %s: connect: %w", clientID, err)
	}
	h, body, err := readPacket(c.r, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadtest: %s: no CONNACK: %w", clientID, err)
	}
	if typ := h >> 4; typ != pktConnack || len(body) != 2 || body[1] != 0 {
		conn.Close()
		return nil, fmt.Errorf("loadtest: %s: CONNECT refused (packet type %d, body %x)", clientID, typ, body)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// Subscribe sends one SUBSCRIBE and waits for its SUBACK. Call it before Start.
func (c *Client) Subscribe(filter string, qos byte, timeout time.Duration) error {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	defer c.conn.SetDeadline(time.Time{})
	c.wmu.Lock()
	c.w.Write(encodeSubscribe(1, filter, qos))
	err := c.w.Flush()
	c.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("loadtest: subscribe %s: %w", filter, err)
	}
	for {
		h, body, err := readPacket(c.r, nil)
		if err != nil {
			return fmt.Errorf("loadtest: subscribe %s: no SUBACK: %w", filter, err)
		}
		if h>>4 != pktSuback {
			continue // a retained PUBLISH may not come before SUBACK [MQTT-3.8.4-4], but be lenient
		}
		if len(body) != 3 || body[2] == 0x80 {
			return fmt.Errorf("loadtest: subscribe %s: refused (SUBACK %x)", filter, body)
		}
		return nil
	}
}

// Start runs the read loop, which calls OnPublish and OnPuback and acknowledges QoS 1 deliveries
// (PUBACKs are flushed whenever nothing more is buffered to read, or every maxPendingAcks, so they
// batch a little under load).
func (c *Client) Start() {
	go c.readLoop()
}

// maxPendingAcks is the most PUBACKs the read loop batches into one write.
const maxPendingAcks = 32

func (c *Client) readLoop() {
	defer close(c.done)
	var buf []byte
	acks := 0
	for {
		h, body, err := readPacket(c.r, buf)
		if err != nil {
			c.err = err
			return
		}
		buf = body
		switch h >> 4 {
		case pktPublish:
			topic, id, payload, err := parsePublish(h, body)
			if err != nil {
				c.err = err
				return
			}
			if c.OnPublish != nil {
				c.OnPublish(topic, payload)
			}
			if id != 0 {
				c.wmu.Lock()
				c.w.Write([]byte{pktPuback << 4, 2, byte(id >> 8), byte(id)})
				c.wmu.Unlock()
				acks++
			}
		case pktPuback:
			if len(body) >= 2 && c.OnPuback != nil {
				c.OnPuback(binary.BigEndian.Uint16(body))
			}
		}
		// Under a steady stream the read buffer is never empty: flush every maxPendingAcks too, or
		// thousands of PUBACKs would wait in the write buffer and the broker would count them as in
		// flight.
		if c.r.Buffered() == 0 || acks >= maxPendingAcks {
			acks = 0
			c.wmu.Lock()
			err := c.w.Flush()
			c.wmu.Unlock()
			if err != nil {
				c.err = err
				return
			}
		}
	}
}

// Publish queues one PUBLISH in the write buffer and returns its packet identifier (0 for QoS 0). The
// caller flushes (Flush) when it would otherwise wait.
func (c *Client) Publish(topic string, qos byte, payload []byte) (uint16, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var id uint16
	if qos > 0 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1 // 0 is not a valid packet identifier [MQTT-2.3.1-1]
		}
		id = c.nextID
	}
	return id, writePublish(c.w, topic, qos, id, payload)
}

// Flush writes what Publish queued.
func (c *Client) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// Close sends DISCONNECT (best effort) and closes the connection.
func (c *Client) Close() error {
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.w.Write([]byte{pktDisconnect << 4, 0})
	_ = c.w.Flush()
	c.wmu.Unlock()
	return c.conn.Close()
}

// Abort closes the connection without DISCONNECT.
func (c *Client) Abort() error { return c.conn.Close() }

// Done is closed when the read loop has ended (connection closed or protocol error); Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the read loop ended; valid after Done is closed.
func (c *Client) Err() error { return c.err }

// encodeConnect builds a CONNECT with only a client identifier. [MQTT-3.1]
func encodeConnect(clientID string, clean bool, keepAlive uint16) []byte {
	var flags byte
	if clean {
		flags |= 0x02
	}
	body := make([]byte, 0, 12+len(clientID))
	body = appendString(body, "MQTT")
	body = append(body, 4, flags, byte(keepAlive>>8), byte(keepAlive))
	body = appendString(body, clientID)
	return appendPacket(nil, pktConnect<<4, body)
}

// encodeSubscribe builds a SUBSCRIBE with one filter. [MQTT-3.8]
func encodeSubscribe(id uint16, filter string, qos byte) []byte {
	body := []byte{byte(id >> 8), byte(id)}
	body = appendString(body, filter)
	body = append(body, qos)
	return appendPacket(nil, pktSubscribe<<4|0x02, body)
}

// writePublish writes a PUBLISH without building it in memory first. The error is the writer's
// (sticky) one, from this or an earlier spill to the connection. [MQTT-3.3]
func writePublish(w *bufio.Writer, topic string, qos byte, id uint16, payload []byte) error {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	w.WriteByte(pktPublish<<4 | qos<<1)
	writeVarint(w, n)
	w.WriteByte(byte(len(topic) >> 8))
	w.WriteByte(byte(len(topic)))
	w.WriteString(topic)
	if qos > 0 {
		w.WriteByte(byte(id >> 8))
		w.WriteByte(byte(id))
	}
	_, err := w.Write(payload) // returns the sticky error even for an empty payload
	return err
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func appendPacket(b []byte, header byte, body []byte) []byte {
	b = append(b, header)
	b = appendVarint(b, len(body))
	return append(b, body...)
}

// appendVarint encodes a Remaining Length. [MQTT-2.2.3]
func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func writeVarint(w *bufio.Writer, n int) {
	var tmp [4]byte
	w.Write(appendVarint(tmp[:0], n))
}

// readPacket reads one packet into buf (reused when large enough) and returns its fixed header byte
// and its body.
func readPacket(r *bufio.Reader, buf []byte) (header byte, body []byte, err error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		d, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(d&0x7f) * mult
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("loadtest: malformed remaining length")
		}
		mult *= 128
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return h, buf, nil
}

// parsePublish splits a PUBLISH body; id is 0 at QoS 0. [MQTT-3.3.2]
func parsePublish(header byte, body []byte) (topic []byte, id uint16, payload []byte, err error) {
	if len(body) < 2 {
		return nil, 0, nil, errors.New("loadtest: short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(body))
	rest := body[2:]
	if len(rest) < n {
		return nil, 0, nil, errors.New("loadtest: PUBLISH topic overruns the packet")
	}
	topic, rest = rest[:n], rest[n:]
	if (header>>1)&3 > 0 {
		if len(rest) < 2 {
			return nil, 0, nil, errors.New("loadtest: PUBLISH without packet identifier")
		}
		id, rest = binary.BigEndian.Uint16(rest), rest[2:]
	}
	return topic, id, rest, nil
}
