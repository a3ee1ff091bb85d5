package store

import (
	"errors"
	"sync"
)

// ErrInjected is the default error a Faulty store returns.
var ErrInjected = errors.New("store: injected fault")

// Faulty wraps a Store and fails writes on demand, for tests of disk-full and I/O-error handling.
type Faulty struct {
	Store
	mu  sync.Mutex // guards err
	err error
}

// FailWrites makes every later Apply fail with err (nil restores normal writes).
func (f *Faulty) FailWrites(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *Faulty) Apply(ops ...Op) error {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Store.Apply(ops...)
}
