package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"
)

// TestHostileInputs is a catalogue of malformed and hostile inputs against the real binary, started with
// --require-auth and AWS's quotas: raw MQTT packets over mutual TLS (with a registered device
// certificate when the abuse is at the packet level), TLS-level abuse, and HTTP requests to the API.
// Each case asserts the answer AWS gives (the `aws` field names the source: research §/checklist items
// of /work/shared/research/aws-iot-core.md, AWS doc pages, the MQTT spec); "(V)" marks an answer that is
// unverified against a live account, "iotlab:" a deliberate choice where AWS is silent. After every
// case a sentinel device on the same broker must still publish and receive, and the API still answer
// ListThings.
func TestHostileInputs(t *testing.T) {
	h := newHostileEnv(t)
	cases := hostileCases()
	if len(cases) < 50 {
		t.Fatalf("the catalogue has %d cases, want at least 50", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, h)
			h.stillServing(t)
			if tc.bug != "" {
				// What is safe is asserted above (no session, the broker serves on); the rest is a
				// known bug in broker/ (or mochi-mqtt under it), reported to the lead.
				t.Skip("bug: " + tc.bug)
			}
		})
	}
}

type hostileCase struct {
	name string
	aws  string // what AWS answers, and where that is written down
	bug  string // a known bug: run asserts what is safe today, then the case is skipped with this
	run  func(t *testing.T, h *hostileEnv)
}

