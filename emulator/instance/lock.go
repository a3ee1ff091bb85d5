package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrInUse says another iotlab holds the state dir.
var ErrInUse = errors.New("state dir is in use")

// stateLock is an exclusive flock on <state-dir>/iotlab.lock; the kernel drops it if the process dies,
// so a kill -9 never leaves a stale lock behind.
type stateLock struct{ f *os.File }

func lockStateDir(dir string) (*stateLock, error) {
	path := filepath.Join(dir, "iotlab.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		pid := strings.TrimSpace(string(b))
		if pid != "" {
			return nil, fmt.Errorf("instance: %s: %w by process %s", dir, ErrInUse, pid)
		}
		return nil, fmt.Errorf("instance: %s: %w", dir, ErrInUse)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &stateLock{f: f}, nil
}

func (l *stateLock) release() {
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

// Reset empties a state dir. It refuses one in use, and a folder that is not an iotlab state dir.
func Reset(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("instance: reset: %w", err)
	}
	if len(entries) > 0 && !isStateDir(dir) {
		return fmt.Errorf("instance: reset: %s does not look like an iotlab state dir; not touching it", dir)
	}
	l, err := lockStateDir(dir)
	if err != nil {
		return err
	}
	defer l.release()
	for _, e := range entries {
		if e.Name() == "iotlab.lock" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("instance: reset: %w", err)
		}
	}
	return nil
}

func isStateDir(dir string) bool {
	for _, name := range []string{"iotlab.lock", stateFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}
