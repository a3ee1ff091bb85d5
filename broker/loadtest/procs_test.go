package loadtest

import (
	"testing"
	"time"
)

func TestParseOpenFileLimit(t *testing.T) {
	limits := `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
`
	got, err := parseOpenFileLimit(limits)
	if err != nil || got != 20000 {
		t.Errorf("parseOpenFileLimit = %d, %v; want 20000", got, err)
	}
	if _, err := parseOpenFileLimit("Max cpu time unlimited unlimited seconds\n"); err == nil {
		t.Error("parseOpenFileLimit accepted a text without Max open files")
	}
}

func TestBannerAPI(t *testing.T) {
	banner := []string{
		"iotlab dev — AWS IoT Core on this machine (account 123456789012, region eu-west-1)",
		"  state dir     /tmp/x",
		"  AWS API       http://127.0.0.1:40411   (iot, iot-data, sts; any SigV4 credentials)",
		"  MQTT (mTLS)   mqtts://127.0.0.1:40412   (AWS IoT Core semantics, region eu-west-1)",
		"ready",
	}
	if got, want := bannerAPI(banner), "http://127.0.0.1:40411"; got != want {
		t.Errorf("bannerAPI = %q, want %q", got, want)
	}
	if got := bannerAPI([]string{"ready"}); got != "" {
		t.Errorf("bannerAPI without the line = %q, want \"\"", got)
	}
	if got := (Health{MQTT: "mqtts://127.0.0.1:8883"}).MQTTAddr(); got != "127.0.0.1:8883" {
		t.Errorf("MQTTAddr = %q", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, then utime 150 and stime 25 ticks.
	stat := "4242 (iot lab) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 12 0 100 1000000 500 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil || got != 1750*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 1.75s", got, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("parseStatCPU accepted a short line")
	}
}
