//go:build unix

package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/broker/loadtest"
)

// Connection scale, in process: the broker under test runs in this process and the devices in a child
// process (this test binary again, see TestConnScaleDevices), so that this process's heap and stacks
// are the broker's alone. Each device connects over mutual TLS (ECDSA P-256 certificate, TLS 1.3, as
// `iotlab bench` does), CONNECTs with a clean session, subscribes at QoS 1 to bench/<id>/cmd and
// stays idle. Per connection: the heap in use and its objects after garbage collection, goroutine
// stacks (after the collections that shrink them, and before), goroutines, the process's RSS growth;
// and connects/s with the broker's CPU per connect (noisy on a shared machine; the memory figures are
// not). Raw mochi-mqtt v2.7.9 (allow-all hook, same TLS configuration) is measured the same way in the
// same run, and its sub-benchmark's last line compares the two.
//
//	go test ./broker/ -run '^$' -bench IdleConnections -benchtime 1x -conns 2000
//	go test ./broker/ -run '^$' -bench IdleConnections/iotlab -benchtime 1x -connprofile /tmp/heap.pb.gz
//	go tool pprof -sample_index=inuse_space -top /tmp/heap.pb.gz
//
// Live memory per idle connection here (2 cores, 3,000 devices): stacks 20.5 KB (the mochi client's
// read goroutine idles about 6.6 KB deep, so its stack stays at 16 KB once grown; its WriteLoop 4 KB),
// heap about 21.5 KB: crypto/tls about 7.5 KB (the parsed client certificate, record buffers,
// AES-GCM state), mochi's client, subscription and topic-tree entries about 4.5 KB, the broker's own
// about 2.5 KB.
var (
	connScaleN       = flag.Int("conns", 2000, "BenchmarkIdleConnections: devices connected at once")
	connScaleWorkers = flag.Int("conns-workers", 64, "BenchmarkIdleConnections: devices connecting at once")
	connScaleProfile = flag.String("connprofile", "", "BenchmarkIdleConnections: write the broker's heap profile with every device connected (sampled every 4 KiB) to this file")
)

// Environment of the device process (TestConnScaleDevices).
const (
	envConnScaleAddr    = "IOTLAB_CONNSCALE_ADDR"
	envConnScaleDevices = "IOTLAB_CONNSCALE_DEVICES"
	envConnScaleWorkers = "IOTLAB_CONNSCALE_WORKERS"
	envConnScaleRoot    = "IOTLAB_CONNSCALE_ROOT"
)

// connScaleDevice is one line of the devices file the child reads.
type connScaleDevice struct {
	ID, Cert, Key string
}

func BenchmarkIdleConnections(b *testing.B) {
	n := *connScaleN
	if lim := openFileLimit(); lim < uint64(n)+200 {
		b.Skipf("%d connections need an open-file limit above %d; it is %d", n, n+200, lim)
	}
	if *connScaleProfile != "" {
		runtime.MemProfileRate = 4096
	}
	e := newEnv(b, func(o *Options) {
		o.Limits = NoQuotas()
		o.LogDir = ""
	})
	e.stopRecording()
	e.Dir.setLogging(awslog.Config{})
	e.Srv.LoggingChanged()
	e.Dir.setPolicy(b, loadtest.PolicyName, loadtest.PolicyDocument(testAccount, testRegion))
	devs := filepath.Join(b.TempDir(), "devices.jsonl")
	writeConnScaleDevices(b, e, devs, n)

	var iot, moc connScaleResult
	b.Run("iotlab", func(b *testing.B) {
		for range b.N {
			iot = measureIdleConnections(b, e.addr(), devs, n, *connScaleProfile)
		}
	})
	b.Run("mochi", func(b *testing.B) {
		addr := startRawMochi(b, e.Opts.TLSConfig)
		for range b.N {
			moc = measureIdleConnections(b, addr, devs, n, "")
		}
		if iot.n > 0 {
			// mochi's heap includes the 64 KiB outbound channel of every client (8,192 pending writes),
			// allocated at connect and never touched by an idle one: heap, not RSS.
			b.Logf("iotlab vs raw mochi: heap + stacks %.1f KB vs %.1f KB per idle connection (ratio %.2f), connects/s %.0f vs %.0f (ratio %.2f)",
				iot.live()/1024, moc.live()/1024, iot.live()/moc.live(), iot.rate, moc.rate, iot.rate/moc.rate)
		}
	})
}

