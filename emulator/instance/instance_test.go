package instance

import (
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testConfig(dir string) Config {
	return Config{StateDir: dir, APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", LabAddr: "127.0.0.1:0"}
}

func TestEphemeralStateDirRemovedOnClose(t *testing.T) {
	c := testConfig("")
	c.Ephemeral = true
	inst, err := Start(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := inst.Config().StateDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("ephemeral dir missing while running: %v", err)
	}
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ephemeral dir %s still there after Close (err %v)", dir, err)
	}
}

func TestSecondStartRefused(t *testing.T) {
	dir := t.TempDir()
	a, err := Start(testConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := Start(testConfig(dir), nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("second start: got %v, want ErrInUse", err)
	}
}

// TestCloseUnderTraffic: Close returns (bounded by the test timeout) while clients keep calling the API.
func TestCloseUnderTraffic(t *testing.T) {
	inst, err := Start(testConfig(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	url := inst.APIURL() + "/things"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok atomic.Int64
	client := &http.Client{Timeout: 2 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := client.Get(url); err == nil {
					resp.Body.Close()
					ok.Add(1)
				}
			}
		}()
	}
	for ok.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return under traffic")
	}
	close(stop)
	wg.Wait()
}

func TestCorruptStateIsAnErrorNotAReset(t *testing.T) {
	dir := t.TempDir()
	junk := []byte("not a database, definitely not a database; please keep me")
	if err := os.WriteFile(dir+"/"+stateFile, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(testConfig(dir), nil); err == nil {
		t.Fatal("start on a corrupt state file succeeded")
	}
	b, _ := os.ReadFile(dir + "/" + stateFile)
	if string(b) != string(junk) {
		t.Fatal("corrupt state file was modified")
	}
}

// BenchmarkStartToReady measures start-up on a fresh state dir up to every listener accepting.
func BenchmarkStartToReady(b *testing.B) {
	for b.Loop() {
		inst, err := Start(testConfig(b.TempDir()), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		inst.Close()
		b.StartTimer()
	}
}
