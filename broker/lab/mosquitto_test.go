package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mosquittoClients returns the paths of Debian's mosquitto_pub and mosquitto_sub, or skips the test.
func mosquittoClients(t *testing.T) (pub, sub string) {
	t.Helper()
	pub, err1 := exec.LookPath("mosquitto_pub")
	sub, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients); skipping the CLI interoperability test")
	}
	return pub, sub
}

func hostPort(s *Server) []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.Addr().(*net.TCPAddr).Port)}
}

// mosquittoPub runs mosquitto_pub and returns its combined output.
func mosquittoPub(t *testing.T, bin string, s *Server, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(hostPort(s), args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// mosquittoSub starts mosquitto_sub -v and waits until it prints ready, a retained message the caller has
// published on a topic the subscription covers, so that the subscription is known to be in place. (Its
// stdout is a pipe and block-buffered: only a message flushes it, so the -d "Subscribed" line cannot be
// waited for.) The returned function waits for mosquitto_sub to exit (give it -C and -W) and returns the
// lines it printed after ready.
func mosquittoSub(t *testing.T, bin string, s *Server, ready string, args ...string) (wait func() []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	cmd := exec.CommandContext(ctx, bin, append(append(hostPort(s), "-v"), args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var before []string
	for line := range lines {
		if line == ready {
			return func() []string {
				var msgs []string
				for line := range lines {
					msgs = append(msgs, line)
				}
				if err := cmd.Wait(); err != nil {
					t.Errorf("mosquitto_sub: %v\nstderr: %s", err, stderr.String())
				}
				return msgs
			}
		}
		before = append(before, line)
	}
	t.Fatalf("mosquitto_sub never printed %q; printed %q; stderr: %s", ready, before, stderr.String())
	return nil
}

func TestMosquittoClients(t *testing.T) {
	pub, sub := mosquittoClients(t)
	s := startServer(t, Options{})
	for _, version := range []string{"mqttv5", "mqttv311", "mqttv31"} {
		t.Run(version, func(t *testing.T) {
			base := "cli/" + version
			mosquittoPub(t, pub, s, "-V", version, "-q", "1", "-r", "-t", base+"/retained", "-m", "kept")
			wait := mosquittoSub(t, sub, s, base+"/retained kept",
				"-V", version, "-q", "2", "-t", base+"/#", "-C", "4", "-W", "10")
			for qos := range 3 {
				mosquittoPub(t, pub, s, "-V", version, "-q", strconv.Itoa(qos), "-t", fmt.Sprintf("%s/q%d", base, qos), "-m", fmt.Sprint("payload ", qos))
			}
			got := wait()
			want := []string{base + "/q0 payload 0", base + "/q1 payload 1", base + "/q2 payload 2"}
			if !slices.Equal(got, want) {
				t.Errorf("mosquitto_sub printed\n%q\nwant\n%q", got, want)
			}
			mosquittoPub(t, pub, s, "-V", version, "-q", "1", "-r", "-t", base+"/retained", "-n") // clear it
		})
	}
}

func TestMosquittoClientsWithACL(t *testing.T) {
	pub, sub := mosquittoClients(t)
	s := startServer(t, Options{ACLFile: writeFile(t, "acl", testACL)})
	mosquittoPub(t, pub, s, "-u", "dave", "-r", "-q", "1", "-t", "sensors/ready", "-m", "ready")
	// Anonymous, so it may read sensors/# only.
	wait := mosquittoSub(t, sub, s, "sensors/ready ready", "-V", "mqttv5", "-t", "#", "-C", "2", "-W", "10")
	out := mosquittoPub(t, pub, s, "-V", "mqttv5", "-q", "1", "-t", "sensors/x", "-m", "denied")
	if !strings.Contains(out, "Not authorized") {
		t.Errorf("mosquitto_pub -V mqttv5 to a read-only topic printed %q, want a \"Not authorized\" warning", out)
	}
	if out := mosquittoPub(t, pub, s, "-V", "mqttv311", "-q", "1", "-t", "sensors/x", "-m", "denied"); out != "" {
		t.Errorf("mosquitto_pub -V mqttv311 printed %q, want nothing (MQTT 3.1.1 cannot report the refusal)", out)
	}
	mosquittoPub(t, pub, s, "-V", "mqttv311", "-u", "dave", "-q", "1", "-t", "sensors/x", "-m", "allowed")
	if got := wait(); !slices.Equal(got, []string{"sensors/x allowed"}) {
		t.Errorf("subscriber got %q, want only the allowed message", got)
	}
}
