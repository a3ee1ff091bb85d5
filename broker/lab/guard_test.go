package lab

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// A truncated MQTT 5 SUBSCRIBE (a topic filter without its options byte) made mochi v2.7.9's decoder
// index past the end of the packet, and the panic ended the whole process: any client of the lab
// listener could stop iotlab (upstream mochi-mqtt/server#501). The connection now ends as on any
// malformed packet and the listener serves on.
func TestTruncatedSubscribeDoesNotCrashLab(t *testing.T) {
	s := startServer(t, Options{})
	c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	connect := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 30, 0, 0, 1, 'g'}
	if _, err := c.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 2)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 {
		t.Fatalf("no CONNACK: % x, %v", ack, err)
	}
	if _, err := c.Write([]byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("the connection did not end cleanly: %v", err)
	}
	v, _ := dialV5(t, s, &paho.Connect{ClientID: "after", CleanStart: true, KeepAlive: 30})
	v.disconnect()
}
