package instance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/broker/lab"
	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/awsapi"
	"github.com/iotlab/iotlab/emulator/registry"
	"github.com/iotlab/iotlab/emulator/rules"
	"github.com/iotlab/iotlab/emulator/shadowsvc"
	"github.com/iotlab/iotlab/emulator/store"
)

// stateFile is the control plane's database inside the state dir.
const stateFile = "state.db"

// Instance is one running iotlab.
type Instance struct {
	cfg      Config
	log      *slog.Logger
	lock     *stateLock
	store    *store.Bolt
	state    store.Store // what the registry and the shadows write: store, or a test's wrapper (hooks.go)
	Registry *registry.Registry
	API      *awsapi.Server
	CA       *certs.CA

	apiLn   net.Listener
	apiSrv  *http.Server
	httpsLn net.Listener // the device HTTPS endpoint (https.go); nil when off
	lab     *lab.Server

	creds     []Credential // --require-auth: the API's access keys, read from credsPath
	credsPath string

	// Broker is the mTLS MQTT broker with AWS IoT Core semantics.
	Broker  *broker.Server
	Shadows *shadowsvc.Service
	Rules   *rules.Engine

	closeOnce sync.Once
	wg        sync.WaitGroup // guards nothing; counts serving goroutines
	closers   []func() error // run in reverse order by Close
}

// Start opens the state dir and starts every listener. When it returns, each one accepts connections.
func Start(cfg Config, logOut io.Writer) (inst *Instance, err error) {
	cfg = cfg.WithDefaults()
	if cfg.Credentials != "" && !cfg.RequireAuth {
		return nil, errors.New("instance: --credentials is used only with --require-auth")
	}
	if logOut == nil {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: parseLevel(cfg.LogLevel)}))
	i := &Instance{log: log}
	defer func() {
		if err != nil {
			i.Close()
		}
	}()
	if cfg.Ephemeral {
		dir, err := os.MkdirTemp("", "iotlab-ephemeral-")
		if err != nil {
			return nil, fmt.Errorf("instance: %w", err)
		}
		cfg.StateDir = dir
		i.closers = append(i.closers, func() error { return os.RemoveAll(dir) })
	}
	if cfg.StateDir == "" {
		if cfg.StateDir, err = DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	if len(cfg.FunctionSpecs) > 0 {
		fns, err := ParseFunctions(cfg.FunctionSpecs)
		if err != nil {
			return nil, err
		}
		if cfg.Functions == nil {
			cfg.Functions = map[string]rules.Function{}
		}
		for k, v := range fns {
			cfg.Functions[k] = v
		}
	}
	// Absolute, so the banner's paths (root-ca.pem) work from any directory.
	if abs, err := filepath.Abs(cfg.StateDir); err == nil {
		cfg.StateDir = abs
	}
	i.cfg = cfg
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("instance: state dir: %w", err)
	}
	if i.lock, err = lockStateDir(cfg.StateDir); err != nil {
		return nil, err
	}
	i.closers = append(i.closers, func() error { i.lock.release(); return nil })

	if i.store, err = store.Open(filepath.Join(cfg.StateDir, stateFile)); err != nil {
		return nil, fmt.Errorf("instance: %w (move it away or run `iotlab reset`)", err)
	}
	i.closers = append(i.closers, i.store.Close)
	i.state = cfg.hooks.wrapState(i.store)
	if i.Registry, err = registry.Open(registry.Options{Store: i.state}); err != nil {
		return nil, err
	}

	if i.CA, err = certs.LoadOrCreate(cfg.StateDir, certs.Options{Hosts: []string{cfg.EndpointHost}}); err != nil {
		return nil, err
	}

	// The API's address is known before the backend starts: local functions are told it.
	if i.apiLn, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return nil, fmt.Errorf("instance: api listener: %w", err)
	}
	i.closers = append(i.closers, func() error { i.apiLn.Close(); return nil })
	if err := i.startBroker(); err != nil {
		return nil, err
	}
	if err := i.startBackend(); err != nil {
		return nil, err
	}

	if cfg.RequireAuth {
		if i.credsPath, i.creds, err = loadCredentials(cfg.Credentials, cfg.StateDir, rand.Reader); err != nil {
			return nil, err
		}
	}
	i.API = awsapi.New(awsapi.Config{
		Account:      cfg.Account,
		Region:       cfg.Region,
		EndpointHost: cfg.EndpointHost,
		Registry:     i.Registry,
		CA:           i.CA,
		DataPlane:    dataPlane{i.Broker},
		Shadows:      i.Shadows,
		Retained:     retained{i.Broker},
		Logger:       log.With("component", "api"),
		Extra:        map[string]http.Handler{"/_iotlab/health": http.HandlerFunc(i.health)},
		RequireAuth:  cfg.RequireAuth,
		Credentials:  credentialMap(i.creds),
		Throttle:     cfg.APIThrottle,
	})
	i.apiSrv = &http.Server{Handler: i.API, ReadHeaderTimeout: 10 * time.Second}
	i.wg.Add(1)
	go func() {
		defer i.wg.Done()
		if err := i.apiSrv.Serve(i.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("api server stopped", "err", err)
		}
	}()
	i.closers = append(i.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := i.apiSrv.Shutdown(ctx); err != nil {
			return i.apiSrv.Close()
		}
		return nil
	})
	if err := i.startDeviceHTTPS(); err != nil {
		return nil, err
	}
	if err := i.startLab(); err != nil {
		return nil, err
	}
	return i, nil
}