// hostilePolicy lets the hostile device connect under any client ID and use hostile/…; nothing else.
const hostilePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:eu-west-1:123456789012:client/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/hostile/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:eu-west-1:123456789012:topicfilter/hostile/*"}
  ]
}`

// handshakeTimeout is the binary's --mqtt-handshake-timeout here: short, so slow-loris cases end fast.
const handshakeTimeout = 2 * time.Second

type hostileEnv struct {
	p       *proc
	state   string
	iot     *iot.Client
	creds   aws.Credentials
	roots   *x509.CertPool
	device  tls.Certificate // registered, ACTIVE, hostilePolicy
	revoked tls.Certificate // registered, REVOKED
	unknown tls.Certificate // self-signed, never registered
	sent    *sentinel
	seq     atomic.Int64
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	h := &hostileEnv{state: t.TempDir()}
	h.p = startUp(t, h.state, "--require-auth", "--mqtt-handshake-timeout", handshakeTimeout.String())
	creds, err := os.ReadFile(filepath.Join(h.state, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(creds), "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			switch k {
			case "aws_access_key_id":
				h.creds.AccessKeyID = v
			case "aws_secret_access_key":
				h.creds.SecretAccessKey = v
			}
		}
	}
	h.iot = iot.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(h.p.apiURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(h.creds.AccessKeyID, h.creds.SecretAccessKey, "")})
	ctx := context.Background()
	for name, doc := range map[string]string{"home-device": devicePolicy, "hostile-device": hostilePolicy} {
		if _, err := h.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	pem, err := os.ReadFile(filepath.Join(h.state, "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	h.roots = x509.NewCertPool()
	h.roots.AppendCertsFromPEM(pem)
	dir := t.TempDir()
	load := func(d device) tls.Certificate {
		c, err := tls.LoadX509KeyPair(d.cert, d.key)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sentinelDev := provision(t, h.iot, dir, "sentinel", false)
	h.device = load(provision(t, h.iot, dir, "hostile", true))
	certArn := func(thing string) string {
		out, err := h.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
		if err != nil || len(out.Principals) != 1 {
			t.Fatalf("principals of %s: %v %v", thing, out, err)
		}
		return out.Principals[0]
	}
	if _, err := h.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("hostile-device"), Target: aws.String(certArn("hostile"))}); err != nil {
		t.Fatal(err)
	}
	h.revoked = load(provision(t, h.iot, dir, "revoked", false))
	arn := certArn("revoked")
	if _, err := h.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(arn[strings.LastIndex(arn, "/")+1:]), NewStatus: "REVOKED"}); err != nil {
		t.Fatal(err)
	}
	h.unknown = selfSigned(t)
	h.sent = h.newSentinel(t, load(sentinelDev))
	return h
}

// selfSigned is a certificate no CA of the account issued.
// asMconn wraps a plain connection (or returns an mconn as is).
func asMconn(c net.Conn) *mconn {
	if m, ok := c.(*mconn); ok {
		return m
	}
	return newMconn(c)
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "intruder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// stillServing: the sentinel publishes and receives, and the API lists things.
func (h *hostileEnv) stillServing(t *testing.T) {
	t.Helper()
	h.sent.check(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.iot.ListThings(ctx, &iot.ListThingsInput{}); err != nil {
		t.Fatalf("after the case the API no longer answers ListThings: %v", err)
	}
}

func (h *hostileEnv) clientID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, h.seq.Add(1))
}

func (h *hostileEnv) mqttAddr() string { return "127.0.0.1:" + h.p.mqttPort }

// dialTLS opens a TLS connection to the broker with cert (nil: no client certificate).
func (h *hostileEnv) dialTLS(t *testing.T, cert *tls.Certificate) *mconn {
	t.Helper()
	cfg := &tls.Config{RootCAs: h.roots, ServerName: "localhost"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", h.mqttAddr(), cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return newMconn(c)
}

// connect opens an MQTT session as the hostile device and expects CONNACK 0.
func (h *hostileEnv) connect(t *testing.T, v byte, clientID string) *mconn {
	t.Helper()
	c := h.dialTLS(t, &h.device)
	send(t, c, connectPkt(v, clientID, true, 60, nil, nil))
	p := mustRead(t, c, pkConnack)
	if rc := connackCode(p); rc != 0 {
		t.Fatalf("CONNACK %#x for %s, want 0", rc, clientID)
	}
	return c
}

// --- the sentinel --------------------------------------------------------------------------------------

// sentinel is a healthy device connection (MQTT 3.1.1, client ID = thing name) that publishes to
// home/sentinel/echo with QoS 1 and receives it back through its own QoS 0 subscription.
type sentinel struct {
	conn *mconn
	in   chan mpkt
	dead chan struct{}
	err  error
	n    uint16
}

func (h *hostileEnv) newSentinel(t *testing.T, cert tls.Certificate) *sentinel {
	t.Helper()
	c := h.dialTLS(t, &cert)
	send(t, c, connectPkt(4, "sentinel", true, 600, nil, nil))
	if rc := connackCode(mustRead(t, c, pkConnack)); rc != 0 {
		t.Fatalf("sentinel CONNACK %#x", rc)
	}
	send(t, c, subscribePkt(4, 1, nil, []string{"home/sentinel/echo"}, 0))
	if codes := subackCodes(4, mustRead(t, c, pkSuback)); len(codes) != 1 || codes[0] != 0 {
		t.Fatalf("sentinel SUBACK %v", codes)
	}
	s := &sentinel{conn: c, in: make(chan mpkt, 64), dead: make(chan struct{})}
	_ = c.SetReadDeadline(time.Time{})
	go func() {
		for {
			p, err := readPkt(c.r)
			if err != nil {
				s.err = err
				close(s.dead)
				return
			}
			s.in <- p
		}
	}()
	return s
}

func (s *sentinel) check(t *testing.T) {
	t.Helper()
	s.n++
	id := s.n
	payload := fmt.Sprintf("ping-%d", id)
	_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.conn.Write(publishPkt(4, "home/sentinel/echo", 1, false, id, nil, []byte(payload))); err != nil {
		t.Fatalf("sentinel lost: write: %v", err)
	}
	acked, got := false, false
	timeout := time.After(5 * time.Second)
	for !acked || !got {
		select {
		case p := <-s.in:
			switch p.typ {
			case pkPuback:
				acked = acked || binary.BigEndian.Uint16(p.body) == id
			case pkPublish:
				_, pl := publishTopicPayload(4, p)
				got = got || string(pl) == payload
			}
		case <-s.dead:
			t.Fatalf("sentinel lost: the broker closed its connection: %v", s.err)
		case <-timeout:
			t.Fatalf("sentinel: no PUBACK (%v) or no echo (%v) within 5s", acked, got)
		}
	}
}

// --- raw MQTT ------------------------------------------------------------------------------------------

const (
	pkConnect    = 1
	pkConnack    = 2
	pkPublish    = 3
	pkPuback     = 4
	pkSubscribe  = 8
	pkSuback     = 9
	pkPingreq    = 12
	pkDisconnect = 14
	pkAuth       = 15
)

// mconn is a broker connection with one buffered reader for all its reads.
type mconn struct {
	net.Conn
	r *bufio.Reader
}

func newMconn(c net.Conn) *mconn { return &mconn{Conn: c, r: bufio.NewReader(c)} }

type mpkt struct {
	typ, flags byte
	body       []byte
}

func varint(n int) []byte {
	var b []byte
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

func mstr(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func packet(first byte, body []byte) []byte {
	return append(append([]byte{first}, varint(len(body))...), body...)
}

// props wraps MQTT 5 properties with their length (nil for MQTT 3.1.1).
func props(v byte, p []byte) []byte {
	if v < 5 {
		return nil
	}
	return append(varint(len(p)), p...)
}

type willSpec struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

func connectPkt(v byte, clientID string, clean bool, keepalive uint16, p []byte, w *willSpec) []byte {
	var flags byte
	if clean {
		flags |= 0x02
	}
	if w != nil {
		flags |= 0x04 | w.qos<<3
		if w.retain {
			flags |= 0x20
		}
	}
	b := append(mstr("MQTT"), v, flags)
	b = binary.BigEndian.AppendUint16(b, keepalive)
	b = append(b, props(v, p)...)
	b = append(b, mstr(clientID)...)
	if w != nil {
		b = append(b, props(v, nil)...)
		b = append(b, mstr(w.topic)...)
		b = append(b, mstr(string(w.payload))...)
	}
	return packet(pkConnect<<4, b)
}

func publishPkt(v byte, topic string, qos byte, retain bool, id uint16, p []byte, payload []byte) []byte {
	first := byte(pkPublish<<4) | qos<<1
	if retain {
		first |= 1
	}
	b := mstr(topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	b = append(b, props(v, p)...)
	return packet(first, append(b, payload...))
}

func subscribePkt(v byte, id uint16, p []byte, filters []string, qos byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, props(v, p)...)
	for _, f := range filters {
		b = append(append(b, mstr(f)...), qos)
	}
	return packet(pkSubscribe<<4|2, b)
}

func readPkt(r *bufio.Reader) (mpkt, error) {
	first, err := r.ReadByte()
	if err != nil {
		return mpkt{}, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		d, err := r.ReadByte()
		if err != nil {
			return mpkt{}, err
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return mpkt{}, errors.New("malformed remaining length from the broker")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return mpkt{}, err
	}
	return mpkt{typ: first >> 4, flags: first & 15, body: body}, nil
}

func send(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// sendHostile writes bytes the broker may refuse halfway: it can close the connection before the
// last byte, so a failed write is not an error; what the broker answered is read afterwards.
func sendHostile(c net.Conn, b []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(b)
}

// mustRead reads the next packet, which must be of type typ, within 5 s.
func mustRead(t *testing.T, c *mconn, typ byte) mpkt {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := readPkt(c.r)
	if err != nil {
		t.Fatalf("want packet type %d, got error %v", typ, err)
	}
	if p.typ != typ {
		t.Fatalf("want packet type %d, got type %d %x", typ, p.typ, p.body)
	}
	return p
}

// drain reads packets until the broker closes the connection or within passes; closed reports which.
func drain(c *mconn, within time.Duration) (pkts []mpkt, closed bool, after time.Duration) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	for {
		p, err := readPkt(c.r)
		if err != nil {
			var ne net.Error
			return pkts, !(errors.As(err, &ne) && ne.Timeout()), time.Since(start)
		}
		pkts = append(pkts, p)
	}
}

func types(pkts []mpkt) []byte {
	var out []byte
	for _, p := range pkts {
		out = append(out, p.typ)
	}
	return out
}

// wantClosed: the broker closes the connection within 5 s, having sent none of the packet types in
// forbidden (for MQTT 3.1.1 refusals: no CONNACK, no PUBACK, no SUBACK).
func wantClosed(t *testing.T, c *mconn, forbidden ...byte) []mpkt {
	t.Helper()
	pkts, closed, _ := drain(c, 5*time.Second)
	if !closed {
		t.Fatalf("connection still open 5s later; packets %v", types(pkts))
	}
	for _, p := range pkts {
		if bytes.IndexByte(forbidden, p.typ) >= 0 {
			t.Fatalf("got packet type %d (%x) before the close; want none of %v", p.typ, p.body, forbidden)
		}
	}
	return pkts
}

// wantDisconnect5: an MQTT 5 DISCONNECT with reason code, then the close.
func wantDisconnect5(t *testing.T, c *mconn, reason byte) {
	t.Helper()
	pkts := wantClosed(t, c, pkPuback, pkSuback)
	if len(pkts) == 0 || pkts[len(pkts)-1].typ != pkDisconnect || len(pkts[len(pkts)-1].body) == 0 || pkts[len(pkts)-1].body[0] != reason {
		t.Fatalf("got packets %v %v before the close, want DISCONNECT %#x", types(pkts), pkts, reason)
	}
}

// wantStillOpen: a PINGREQ still gets PINGRESP (the connection survived).
func wantStillOpen(t *testing.T, c *mconn) {
	t.Helper()
	send(t, c, []byte{pkPingreq << 4, 0})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		p, err := readPkt(c.r)
		if err != nil {
			t.Fatalf("connection closed, want it open: %v", err)
		}
		if p.typ == 13 {
			return
		}
	}
}

// noSession: whatever came before the close, it was not CONNACK 0.
// connack311Then: the CONNECT gets the MQTT 3.1.1 CONNACK return code rc, then the close.
func connack311Then(connect []byte, rc byte) func(t *testing.T, h *hostileEnv) {
	return func(t *testing.T, h *hostileEnv) {
		t.Helper()
		c := h.dialTLS(t, &h.device)
		send(t, c, connect)
		pkts := wantClosed(t, c)
		if len(pkts) != 1 || pkts[0].typ != pkConnack || !bytes.Equal(pkts[0].body, []byte{0, rc}) {
			t.Fatalf("got %v %v before the close, want one CONNACK 00 %02x", types(pkts), pkts, rc)
		}
	}
}

func connackCode(p mpkt) byte {
	if len(p.body) < 2 {
		return 0xff
	}
	return p.body[1]
}

func subackCodes(v byte, p mpkt) []byte {
	b := p.body[2:]
	if v == 5 {
		n, i := 0, 0
		for mul := 1; ; mul *= 128 {
			n += int(b[i]&0x7f) * mul
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
		b = b[i+n:]
	}
	return b
}

// pubackCode is an MQTT 5 PUBACK's reason (0 when omitted).
func pubackCode(p mpkt) byte {
	if len(p.body) < 3 {
		return 0
	}
	return p.body[2]
}

func publishTopicPayload(v byte, p mpkt) (string, []byte) {
	if len(p.body) < 2 {
		return "", nil
	}
	n := int(binary.BigEndian.Uint16(p.body))
	topic := string(p.body[2 : 2+n])
	rest := p.body[2+n:]
	if (p.flags>>1)&3 > 0 {
		rest = rest[2:]
	}
	if v == 5 {
		l, i := 0, 0
		for mul := 1; ; mul *= 128 {
			l += int(rest[i]&0x7f) * mul
			i++
			if rest[i-1]&0x80 == 0 {
				break
			}
		}
		rest = rest[i+l:]
	}
	return topic, rest
}

// --- the API ---------------------------------------------------------------------------------------

// apiCall signs (unless raw) and sends a request to the API; it returns the status and x-amzn-ErrorType.
func (h *hostileEnv) apiCall(t *testing.T, service, method, path string, body []byte, mutate func(*http.Request)) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, h.p.apiURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	if service != "" {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), h.creds, r, hex.EncodeToString(sum[:]), service, "eu-west-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(r)
	}
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType")
}

func wantAPI(t *testing.T, gotStatus int, gotCode string, status int, code string) {
	t.Helper()
	if gotStatus != status || gotCode != code {
		t.Fatalf("got %d %q, want %d %q", gotStatus, gotCode, status, code)
	}
}

// rawHTTP sends bytes to the API port as they are (for request lines Go's client would clean up).
func (h *hostileEnv) rawHTTP(t *testing.T, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(h.p.apiURL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func sdkCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

func csrPEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "weak"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// --- the catalogue ---------------------------------------------------------------------------------------

func hostileCases() []hostileCase {
	longID := strings.Repeat("c", 129)
	long := "hostile/" + strings.Repeat("x", 250)
	deep := "hostile/a/b/c/d/e/f/g" // 7 slashes: the most AWS allows
	pub311Closed := func(topic string, qos byte, retain bool, payload []byte) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.connect(t, 4, h.clientID("pub"))
			sendHostile(c, publishPkt(4, topic, qos, retain, 1, nil, payload))
			wantClosed(t, c, pkPuback)
		}
	}
	pub5Puback := func(topic string, retain bool, reason byte) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.connect(t, 5, h.clientID("pub5"))
			send(t, c, publishPkt(5, topic, 1, retain, 7, nil, []byte("x")))
			p := mustRead(t, c, pkPuback)
			if got := pubackCode(p); got != reason {
				t.Fatalf("PUBACK %#x, want %#x", got, reason)
			}
			wantStillOpen(t, c)
		}
	}
	sub311 := func(filters []string, want []byte) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.connect(t, 4, h.clientID("sub"))
			send(t, c, subscribePkt(4, 3, nil, filters, 0))
			if got := subackCodes(4, mustRead(t, c, pkSuback)); !bytes.Equal(got, want) {
				t.Fatalf("SUBACK % x, want % x", got, want)
			}
			wantStillOpen(t, c)
		}
	}
	connectRefused311 := func(cert func(*hostileEnv) *tls.Certificate, clientID string, clean bool) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.dialTLS(t, cert(h))
			send(t, c, connectPkt(4, clientID, clean, 60, nil, nil))
			wantClosed(t, c, pkConnack)
		}
	}
	connack5 := func(cert func(*hostileEnv) *tls.Certificate, clientID string, want byte) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.dialTLS(t, cert(h))
			send(t, c, connectPkt(5, clientID, true, 60, nil, nil))
			if got := connackCode(mustRead(t, c, pkConnack)); got != want {
				t.Fatalf("CONNACK %#x, want %#x", got, want)
			}
			wantClosed(t, c)
		}
	}
	device := func(h *hostileEnv) *tls.Certificate { return &h.device }
	revoked := func(h *hostileEnv) *tls.Certificate { return &h.revoked }
	unknown := func(h *hostileEnv) *tls.Certificate { return &h.unknown }
	afterConnect := func(v byte, raw []byte, check func(*testing.T, *mconn)) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			c := h.connect(t, v, h.clientID("raw"))
			sendHostile(c, raw)
			check(t, c)
		}
	}
	closedNoReply := func(t *testing.T, c *mconn) { wantClosed(t, c, pkPuback, pkSuback) }
	api := func(service, method, path string, body []byte, status int, code string) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			st, cd := h.apiCall(t, service, method, path, body, nil)
			wantAPI(t, st, cd, status, code)
		}
	}
	authHeader := func(value string, status int, code string) func(*testing.T, *hostileEnv) {
		return func(t *testing.T, h *hostileEnv) {
			st, cd := h.apiCall(t, "", "GET", "/things", nil, func(r *http.Request) {
				r.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
				r.Header.Set("Authorization", strings.ReplaceAll(value, "{key}", h.creds.AccessKeyID))
			})
			wantAPI(t, st, cd, status, code)
		}
	}
	today := time.Now().UTC().Format("20060102")

	return []hostileCase{
		// ---- TLS and connection level ----
		{name: "plaintext MQTT CONNECT to the TLS port", aws: "protocols.html: 8883 is MQTT over TLS only; no session without TLS",
			run: func(t *testing.T, h *hostileEnv) {
				c, err := net.DialTimeout("tcp", h.mqttAddr(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				send(t, c, connectPkt(4, "plain", true, 60, nil, nil))
				pkts, closed, _ := drain(newMconn(c), 5*time.Second)
				if !closed {
					t.Fatal("plaintext connection still open 5s later")
				}
				for _, p := range pkts {
					if p.typ == pkConnack {
						t.Fatal("plaintext CONNECT got a CONNACK")
					}
				}
			}},
		{name: "plaintext HTTP request to the TLS port", aws: "protocols.html: TLS only",
			run: func(t *testing.T, h *hostileEnv) {
				c, err := net.DialTimeout("tcp", h.mqttAddr(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, err := io.ReadAll(c)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("still open 5s later")
				}
				if len(b) > 0 && !bytes.HasPrefix(b, []byte{0x15}) { // at most a TLS alert record
					t.Fatalf("answered %q", b)
				}
			}},
		{name: "TLS 1.1 client", aws: "protocols.html, research §2.2: TLS 1.2 and 1.3 only; the handshake fails",
			run: func(t *testing.T, h *hostileEnv) {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", h.mqttAddr(), &tls.Config{RootCAs: h.roots,
					ServerName: "localhost", Certificates: []tls.Certificate{h.device}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
				if err == nil {
					c.Close()
					t.Fatal("a TLS 1.1 handshake succeeded")
				}
				if !strings.Contains(err.Error(), "protocol version") { // the server's alert, not a local refusal
					t.Fatalf("handshake failed with %v, want the server's protocol version alert", err)
				}
			}},
		{name: "TLS client without a certificate", aws: "checklist 2: a client presenting no certificate cannot complete an MQTT session",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, nil)
				_, _ = c.Write(connectPkt(4, h.clientID("nocert"), true, 60, nil, nil))
				wantClosed(t, c, pkConnack)
			}},
		{name: "self-signed unknown certificate, MQTT 3.1.1", aws: "research §4.2, checklist 4: TLS completes, CONNECT closed without CONNACK",
			run: connectRefused311(unknown, "intruder-311", true)},
		{name: "self-signed unknown certificate, MQTT 5", aws: "checklist 4: CONNACK 0x87 (V)",
			run: connack5(unknown, "intruder-5", 0x87)},
		{name: "revoked certificate, MQTT 3.1.1", aws: "API_UpdateCertificate: only ACTIVE certificates authenticate; research §4.2: no CONNACK",
			run: connectRefused311(revoked, "revoked", true)},
		{name: "revoked certificate, MQTT 5", aws: "checklist 4: CONNACK 0x87 (V)",
			run: connack5(revoked, "revoked", 0x87)},
		{name: "slow-loris: TCP open, nothing sent", aws: "iotlab: closed after --mqtt-handshake-timeout (AWS documents no value; a TLS server must not wait forever)",
			run: func(t *testing.T, h *hostileEnv) {
				c, err := net.DialTimeout("tcp", h.mqttAddr(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_, closed, after := drain(asMconn(c), handshakeTimeout+3*time.Second)
				if !closed || after < handshakeTimeout/2 {
					t.Fatalf("closed %v after %v, want closed after about %v", closed, after, handshakeTimeout)
				}
			}},
		{name: "half a TLS handshake (a ClientHello cut short)", aws: "iotlab: closed after --mqtt-handshake-timeout",
			run: func(t *testing.T, h *hostileEnv) {
				c, err := net.DialTimeout("tcp", h.mqttAddr(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// A handshake record header announcing 512 bytes, then 5 of them.
				c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03})
				_, closed, after := drain(asMconn(c), handshakeTimeout+3*time.Second)
				if !closed || after < handshakeTimeout/2 {
					t.Fatalf("closed %v after %v, want closed after about %v", closed, after, handshakeTimeout)
				}
			}},
		{name: "TLS done, no MQTT CONNECT", aws: "iotlab: the handshake timeout runs until CONNECT",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				_, closed, after := drain(asMconn(c), handshakeTimeout+3*time.Second)
				if !closed || after < handshakeTimeout/2 {
					t.Fatalf("closed %v after %v, want closed after about %v", closed, after, handshakeTimeout)
				}
			}},
		{name: "flood of 100 TCP connections that never speak", aws: "GR:iot-core connect rate is per account (500/s); iotlab: each is closed by the handshake timeout, the others are served meanwhile",
			run: func(t *testing.T, h *hostileEnv) {
				var conns []net.Conn
				for range 100 {
					c, err := net.DialTimeout("tcp", h.mqttAddr(), 5*time.Second)
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					conns = append(conns, c)
				}
				h.sent.check(t) // served while they hang
				for _, c := range conns {
					c.Close()
				}
			}},
		{name: "connect flood: 30 devices at once", aws: "GR:iot-core: 500 CONNECT/s per account; all accepted",
			run: func(t *testing.T, h *hostileEnv) {
				var wg sync.WaitGroup
				errs := make(chan error, 30)
				for range 30 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", h.mqttAddr(),
							&tls.Config{RootCAs: h.roots, ServerName: "localhost", Certificates: []tls.Certificate{h.device}})
						if err != nil {
							errs <- err
							return
						}
						defer c.Close()
						_ = c.SetDeadline(time.Now().Add(10 * time.Second))
						c.Write(connectPkt(4, h.clientID("crowd"), true, 60, nil, nil))
						p, err := readPkt(bufio.NewReader(c))
						if err != nil || p.typ != pkConnack || connackCode(p) != 0 {
							errs <- fmt.Errorf("CONNACK: %v %v", p, err)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			}},
		{name: "connect flood from one client ID", aws: "GR:iot-core: 1 CONNECT/s per client ID; checklist 15 (V): later attempts refused, MQTT 5 CONNACK 0x97",
			run: func(t *testing.T, h *hostileEnv) {
				id := h.clientID("flood")
				var codes []byte
				for range 4 {
					c := h.dialTLS(t, &h.device)
					send(t, c, connectPkt(5, id, true, 60, nil, nil))
					codes = append(codes, connackCode(mustRead(t, c, pkConnack)))
				}
				if !bytes.Equal(codes, []byte{0, 0x97, 0x97, 0x97}) {
					t.Fatalf("CONNACKs % x, want 00 97 97 97", codes)
				}
			}},

		// ---- CONNECT abuse ----
		{name: "zero-length client ID, MQTT 3.1.1, no clean session", aws: "MQTT-3.1.3-8: CONNACK 0x02 Identifier rejected, then close; AWS silent (research §1.4)",
			run: connack311Then(connectPkt(4, "", false, 60, nil, nil), 0x02)},
		{name: "zero-length client ID, MQTT 5: an assigned one", aws: "checklist 12: CONNACK carries an Assigned Client Identifier",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				send(t, c, connectPkt(5, "", true, 60, nil, nil))
				p := mustRead(t, c, pkConnack)
				if connackCode(p) != 0 || !bytes.Contains(p.body, []byte{0x12}) {
					t.Fatalf("CONNACK %x, want 0 with property 0x12", p.body)
				}
			}},
		{name: "client ID of 129 bytes, MQTT 3.1.1", aws: "GR:iot-core client ID 128 bytes; checklist 10 (V): closed without CONNACK",
			run: connectRefused311(device, longID, true)},
		{name: "client ID of 129 bytes, MQTT 5", aws: "checklist 10 (V): CONNACK 0x85",
			run: connack5(device, longID, 0x85)},
		{name: "'$' client ID, MQTT 3.1.1", aws: "GR:iot-core: '$' prefix reserved; checklist 11 (V)",
			run: connectRefused311(device, "$aws-fake", true)},
		{name: "'$' client ID, MQTT 5", aws: "checklist 11 (V): CONNACK 0x85",
			run: connack5(device, "$iot", 0x85)},
		{name: "client ID that is not UTF-8", aws: "MQTT-1.5.3-1: malformed, the server closes the connection",
			run: connectRefused311(device, "bad\xff\xfeid", true)},
		{name: "protocol name MQTX", aws: "MQTT-3.1.2-1: the server may close without CONNACK",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				b := connectPkt(4, "mqtx", true, 60, nil, nil)
				copy(b[4:8], "MQTX")
				send(t, c, b)
				wantClosed(t, c, pkConnack)
			}},
		{name: "protocol level 6", aws: "MQTT-3.1.2-2: CONNACK 0x01 unacceptable protocol level, then close",
			run: func(t *testing.T, h *hostileEnv) {
				b := connectPkt(4, "level6", true, 60, nil, nil)
				b[8] = 6
				connack311Then(b, 0x01)(t, h)
			}},
		{name: "CONNECT with the reserved flag bit", aws: "MQTT-3.1.2-3: the server disconnects",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				b := connectPkt(4, "reserved", true, 60, nil, nil)
				b[9] |= 1
				send(t, c, b)
				wantClosed(t, c, pkConnack)
			}},
		{name: "unregistered certificate, malformed CONNECT", aws: "research §4.2, checklist 4: an unknown certificate's connection closes without CONNACK",
			run: func(t *testing.T, h *hostileEnv) {
				for _, v := range []byte{4, 5} {
					c := h.dialTLS(t, &h.unknown)
					b := connectPkt(v, "intruder", true, 60, nil, nil)
					b[9] |= 1
					send(t, c, b)
					wantClosed(t, c, pkConnack)
				}
			}},
		{name: "PUBLISH before CONNECT", aws: "MQTT-3.1.0-1: the first packet must be CONNECT; close",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				send(t, c, publishPkt(4, "hostile/early", 0, false, 0, nil, []byte("x")))
				wantClosed(t, c, pkConnack)
			}},
		{name: "second CONNECT on an open connection", aws: "checklist 17, MQTT-3.1.0-2: disconnect (CLIENT_ERROR)",
			run: afterConnect(4, connectPkt(4, "again", true, 60, nil, nil), closedNoReply)},
		{name: "will with a wildcard topic", aws: "MQTT-3.1.2-? will topic is a topic name; life-cycle-events: connect fails",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				send(t, c, connectPkt(4, h.clientID("will"), true, 60, nil, &willSpec{topic: "hostile/+", payload: []byte("bye")}))
				wantClosed(t, c, pkConnack)
			}},
		{name: "will on a topic the policy does not allow", aws: "life-cycle-events#connect-authfailure-event: connect fails",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				send(t, c, connectPkt(4, h.clientID("will"), true, 60, nil, &willSpec{topic: "elsewhere/will", payload: []byte("bye")}))
				wantClosed(t, c, pkConnack)
			}},
		{name: "will with QoS 2, MQTT 5", aws: "research §1.2 [OBS]: connection closed; MQTT 5 CONNACK 0x9B",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.dialTLS(t, &h.device)
				send(t, c, connectPkt(5, h.clientID("will"), true, 60, nil, &willSpec{topic: "hostile/will", payload: []byte("bye"), qos: 2}))
				if got := connackCode(mustRead(t, c, pkConnack)); got != 0x9b {
					t.Fatalf("CONNACK %#x, want 0x9b", got)
				}
			}},

		// ---- packet-level abuse on an accepted connection ----
		{name: "malformed remaining length (five continuation bytes)", aws: "MQTT-1.5.5 / 2.2.3: malformed packet, close",
			run: afterConnect(4, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, closedNoReply)},
		{name: "remaining length of 256 MB announced, little sent", aws: "GR:iot-core: packets over the size limit are rejected; nothing is allocated for them",
			run: afterConnect(4, []byte{0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 'a'}, closedNoReply)},
		{name: "reserved packet type 0", aws: "MQTT-2.2.1: reserved, malformed; close",
			run: afterConnect(4, []byte{0x00, 0x00}, closedNoReply)},
		{name: "AUTH packet on MQTT 3.1.1", aws: "type 15 is reserved in 3.1.1: close",
			run: afterConnect(4, []byte{0xf0, 0x00}, closedNoReply)},
		{name: "AUTH packet on MQTT 5", aws: "mqtt.html#mqtt-differences: AUTH not supported; checklist 20 (V): DISCONNECT 0x82",
			run: afterConnect(5, []byte{0xf0, 0x02, 0x18, 0x00}, func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x82) })},
		{name: "AUTH packet of remaining length 0, MQTT 5", aws: "checklist 20 (V): DISCONNECT 0x82 (MQTT-3.15.2: a zero-length AUTH is well-formed)",
			run: afterConnect(5, []byte{0xf0, 0x00}, func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x82) })},
		{name: "payload over 128 KB, MQTT 3.1.1", aws: "research §1.11, checklist 36: disconnect, lifecycle CLIENT_ERROR",
			run: pub311Closed("hostile/big", 1, false, bytes.Repeat([]byte("x"), 128<<10+1))},
		{name: "payload over 128 KB, MQTT 5", aws: "checklist 36 (V): DISCONNECT 0x95 Packet too large",
			run: afterConnect(5, publishPkt(5, "hostile/big", 1, false, 1, nil, bytes.Repeat([]byte("x"), 128<<10+1)), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x95) })},
		{name: "packet over 146 KB, MQTT 5", aws: "research §1.11: Maximum Packet Size 146 KB (V); MQTT-3.2.2-15 and §4.13: DISCONNECT 0x95",
			run: afterConnect(5, publishPkt(5, "hostile/huge", 1, false, 1, nil, bytes.Repeat([]byte("x"), 150<<10)), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x95) })},
		{name: "topic that is not UTF-8", aws: "MQTT-1.5.3-1: malformed, close",
			run: pub311Closed("hostile/\xc3\x28", 0, false, []byte("x"))},
		{name: "topic with U+0000", aws: "MQTT-1.5.3-2: close",
			run: pub311Closed("hostile/a\x00b", 0, false, []byte("x"))},
		{name: "'+' in a PUBLISH topic, MQTT 3.1.1", aws: "topics.html: publishers can't use wildcards; checklist 32 (V): close",
			run: pub311Closed("hostile/+/x", 1, false, []byte("x"))},
		{name: "'#' in a PUBLISH topic, MQTT 5", aws: "checklist 32 (V): DISCONNECT 0x90 Topic Name invalid",
			run: afterConnect(5, publishPkt(5, "hostile/#", 1, false, 1, nil, []byte("x")), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x90) })},
		{name: "empty PUBLISH topic", aws: "MQTT-4.7.3-1: close",
			run: pub311Closed("", 0, false, []byte("x"))},
		{name: "topic over 256 bytes, MQTT 3.1.1", aws: "research §1.10, checklist 33 (V): close",
			run: pub311Closed(long, 1, false, []byte("x"))},
		{name: "topic over 256 bytes, MQTT 5", aws: "checklist 33 (V): PUBACK 0x90, the connection stays",
			run: pub5Puback(long, false, 0x90)},
		{name: "topic with 8 slashes, MQTT 3.1.1", aws: "research §1.10, checklist 33 (V): close",
			run: pub311Closed(deep+"/h", 1, false, []byte("x"))},
		{name: "topic with exactly 7 slashes is fine", aws: "research §1.10: 7 slashes allowed",
			run: pub5Puback(deep, false, 0)},
		{name: "shadow topic of another thing without permission, MQTT 3.1.1", aws: "research §1.3: unauthorized PUBLISH closes the connection",
			run: pub311Closed("$aws/things/sentinel/shadow/update", 1, false, []byte(`{"state":{"desired":{"x":1}}}`))},
		{name: "shadow topic without permission, MQTT 5", aws: "research §1.3: PUBACK 0x87",
			run: pub5Puback("$aws/things/x/shadow/update", false, 0x87)},
		{name: "spoofed lifecycle event", aws: "reserved-topics, checklist 39: publishing to $aws/events closes the connection",
			run: pub311Closed("$aws/events/presence/connected/sentinel", 1, false, []byte(`{}`))},
		{name: "Basic Ingest to a rule without permission", aws: "iot-basic-ingest needs iot:Publish on $aws/rules/<rule>; research §1.3: close",
			run: pub311Closed("$aws/rules/steal/hostile", 1, false, []byte(`{}`))},
		{name: "subscribe to $aws/rules/#", aws: "iot-basic-ingest: can't subscribe to Basic Ingest topics; checklist 40: SUBACK 0x80",
			run: sub311([]string{"$aws/rules/#"}, []byte{0x80})},
		{name: "made-up '$' topic", aws: "reserved-topics: no new '$' topics; checklist 39 (V): close",
			run: pub311Closed("$foo/bar", 1, false, []byte("x"))},
		{name: "$SYS topic", aws: "not an AWS topic: refused like any made-up '$' topic (iotlab)",
			run: pub311Closed("$SYS/broker/load", 1, false, []byte("x"))},
		{name: "RETAIN on a reserved topic", aws: "mqtt.html#mqtt-retain: can't publish to a reserved topic with RETAIN (V: close)",
			run: pub311Closed("$aws/things/hostile/shadow/update", 1, true, []byte(`{}`))},
		{name: "QoS 2 PUBLISH, MQTT 3.1.1", aws: "mqtt.html#mqtt-differences: no PUBACK for QoS 2; research §1.2 [OBS]: close",
			run: afterConnect(4, publishPkt(4, "hostile/q2", 2, false, 1, nil, []byte("x")), func(t *testing.T, c *mconn) { wantClosed(t, c, pkPuback, 5) })},
		{name: "QoS 2 PUBLISH, MQTT 5", aws: "checklist 22: DISCONNECT 0x9B QoS not supported",
			run: afterConnect(5, publishPkt(5, "hostile/q2", 2, false, 1, nil, []byte("x")), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x9b) })},
		{name: "QoS 3 PUBLISH", aws: "MQTT-3.3.1-4: malformed, close",
			run: afterConnect(4, publishPkt(4, "hostile/q3", 3, false, 1, nil, []byte("x")), closedNoReply)},
		{name: "QoS 2 SUBSCRIBE", aws: "mqtt.html#mqtt-differences: no SUBACK for QoS 2; checklist 22 (V): close",
			run: afterConnect(4, subscribePkt(4, 1, nil, []string{"hostile/q2"}, 2), closedNoReply)},
		{name: "SUBSCRIBE with 9 filters, MQTT 3.1.1", aws: "GR:iot-core 8 filters per SUBSCRIBE; checklist 34 (V): SUBACK 0x80 for the ninth",
			run: sub311([]string{"hostile/1", "hostile/2", "hostile/3", "hostile/4", "hostile/5", "hostile/6", "hostile/7", "hostile/8", "hostile/9"},
				[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x80})},
		{name: "SUBSCRIBE with 9 filters, MQTT 5", aws: "checklist 34 (V): SUBACK 0x97 for the ninth",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.connect(t, 5, h.clientID("sub5"))
				send(t, c, subscribePkt(5, 3, nil, []string{"hostile/1", "hostile/2", "hostile/3", "hostile/4", "hostile/5", "hostile/6", "hostile/7", "hostile/8", "hostile/9"}, 0))
				if got := subackCodes(5, mustRead(t, c, pkSuback)); !bytes.Equal(got, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x97}) {
					t.Fatalf("SUBACK % x", got)
				}
			}},
		{name: "51st subscription on one connection", aws: "GR:iot-core 50 subscriptions per connection; checklist 35 (V): SUBACK 0x80",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.connect(t, 4, h.clientID("subs"))
				var all []byte
				for i := 0; i < 7; i++ { // 7 × 8 = 56 filters
					var fs []string
					for j := range 8 {
						fs = append(fs, fmt.Sprintf("hostile/s%d", i*8+j))
					}
					send(t, c, subscribePkt(4, uint16(i+1), nil, fs, 0))
					all = append(all, subackCodes(4, mustRead(t, c, pkSuback))...)
				}
				want := append(bytes.Repeat([]byte{0}, 50), bytes.Repeat([]byte{0x80}, 6)...)
				if !bytes.Equal(all, want) {
					t.Fatalf("SUBACK codes % x, want 50 granted then 0x80", all)
				}
			}},
		{name: "SUBSCRIBE to an empty filter", aws: "MQTT-4.7.3-1; iotlab: SUBACK 0x80 for it",
			run: sub311([]string{""}, []byte{0x80})},
		{name: "SUBSCRIBE to an invalid filter a/#/b", aws: "MQTT-4.7.1-2: SUBACK 0x80",
			run: sub311([]string{"hostile/#/b"}, []byte{0x80})},
		{name: "SUBSCRIBE to a filter over 256 bytes", aws: "research §1.10, checklist 33 (V): SUBACK 0x80 (MQTT 5 0x8F)",
			run: sub311([]string{long}, []byte{0x80})},
		{name: "SUBSCRIBE to # without permission", aws: "checklist 26: SUBACK 0x80, other filters granted",
			run: sub311([]string{"#", "hostile/ok"}, []byte{0x80, 0})},
		{name: "SUBSCRIBE with no filter", aws: "MQTT-3.8.3-3: protocol violation, close",
			run: afterConnect(4, packet(pkSubscribe<<4|2, []byte{0, 1}), closedNoReply)},
		{name: "MQTT 5 topic alias above the maximum", aws: "checklist 57: DISCONNECT 0x94 Topic Alias invalid",
			run: afterConnect(5, publishPkt(5, "hostile/alias", 0, false, 0, []byte{0x23, 0, 9}, []byte("x")), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0x94) })},
		{name: "MQTT 5 SUBSCRIBE with a subscription identifier", aws: "mqtt.html#mqtt5-properties, checklist 58: DISCONNECT 0xA1",
			run: afterConnect(5, subscribePkt(5, 1, []byte{0x0b, 1}, []string{"hostile/x"}, 0), func(t *testing.T, c *mconn) { wantDisconnect5(t, c, 0xa1) })},
		{name: "publish flood: 150 QoS 1 publishes at once, MQTT 5", aws: "GR:iot-core 100 publishes/s per connection, excess discarded; checklist 37 (V): PUBACK 0x97; the connection stays",
			run: func(t *testing.T, h *hostileEnv) {
				c := h.connect(t, 5, h.clientID("pubflood"))
				var burst []byte
				for i := 1; i <= 150; i++ {
					burst = append(burst, publishPkt(5, "hostile/flood", 1, false, uint16(i), nil, []byte("x"))...)
				}
				send(t, c, burst)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				ok, quota := 0, 0
				for ok+quota < 150 {
					p, err := readPkt(c.r)
					if err != nil {
						t.Fatalf("after %d PUBACKs: %v", ok+quota, err)
					}
					if p.typ != pkPuback {
						continue
					}
					switch pubackCode(p) {
					case 0:
						ok++
					case 0x97:
						quota++
					default:
						t.Fatalf("PUBACK %#x", pubackCode(p))
					}
				}
				if ok < 100 || quota == 0 {
					t.Fatalf("%d accepted, %d refused with 0x97; want at least 100 accepted and some refused", ok, quota)
				}
				wantStillOpen(t, c)
			}},
		{name: "PUBACK for a packet ID never sent", aws: "MQTT-4.3.2: an unknown PUBACK is ignored; the connection stays",
			run: afterConnect(4, []byte{0x40, 0x02, 0x12, 0x34}, wantStillOpen)},
		{name: "random bytes after CONNECT", aws: "malformed packets close the connection",
			run: afterConnect(4, []byte{0x62, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33}, closedNoReply)},

		// ---- the API: bodies, documents, names ----
		{name: "API: malformed JSON body", aws: "iotlab: 400 InvalidRequestException (AWS's front end may answer SerializationException: V)",
			run: api("iot", "POST", "/things/json-bad", []byte(`{"attributePayload": {`), 400, "InvalidRequestException")},
		{name: "API: JSON nested 100000 levels", aws: "iotlab: 400, no stack exhaustion",
			run: api("iot", "POST", "/things/json-deep", []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)), 400, "InvalidRequestException")},
		{name: "API: body over 1 MB", aws: "iotlab: 413 RequestEntityTooLargeException (wire.MaxBody; AWS IoT's inputs are far smaller)",
			run: api("iot", "POST", "/things/json-big", bytes.Repeat([]byte(" "), 1<<20+1), 413, "RequestEntityTooLargeException")},
		{name: "API: policy over 2048 non-whitespace characters", aws: "API_CreatePolicy, research §3.1, checklist 73: 400 MalformedPolicyException",
			run: func(t *testing.T, h *hostileEnv) {
				doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/` + strings.Repeat("a", 2048) + `"}]}`
				_, err := h.iot.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("huge"), PolicyDocument: aws.String(doc)})
				if got := sdkCode(err); got != "MalformedPolicyException" {
					t.Fatalf("got %s, want MalformedPolicyException", got)
				}
			}},
		{name: "API: policy of 2000 characters padded with 100 KB of whitespace is fine", aws: "API_CreatePolicy: 2048 characters excluding whitespace",
			run: func(t *testing.T, h *hostileEnv) {
				doc := `{"Version":"2012-10-17",` + strings.Repeat(" \n\t", 35000) + `"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/` + strings.Repeat("a", 1850) + `"}]}`
				if _, err := h.iot.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("padded"), PolicyDocument: aws.String(doc)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "API: policy document that is not JSON", aws: "API_CreatePolicy: 400 MalformedPolicyException",
			run: func(t *testing.T, h *hostileEnv) {
				_, err := h.iot.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("broken"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[`)})
				if got := sdkCode(err); got != "MalformedPolicyException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: policy with Effect Maybe", aws: "API_CreatePolicy: 400 MalformedPolicyException",
			run: func(t *testing.T, h *hostileEnv) {
				_, err := h.iot.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("maybe"),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"iot:*","Resource":"*"}]}`)})
				if got := sdkCode(err); got != "MalformedPolicyException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: CSR with an RSA-1024 key", aws: "API_CreateCertificateFromCsr: RSA ≥ 2048; research §4.1 (V): 400 InvalidRequestException",
			run: func(t *testing.T, h *hostileEnv) {
				k, _ := rsa.GenerateKey(rand.Reader, 1024)
				_, err := h.iot.CreateCertificateFromCsr(context.Background(), &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csrPEM(t, k))})
				if got := sdkCode(err); got != "InvalidRequestException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: CSR with an EC P-224 key", aws: "API_CreateCertificateFromCsr: P-256/384/521 only; 400 InvalidRequestException (V)",
			run: func(t *testing.T, h *hostileEnv) {
				k, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
				_, err := h.iot.CreateCertificateFromCsr(context.Background(), &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csrPEM(t, k))})
				if got := sdkCode(err); got != "InvalidRequestException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: garbage CSR", aws: "API_CreateCertificateFromCsr: 400 InvalidRequestException",
			run: func(t *testing.T, h *hostileEnv) {
				_, err := h.iot.CreateCertificateFromCsr(context.Background(), &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String("-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----\n")})
				if got := sdkCode(err); got != "InvalidRequestException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: CSR whose signature does not verify", aws: "API_CreateCertificateFromCsr: 400 InvalidRequestException",
			run: func(t *testing.T, h *hostileEnv) {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				block, _ := pem.Decode([]byte(csrPEM(t, k)))
				block.Bytes[len(block.Bytes)-3] ^= 0xff // inside the signature
				_, err := h.iot.CreateCertificateFromCsr(context.Background(), &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(block)))})
				if got := sdkCode(err); got != "InvalidRequestException" {
					t.Fatalf("got %s", got)
				}
			}},
		{name: "API: thing name ../etc (escaped slash)", aws: "API_DescribeThing: thingName [a-zA-Z0-9:_-]+; 400 InvalidRequestException",
			run: api("iot", "GET", "/things/..%2Fetc", nil, 400, "InvalidRequestException")},
		{name: "API: thing name %2e%2e", aws: "API_CreateThing: thingName pattern; 400 InvalidRequestException",
			run: api("iot", "POST", "/things/%2e%2e", []byte(`{}`), 400, "InvalidRequestException")},
		{name: "API: ../ in the path, signed", aws: "iotlab: paths are not normalized, so ../ never reaches another route: 404 UnknownOperationException (AWS's handling unverified)",
			run: api("iot", "GET", "/things/../../etc/passwd", nil, 404, "UnknownOperationException")},
		{name: "API: ../ in the request line, unsigned", aws: "--require-auth refuses before routing: 403 MissingAuthenticationTokenException",
			run: func(t *testing.T, h *hostileEnv) {
				line := h.rawHTTP(t, "GET /things/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if line != "HTTP/1.1 403 Forbidden" {
					t.Fatalf("status line %q, want 403", line)
				}
			}},
		{name: "API: thing name with NUL", aws: "API_CreateThing: thingName pattern; 400 InvalidRequestException",
			run: api("iot", "POST", "/things/a%00b", []byte(`{}`), 400, "InvalidRequestException")},
		{name: "API: thing name with a newline and ESC", aws: "API_CreateThing: thingName pattern; 400 InvalidRequestException",
			run: api("iot", "POST", "/things/a%0A%1Bb", []byte(`{}`), 400, "InvalidRequestException")},
		{name: "API: thing name of 10 KB", aws: "API_CreateThing: 1–128 characters; 400 InvalidRequestException",
			run: api("iot", "POST", "/things/"+strings.Repeat("n", 10<<10), []byte(`{}`), 400, "InvalidRequestException")},
		{name: "API: shadow name ../../x", aws: "API_iotdata_GetThingShadow: shadowName [a-zA-Z0-9:_-]+; 400 InvalidRequestException",
			run: api("iotdata", "GET", "/things/hostile/shadow?name=..%2F..%2Fx", nil, 400, "InvalidRequestException")},
		{name: "API: shadow of thing %2e%2e", aws: "API_iotdata_UpdateThingShadow: thingName pattern; 400 InvalidRequestException",
			run: api("iotdata", "POST", "/things/%2e%2e/shadow", []byte(`{"state":{"desired":{"a":1}}}`), 400, "InvalidRequestException")},
		{name: "API: shadow update that is not JSON", aws: "device-shadow-error-messages, checklist 85: 400 InvalidRequestException",
			run: api("iotdata", "POST", "/things/hostile/shadow", []byte(`{"state":`), 400, "InvalidRequestException")},
		{name: "API: iot-data Publish to a wildcard topic", aws: "API_iotdata_Publish (V): 400 InvalidRequestException",
			run: api("iotdata", "POST", "/topics/hostile%2F%2B?qos=1", []byte(`x`), 400, "InvalidRequestException")},
		{name: "API: iot-data Publish over 128 KB", aws: "API_iotdata_Publish: 413 RequestEntityTooLargeException",
			run: api("iotdata", "POST", "/topics/hostile%2Fbig?qos=0", bytes.Repeat([]byte("x"), 128<<10+1), 413, "RequestEntityTooLargeException")},
		{name: "API: ListThings maxResults -1", aws: "API_ListThings: maxResults 1–250; 400 InvalidRequestException",
			run: api("iot", "GET", "/things?maxResults=-1", nil, 400, "InvalidRequestException")},
		{name: "API: unknown operation", aws: "iotlab: 404 UnknownOperationException (AWS's front end)",
			run: api("iot", "GET", "/no/such/operation", nil, 404, "UnknownOperationException")},
		{name: "API: wrong method", aws: "iotlab: 405 MethodNotAllowedException",
			run: api("iot", "PATCH", "/endpoint", nil, 405, "MethodNotAllowedException")},

		// ---- the API: SigV4 garbage (--require-auth) ----
		{name: "SigV4: no Authorization at all", aws: "403 MissingAuthenticationTokenException (see emulator/awsapi/auth.go)",
			run: api("", "GET", "/things", nil, 403, "MissingAuthenticationTokenException")},
		{name: "SigV4: algorithm only", aws: "403 IncompleteSignatureException",
			run: authHeader("AWS4-HMAC-SHA256", 403, "IncompleteSignatureException")},
		{name: "SigV4: Bearer token", aws: "403 IncompleteSignatureException",
			run: authHeader("Bearer eyJhbGciOiJub25lIn0.e30.", 403, "IncompleteSignatureException")},
		{name: "SigV4: SigV2-style header", aws: "403 IncompleteSignatureException",
			run: authHeader("AWS {key}:c2lnbmF0dXJl", 403, "IncompleteSignatureException")},
		{name: "SigV4: credential with three elements", aws: "403 IncompleteSignatureException",
			run: authHeader("AWS4-HMAC-SHA256 Credential={key}/x/y, SignedHeaders=host;x-amz-date, Signature=00", 403, "IncompleteSignatureException")},
		{name: "SigV4: well-formed, random signature", aws: "aws-sdk-js-v3#1569: 403 InvalidSignatureException",
			run: authHeader("AWS4-HMAC-SHA256 Credential={key}/"+today+"/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("ab", 32), 403, "InvalidSignatureException")},
		{name: "SigV4: 8 KB of signature", aws: "403 InvalidSignatureException",
			run: authHeader("AWS4-HMAC-SHA256 Credential={key}/"+today+"/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("z", 8<<10), 403, "InvalidSignatureException")},
		{name: "SigV4: unknown access key", aws: "amazon-freertos#841: 403 UnrecognizedClientException",
			run: authHeader("AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNUNKNOWN00/"+today+"/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", 403, "UnrecognizedClientException")},
		{name: "SigV4: garbage X-Amz-Date", aws: "403 IncompleteSignatureException (date not ISO 8601 basic)",
			run: func(t *testing.T, h *hostileEnv) {
				st, cd := h.apiCall(t, "iot", "GET", "/things", nil, func(r *http.Request) { r.Header.Set("X-Amz-Date", "1970-01-01") })
				wantAPI(t, st, cd, 403, "IncompleteSignatureException")
			}},
		{name: "SigV4: presigned with X-Amz-Expires of 30 years", aws: "presigned URLs live at most 7 days; 403 IncompleteSignatureException",
			run: func(t *testing.T, h *hostileEnv) {
				st, cd := h.apiCall(t, "", "GET", "/things?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="+h.creds.AccessKeyID+"%2F"+today+"%2Feu-west-1%2Fiot%2Faws4_request&X-Amz-Date="+time.Now().UTC().Format("20060102T150405Z")+"&X-Amz-Expires=999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00", nil, nil)
				wantAPI(t, st, cd, 403, "IncompleteSignatureException")
			}},
		{name: "SigV4: signed an hour ago", aws: "reference_aws-signing (5 minutes); 403 InvalidSignatureException 'Signature expired'",
			run: func(t *testing.T, h *hostileEnv) {
				st, cd := h.apiCall(t, "", "GET", "/things", nil, func(r *http.Request) {
					_ = v4.NewSigner().SignHTTP(context.Background(), h.creds, r, hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }()), "iot", "eu-west-1", time.Now().Add(-time.Hour))
				})
				wantAPI(t, st, cd, 403, "InvalidSignatureException")
			}},
	}
}
