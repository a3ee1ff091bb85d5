package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process the bench started: a broker under test.
type Proc struct {
	Name string
	Addr string // its MQTT (mTLS) address
	cmd  *exec.Cmd
	log  *os.File // its stderr (and stdout after "ready")
	// exited is closed when the process has been waited for.
	exited chan struct{}
	// Started is when it was started; Ready when it said so (or accepted connections).
	Started, Ready time.Time
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// start runs cmd with its stderr going to logPath, tied to the bench's life where the system allows
// (childAttr), and returns its stdout.
func start(name string, cmd *exec.Cmd, logPath string) (*Proc, io.Reader, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loadtest: %s: %w", name, err)
	}
	cmd.Stderr = f
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("loadtest: %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, log: f, exited: make(chan struct{}), Started: time.Now()}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("loadtest: start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, out, nil
}

// waitLine reads stdout until a line for which match returns true, then copies the rest to the log.
func (p *Proc) waitLine(ctx context.Context, out io.Reader, timeout time.Duration, match func(string) bool) ([]string, error) {
	type res struct {
		lines []string
		err   error
	}
	ch := make(chan res, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if match(sc.Text()) {
				ch <- res{lines: lines}
				_, _ = io.Copy(p.log, out)
				return
			}
		}
		ch <- res{lines, fmt.Errorf("loadtest: %s exited before it was ready (see %s)", p.Name, p.log.Name())}
	}()
	select {
	case r := <-ch:
		if r.err == nil {
			p.Ready = time.Now()
		}
		return r.lines, r.err
	case <-time.After(timeout):
		return nil, fmt.Errorf("loadtest: %s not ready after %s (see %s)", p.Name, timeout, p.log.Name())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Stop asks the process to end (SIGTERM) and kills it after timeout.
func (p *Proc) Stop(timeout time.Duration) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("loadtest: %s did not stop within %s; killed", p.Name, timeout)
	}
}

// RSS is the process's resident set size in bytes (VmRSS).
func (p *Proc) RSS() (int64, error) {
	return procStatusKB(p.PID(), "VmRSS")
}

func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadtest: /proc/%d/status %s: %w", pid, field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("loadtest: /proc/%d/status has no %s", pid, field)
}

// CPUTime is the CPU time (user + system) the process has used so far, from /proc/<pid>/stat, in
// clock ticks of 10 ms. The CPU a broker spends per message or per connection depends much less on
// what else runs on the machine than a rate does.
func (p *Proc) CPUTime() (time.Duration, error) { return cpuTime(strconv.Itoa(p.PID())) }

// selfCPUTime is the bench's own CPU time: the load generator's side.
func selfCPUTime() (time.Duration, error) { return cpuTime("self") }

func cpuTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	return parseStatCPU(string(b))
}

// userHZ is the unit of /proc/<pid>/stat times: USER_HZ is 100 on every Linux architecture Go runs on.
const userHZ = 100

// parseStatCPU reads utime + stime (fields 14 and 15) of a /proc/<pid>/stat line. The command name
// (field 2) is in parentheses and may hold spaces, so fields are counted after its closing one.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("loadtest: malformed /proc/<pid>/stat")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("loadtest: short /proc/<pid>/stat")
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadtest: /proc/<pid>/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// OpenFileLimit is the process's soft RLIMIT_NOFILE, read from /proc/<pid>/limits.
func (p *Proc) OpenFileLimit() (uint64, error) {
	return openFileLimit(p.PID())
}

func openFileLimit(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	return parseOpenFileLimit(string(b))
}

// parseOpenFileLimit reads the soft "Max open files" of a /proc/<pid>/limits text.
func parseOpenFileLimit(limits string) (uint64, error) {
	for _, line := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			if f[0] == "unlimited" {
				return 1<<63 - 1, nil
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, errors.New(`loadtest: no "Max open files" line in /proc/<pid>/limits`)
}

// RaiseOpenFileLimit sets this process's soft RLIMIT_NOFILE to its hard limit and returns it. The
// explicit Setrlimit matters: Go raises the soft limit of its own process at start-up but gives child
// processes the original one back, unless the program sets the limit itself.
func RaiseOpenFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadtest: getrlimit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadtest: setrlimit: %w", err)
	}
	return lim.Cur, nil
}

