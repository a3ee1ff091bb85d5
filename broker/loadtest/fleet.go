package loadtest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// startFleet starts, once, iotlab on a state dir of its own with the bench policy and the throughput
// devices, then the two baselines with iotlab's server certificate.
func (b *bench) startFleet(ctx context.Context) error {
	if b.iot != nil {
		return nil
	}
	b.fleetDir = filepath.Join(b.dir, "fleet-state")
	if err := os.RemoveAll(b.fleetDir); err != nil { // a kept --dir from an earlier run
		return fmt.Errorf("loadtest: %w", err)
	}
	p, h, err := b.startIotlab(ctx, b.fleetDir, "iotlab-fleet.log", 30*time.Second)
	if err != nil {
		return err
	}
	b.iot, b.health = p, h
	if b.roots, err = rootPool(h.RootCA); err != nil {
		return err
	}
	c := NewIoTClient(h, 8)
	if err := CreatePolicy(ctx, c, h); err != nil {
		return err
	}
	if b.devices, err = ProvisionDevices(ctx, c, ClientPrefix+"t", 22, 4); err != nil {
		return err
	}
	return b.startBaselines(ctx)
}

// startBaselines starts raw mochi and mosquitto with the fleet's server certificate.
func (b *bench) startBaselines(ctx context.Context) error {
	files, err := b.baselineFiles()
	if err != nil {
		return err
	}
	if b.mochi, err = StartRawMochi(ctx, b.cfg.Exe, filepath.Join(b.dir, "mochi.log"), RawMochi{CertFile: files.cert, KeyFile: files.key}); err != nil {
		return err
	}
	if b.cfg.MochiTuned.Tuned() {
		mo := b.cfg.MochiTuned
		mo.CertFile, mo.KeyFile = files.cert, files.key
		if b.tuned, err = StartRawMochi(ctx, b.cfg.Exe, filepath.Join(b.dir, "mochi-tuned.log"), mo); err != nil {
			return err
		}
		b.tuned.Name = TargetMochiTuned
	}
	if b.mosqBin != "" {
		port, err := FreePort()
		if err != nil {
			return err
		}
		m := MosquittoConfig{Port: port, CAFile: files.ca, CertFile: files.cert, KeyFile: files.key}
		if b.mosq, err = StartMosquitto(ctx, b.mosqBin, files.dir, m); err != nil {
			return err
		}
	}
	return nil
}

type certFiles struct{ dir, ca, cert, key string }

// baselineFiles copies iotlab's server certificate and key, and its root and device CA (what client
// certificates chain to, for Mosquitto), out of the fleet's state dir.
func (b *bench) baselineFiles() (certFiles, error) {
	dir := filepath.Join(b.dir, "baseline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return certFiles{}, fmt.Errorf("loadtest: %w", err)
	}
	f := certFiles{dir: dir, ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key")}
	var errs []error
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(b.fleetDir, name))
		errs = append(errs, err)
		return data
	}
	ca := append(read("root-ca.pem"), read("device-ca.pem")...)
	cert, key := read("server.pem"), read("server.key")
	if err := errors.Join(errs...); err != nil {
		return certFiles{}, fmt.Errorf("loadtest: iotlab's certificates: %w", err)
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.ca, ca}, {f.cert, cert}, {f.key, key}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return certFiles{}, fmt.Errorf("loadtest: %w", err)
		}
	}
	return f, nil
}

func (b *bench) stopFleet() {
	for _, p := range []*Proc{b.iot, b.mochi, b.tuned, b.mosq} {
		if err := p.Stop(10 * time.Second); err != nil {
			b.rep.Note("%v", err)
		}
	}
	b.iot, b.mochi, b.tuned, b.mosq = nil, nil, nil, nil
}

// targets are the fleet's brokers, in a rotating order so that no broker always runs first.
func (b *bench) targets(round int) []*Proc {
	ts := []*Proc{b.iot, b.mochi}
	for _, p := range []*Proc{b.tuned, b.mosq} {
		if p != nil {
			ts = append(ts, p)
		}
	}
	k := round % len(ts)
	return append(ts[k:], ts[:k]...)
}

func targetName(p *Proc) string {
	switch p.Name {
	case "iotlab":
		return TargetIotlab
	case "raw mochi":
		return TargetMochi
	case TargetMochiTuned:
		return TargetMochiTuned
	}
	return TargetMosquitto
}

func (b *bench) dialer(small bool) func(Device) Dialer {
	return func(d Device) Dialer {
		dl := Dialer{TLS: d.TLS(b.roots)}
		if small {
			dl.ReadBuffer, dl.WriteBuffer = 512, 512
		}
		return dl
	}
}

func rootPool(path string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loadtest: root CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("loadtest: no certificate in %s", path)
	}
	return pool, nil
}

func findMosquitto(path string) string {
	if path != "" {
		return path
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return ""
}
