package registry

import (
	"errors"
	"testing"

	"github.com/iotlab/iotlab/emulator/awserr"
)

// The logging configuration survives a restart, and a failed write changes nothing.
func TestV2LoggingPersists(t *testing.T) {
	f := newRegFixture(t)
	if err := f.reg.SetV2LoggingOptions(f.sc, LoggingOptions{DefaultLogLevel: "WARN", DisableAllLogs: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.SetV2LoggingLevel(f.sc, LogLevelTarget{TargetType: "CLIENT_ID", TargetName: "a/b:c", LogLevel: "DEBUG"}); err != nil {
		t.Fatal(err)
	}
	f.store.FailWrites(errors.New("disk full"))
	if err := f.reg.SetV2LoggingLevel(f.sc, LogLevelTarget{TargetType: "SOURCE_IP", TargetName: "10.0.0.1", LogLevel: "INFO"}); !awserr.HasCode(err, awserr.InternalFailure) {
		t.Errorf("failed write: %v, want InternalFailureException", err)
	}
	f.store.FailWrites(nil)

	r := f.open(t)
	o, err := r.GetV2LoggingOptions(f.sc)
	if err != nil || o.DefaultLogLevel != "WARN" || !o.DisableAllLogs {
		t.Errorf("options after restart: %+v %v", o, err)
	}
	lv := r.V2LoggingLevels(f.sc)
	if len(lv) != 1 || lv[0] != (LogLevelTarget{TargetType: "CLIENT_ID", TargetName: "a/b:c", LogLevel: "DEBUG"}) {
		t.Errorf("levels after restart: %+v", lv)
	}
	if _, err := r.GetV2LoggingOptions(Scope{Account: "111111111111", Region: "eu-west-1"}); !awserr.HasCode(err, awserr.NotConfigured) {
		t.Errorf("another account: %v, want NotConfiguredException", err)
	}
}
