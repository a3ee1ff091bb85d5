package loadtest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestEncodeConnect(t *testing.T) {
	got := hex.EncodeToString(encodeConnect("bench-t0", true, 600))
	// 0x10, remaining 20; "MQTT", level 4, clean session, keep-alive 600; client ID.
	want := "1014" + "00044d515454" + "04" + "02" + "0258" + "0008" + hex.EncodeToString([]byte("bench-t0"))
	if got != want {
		t.Errorf("CONNECT = %s, want %s", got, want)
	}
	if got := encodeConnect("x", false, 30)[9]; got != 0 {
		t.Errorf("CONNECT flags without clean session = %#x, want 0", got)
	}
}

func TestEncodeSubscribe(t *testing.T) {
	got := hex.EncodeToString(encodeSubscribe(1, "a/+", 1))
	want := "8208" + "0001" + "0003" + hex.EncodeToString([]byte("a/+")) + "01"
	if got != want {
		t.Errorf("SUBSCRIBE = %s, want %s", got, want)
	}
}

func TestVarint(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "00"}, {127, "7f"}, {128, "8001"}, {16383, "ff7f"}, {16384, "808001"}, {2097152, "80808001"}} {
		if got := hex.EncodeToString(appendVarint(nil, tc.n)); got != tc.want {
			t.Errorf("appendVarint(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestPublishRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		topic   string
		qos     byte
		id      uint16
		payload []byte
	}{
		{"qos 0", "bench/bench-t1/flow1", 0, 0, bytes.Repeat([]byte{7}, PayloadBytes)},
		{"qos 1", "bench/bench-t1/flow1", 1, 513, bytes.Repeat([]byte{9}, PayloadBytes)},
		{"empty payload", "t", 1, 1, nil},
		{"two-byte remaining length", strings.Repeat("t", 200), 0, 0, make([]byte, 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			if err := writePublish(w, tc.topic, tc.qos, tc.id, tc.payload); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			h, body, err := readPacket(bufio.NewReader(&buf), nil)
			if err != nil {
				t.Fatal(err)
			}
			if h>>4 != pktPublish || (h>>1)&3 != tc.qos {
				t.Fatalf("header = %#x, want PUBLISH at QoS %d", h, tc.qos)
			}
			topic, id, payload, err := parsePublish(h, body)
			if err != nil {
				t.Fatal(err)
			}
			if string(topic) != tc.topic || id != tc.id || !bytes.Equal(payload, tc.payload) {
				t.Errorf("got (%q, %d, %d bytes), want (%q, %d, %d bytes)", topic, id, len(payload), tc.topic, tc.id, len(tc.payload))
			}
		})
	}
}

func TestParsePublishRejectsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header byte
		body   []byte
	}{
		{"no topic length", 0x30, []byte{0}},
		{"topic overruns", 0x30, []byte{0, 5, 'a'}},
		{"qos 1 without id", 0x32, []byte{0, 1, 'a', 0}},
	} {
		if _, _, _, err := parsePublish(tc.header, tc.body); err == nil {
			t.Errorf("%s: parsePublish accepted %x", tc.name, tc.body)
		}
	}
}
