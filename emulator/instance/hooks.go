package instance

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/emulator/store"
)

// storeHooks let this package's tests put a fault-injecting layer between the instance and its two
// state files: a full disk or an I/O error cannot be had on demand otherwise (a tmpfs needs root).
// Config.hooks is unexported, so no command line or embedder can set it; nil leaves everything as is.
type storeHooks struct {
	// WrapState wraps the control plane's store (state.db), which the registry and the Device Shadow
	// service write, typically in a *store.Faulty.
	WrapState func(store.Store) store.Store
	// WrapBroker wraps the broker's store (broker.db).
	WrapBroker func(broker.Store) broker.Store
}

// wrapState returns st, or what the hook makes of it.
func (h *storeHooks) wrapState(st store.Store) store.Store {
	if h == nil || h.WrapState == nil {
		return st
	}
	return h.WrapState(st)
}

// brokerStore opens the broker's store itself when a hook wraps it; otherwise it returns nil and the
// broker opens the file at Options.StorePath.
func (h *storeHooks) brokerStore(path string) (broker.Store, error) {
	if h == nil || h.WrapBroker == nil {
		return nil, nil
	}
	st, err := broker.OpenStore(path)
	if err != nil {
		return nil, err
	}
	return h.WrapBroker(st), nil
}

// procStats are the process's goroutines and resident set size (VmRSS; 0 where /proc is missing),
// for /_iotlab/health: cheap enough to read on every request, and what a leak check samples.
func procStats() (goroutines int, rssBytes int64) {
	goroutines = runtime.NumGoroutine()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return goroutines, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return goroutines, kb << 10
				}
			}
		}
	}
	return goroutines, 0
}