// Close stops every listener, waits for their goroutines and flushes state. It is safe to call twice.
func (i *Instance) Close() error {
	var errs []error
	i.closeOnce.Do(func() {
		for k := len(i.closers) - 1; k >= 0; k-- {
			if err := i.closers[k](); err != nil {
				errs = append(errs, err)
			}
		}
		i.wg.Wait()
	})
	return errors.Join(errs...)
}

// Config returns the configuration in force, with real addresses.
func (i *Instance) Config() Config { return i.cfg }

// APIURL is the base URL clients use as AWS_ENDPOINT_URL.
func (i *Instance) APIURL() string { return "http://" + i.apiLn.Addr().String() }

// Health is what GET /_iotlab/health answers.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	StateDir string `json:"stateDir"`
	API      string `json:"api"`
	MQTT     string `json:"mqtt,omitempty"`
	HTTPS    string `json:"https,omitempty"` // the device HTTPS endpoint (AWS's 8443)
	ALPN     string `json:"alpn,omitempty"`  // host:port of the listener playing AWS's 443
	Lab      string `json:"lab,omitempty"`
	RootCA   string `json:"rootCA,omitempty"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	PID      int    `json:"pid"`
	// Goroutines and RSSBytes (VmRSS) are the process's, for leak checks (soak_e2e_test.go samples them).
	Goroutines int   `json:"goroutines"`
	RSSBytes   int64 `json:"rssBytes,omitempty"`
	// APIThrottle says the API throttles as AWS does (--api-throttle).
	APIThrottle bool `json:"apiThrottle,omitempty"`
}

// HealthInfo reports the instance's facts.
func (i *Instance) HealthInfo() Health {
	h := Health{
		Status:   "ok",
		Version:  i.cfg.Version,
		StateDir: i.cfg.StateDir,
		API:      i.APIURL(),
		RootCA:   i.CA.RootPath(),
		Account:  i.cfg.Account,
		Region:   i.cfg.Region,
		PID:      os.Getpid(),

		APIThrottle: i.cfg.APIThrottle,
	}
	h.Goroutines, h.RSSBytes = procStats()
	if i.Broker != nil {
		h.MQTT = "mqtts://" + i.Broker.Addr().String()
	}
	if a := i.HTTPSAddr(); a != "" {
		h.HTTPS = "https://" + a
	}
	h.ALPN = i.ALPNAddr()
	if i.lab != nil {
		h.Lab = "mqtt://" + i.lab.Addr().String()
	}
	return h
}

func (i *Instance) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(i.HealthInfo())
}

// Banner is what `iotlab up` prints before "ready": the endpoints and ready-to-paste exports.
func (i *Instance) Banner() string {
	h := i.HealthInfo()
	var b strings.Builder
	fmt.Fprintf(&b, "iotlab %s — AWS IoT Core on this machine (account %s, region %s)\n", h.Version, h.Account, h.Region)
	fmt.Fprintf(&b, "  state dir     %s\n", h.StateDir)
	if i.cfg.RequireAuth {
		fmt.Fprintf(&b, "  AWS API       %s   (iot, iot-data, sts; SigV4 verified, --require-auth)\n", h.API)
		fmt.Fprintf(&b, "  credentials   %s\n", i.credsPath)
	} else {
		fmt.Fprintf(&b, "  AWS API       %s   (iot, iot-data, sts; any SigV4 credentials)\n", h.API)
	}
	if h.MQTT != "" {
		fmt.Fprintf(&b, "  MQTT (mTLS)   %s   (AWS IoT Core semantics, region %s)\n", h.MQTT, h.Region)
	}
	if h.HTTPS != "" {
		fmt.Fprintf(&b, "  HTTPS (mTLS)  %s   (iot-data for devices, as AWS's port 8443: the IoT policy decides)\n", h.HTTPS)
	}
	if h.ALPN != "" {
		fmt.Fprintf(&b, "  ALPN (443)    %s   (as AWS's port 443: ALPN x-amzn-mqtt-ca is MQTT, x-amzn-http-ca or none HTTPS)\n", h.ALPN)
	}
	if h.RootCA != "" {
		fmt.Fprintf(&b, "  root CA       %s   (use as AmazonRootCA1.pem)\n", h.RootCA)
	}
	if h.Lab != "" {
		fmt.Fprintf(&b, "  lab MQTT      %s   (plain MQTT like Mosquitto, no auth)\n", h.Lab)
	}
	fmt.Fprintf(&b, "\nPoint boto3, the aws CLI and the AWS SDKs at it:\n")
	fmt.Fprintf(&b, "  export AWS_ENDPOINT_URL=%s\n", h.API)
	fmt.Fprintf(&b, "  export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n", h.Region, h.Region)
	key, secret := "iotlab", "iotlab"
	if len(i.creds) > 0 {
		key, secret = i.creds[0].AccessKeyID, i.creds[0].SecretAccessKey
	}
	fmt.Fprintf(&b, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", key, secret)
	return b.String()
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