// writeConnScaleDevices issues n registered device certificates with the bench policy attached.
func writeConnScaleDevices(b *testing.B, e *env, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range n {
		id := fmt.Sprintf("%sd%05d", loadtest.ClientPrefix, i)
		d := e.device(id, loadtest.PolicyName)
		if err := enc.Encode(connScaleDevice{ID: id, Cert: d.CertPEM, Key: d.KeyPEM}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// connScaleSample is this process's memory at one moment.
type connScaleSample struct {
	heap, objects, stack, goroutines, rss uint64
	cpu                                   time.Duration
}

func sampleConnScale(gcs int) connScaleSample {
	for range gcs {
		runtime.GC() // each collection halves a goroutine stack at most: take several
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return connScaleSample{heap: m.HeapInuse, objects: m.HeapObjects, stack: m.StackInuse,
		goroutines: uint64(runtime.NumGoroutine()), rss: selfRSS(), cpu: selfCPU()}
}

// connScaleResult is one measurement, per connection.
type connScaleResult struct {
	n                    int
	rate, cpuMicros      float64
	heap, objects        float64
	stack, stackBeforeGC float64
	goroutines, rss      float64
}

// live is the heap and stack memory of one idle connection.
func (r connScaleResult) live() float64 { return r.heap + r.stack }

// measureIdleConnections connects n devices to addr from a child process and reports the broker's
// memory per idle connection and the connect rate.
func measureIdleConnections(b *testing.B, addr, devs string, n int, profile string) connScaleResult {
	b.Helper()
	ca, _, _ := testPKI(b)
	root := ca.RootPath()
	before := sampleConnScale(3)
	cmd := exec.Command(os.Args[0], "-test.run=^TestConnScaleDevices$", "-test.v=false")
	cmd.Env = append(os.Environ(), envConnScaleAddr+"="+addr, envConnScaleDevices+"="+devs,
		envConnScaleWorkers+"="+strconv.Itoa(*connScaleWorkers), envConnScaleRoot+"="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the devices disconnect and the child exits
		if err := cmd.Wait(); err != nil {
			b.Errorf("device process: %v", err)
		}
	}()
	// The child prints "connected <n> <seconds>" once every device has its SUBACK.
	var line string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line = sc.Text(); strings.HasPrefix(line, "connected ") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	var got int
	var secs float64
	if _, err := fmt.Sscanf(line, "connected %d %g", &got, &secs); err != nil || got != n {
		b.Fatalf("device process: %q (%v)", line, err)
	}
	cpu := selfCPU() - before.cpu
	time.Sleep(500 * time.Millisecond) // the last SUBACKs' lifecycle work
	raw := sampleConnScale(0)
	after := sampleConnScale(5)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	per := func(a, z uint64) float64 { return (float64(z) - float64(a)) / float64(n) }
	r := connScaleResult{n: n, rate: float64(n) / secs, cpuMicros: cpu.Seconds() * 1e6 / float64(n),
		heap: per(before.heap, after.heap), objects: per(before.objects, after.objects),
		stack: per(before.stack, after.stack), stackBeforeGC: per(before.stack, raw.stack),
		goroutines: per(before.goroutines, after.goroutines), rss: per(before.rss, raw.rss)}
	b.ReportMetric(r.rate, "conns/s")
	b.ReportMetric(r.cpuMicros, "µs-cpu/conn")
	b.ReportMetric(r.heap, "heap-B/conn")
	b.ReportMetric(r.objects, "objs/conn")
	b.ReportMetric(r.stack, "stack-B/conn")
	b.ReportMetric(r.goroutines, "goroutines/conn")
	b.ReportMetric(r.rss, "rss-B/conn")
	b.Logf("%d connections in %.2f s (%.0f/s), broker CPU %.0f µs per connect; per idle connection: heap %.0f B (%.1f objects), stacks %.0f B (%.0f B before GC), %.1f goroutines, RSS %.0f B",
		n, secs, r.rate, r.cpuMicros, r.heap, r.objects, r.stack, r.stackBeforeGC, r.goroutines, r.rss)
	return r
}

// TestConnScaleDevices is the device side of BenchmarkIdleConnections, run in a child process; it is
// skipped otherwise.
func TestConnScaleDevices(t *testing.T) {
	addr := os.Getenv(envConnScaleAddr)
	if addr == "" {
		t.Skip("the device process of BenchmarkIdleConnections")
	}
	workers, _ := strconv.Atoi(os.Getenv(envConnScaleWorkers))
	f, err := os.Open(os.Getenv(envConnScaleDevices))
	if err != nil {
		t.Fatal(err)
	}
	var devs []loadtest.Device
	dec := json.NewDecoder(f)
	for {
		var d connScaleDevice
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair([]byte(d.Cert), []byte(d.Key))
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, loadtest.Device{ClientID: d.ID, Cert: pair})
	}
	f.Close()
	roots := x509.NewCertPool()
	if pem, err := os.ReadFile(os.Getenv(envConnScaleRoot)); err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("root CA: %v", err)
	}
	clients := make([]*loadtest.Client, len(devs))
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(devs) {
					return
				}
				dl := loadtest.Dialer{TLS: devs[i].TLS(roots), ReadBuffer: 512, WriteBuffer: 512}
				c, err := dl.Dial(context.Background(), addr, devs[i].ClientID, true)
				if err == nil {
					if err = c.Subscribe("bench/"+devs[i].ClientID+"/cmd", 1, 10*time.Second); err != nil {
						c.Abort()
					}
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		t.Fatal(*p)
	}
	fmt.Printf("connected %d %.3f\n", len(devs), time.Since(start).Seconds())
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range clients {
		_ = c.Abort()
	}
}

func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}

// selfRSS is this process's resident set (Linux; 0 elsewhere).
func selfRSS() uint64 {
	bs, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(bs), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