// Health is what iotlab's /_iotlab/health answers (the fields the bench uses).
type Health struct {
	API      string `json:"api"`
	MQTT     string `json:"mqtt"`
	StateDir string `json:"stateDir"`
	RootCA   string `json:"rootCA"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	PID      int    `json:"pid"`
}

// MQTTAddr is host:port of the mTLS listener.
func (h Health) MQTTAddr() string { return strings.TrimPrefix(h.MQTT, "mqtts://") }

// StartIotlab runs `exe up <args>`, waits for "ready" on its stdout and asks /_iotlab/health for its
// addresses and state dir.
func StartIotlab(ctx context.Context, exe, logPath string, timeout time.Duration, args ...string) (*Proc, Health, error) {
	cmd := exec.Command(exe, append([]string{"up"}, args...)...)
	cmd.Env = iotlabEnv()
	p, out, err := start("iotlab", cmd, logPath)
	if err != nil {
		return nil, Health{}, err
	}
	lines, err := p.waitLine(ctx, out, timeout, func(l string) bool { return l == "ready" })
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, Health{}, err
	}
	api := bannerAPI(lines)
	if api == "" {
		_ = p.Stop(5 * time.Second)
		return nil, Health{}, fmt.Errorf("loadtest: iotlab's banner names no AWS API address: %q", lines)
	}
	h, err := fetchHealth(ctx, api)
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, Health{}, err
	}
	p.Addr = h.MQTTAddr()
	return p, h, nil
}

// iotlabEnv is the environment without IOTLAB_* variables, so that a user's settings (a state dir,
// a log level) cannot change what is measured.
func iotlabEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IOTLAB_") {
			env = append(env, kv)
		}
	}
	return env
}

// bannerAPI finds the API URL in `iotlab up`'s banner ("  AWS API       http://127.0.0.1:PORT ...").
func bannerAPI(lines []string) string {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "AWS API"); ok {
			if f := strings.Fields(rest); len(f) > 0 && strings.HasPrefix(f[0], "http://") {
				return f[0]
			}
		}
	}
	return ""
}

func fetchHealth(ctx context.Context, api string) (Health, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/_iotlab/health", nil)
	if err != nil {
		return Health{}, fmt.Errorf("loadtest: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Health{}, fmt.Errorf("loadtest: health: %w", err)
	}
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return Health{}, fmt.Errorf("loadtest: health: %w", err)
	}
	if h.API == "" || h.MQTT == "" || h.StateDir == "" {
		return Health{}, fmt.Errorf("loadtest: health answer lacks api, mqtt or stateDir: %+v", h)
	}
	return h, nil
}

// StartRawMochi runs baseline (a) as `exe bench baseline-mochi …` and waits for its "ready ADDR".
func StartRawMochi(ctx context.Context, exe, logPath string, o RawMochi) (*Proc, error) {
	args := []string{"bench", "baseline-mochi", "--cert", o.CertFile, "--key", o.KeyFile}
	if o.Addr != "" {
		args = append(args, "--addr", o.Addr)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"writes-pending", o.WritesPending}, {"max-inflight", int(o.MaxInflight)}, {"write-buffer", o.WriteBuffer}, {"read-buffer", o.ReadBuffer}} {
		if f.v > 0 {
			args = append(args, "--"+f.name, strconv.Itoa(f.v))
		}
	}
	p, out, err := start("raw mochi", exec.Command(exe, args...), logPath)
	if err != nil {
		return nil, err
	}
	var addr string
	_, err = p.waitLine(ctx, out, 15*time.Second, func(l string) bool {
		a, ok := strings.CutPrefix(l, "ready ")
		addr = a
		return ok
	})
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	p.Addr = addr
	return p, nil
}

// StartMosquitto writes the configuration of baseline (b) into dir and runs mosquitto on it, then
// waits until the port accepts connections.
func StartMosquitto(ctx context.Context, bin, dir string, m MosquittoConfig) (*Proc, error) {
	conf, err := m.Write(dir)
	if err != nil {
		return nil, err
	}
	p, out, err := start("mosquitto", exec.Command(bin, "-c", conf), filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			p.Ready = time.Now()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("loadtest: mosquitto exited at start (see %s)", filepath.Join(dir, "mosquitto.log"))
		case <-ctx.Done():
			_ = p.Stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Stop(5 * time.Second)
			return nil, fmt.Errorf("loadtest: mosquitto does not accept on %s (see %s)", p.Addr, filepath.Join(dir, "mosquitto.log"))
		}
	}
}

// FreePort asks the kernel for a free loopback port. Another process could take it before mosquitto
// binds it; the bench then fails to start mosquitto and says so.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
