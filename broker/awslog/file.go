package awslog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// FileName is the log file inside the log directory, named after AWS's log group.
const FileName = "AWSIotLogsV2.log"

// defaultMaxBytes: past this size the file is renamed to FileName+".1" (replacing an older one) and a
// new file is started, so a forgotten DEBUG level cannot fill the disk.
const defaultMaxBytes = 64 << 20

// File appends entries to <dir>/AWSIotLogsV2.log, one JSON object per line. It is safe for concurrent
// use; each entry is written with one write call, so lines never interleave.
type File struct {
	path     string
	maxBytes int64

	mu   sync.Mutex // guards f, size and buf
	f    *os.File
	size int64
	buf  []byte
}

// OpenFile creates dir if needed and opens the log file for appending.
func OpenFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("awslog: no log directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("awslog: creating the log directory: %w", err)
	}
	lf := &File{path: filepath.Join(dir, FileName), maxBytes: defaultMaxBytes}
	if err := lf.open(); err != nil {
		return nil, err
	}
	return lf, nil
}

func (lf *File) open() error {
	f, err := os.OpenFile(lf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("awslog: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("awslog: %w", err)
	}
	lf.f, lf.size = f, st.Size()
	return nil
}

// Path is the file's path.
func (lf *File) Path() string { return lf.path }

// Write appends one entry and a newline.
func (lf *File) Write(e *Entry) error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return errors.New("awslog: file closed")
	}
	lf.buf = append(e.AppendJSON(lf.buf[:0]), '\n')
	if lf.size+int64(len(lf.buf)) > lf.maxBytes && lf.size > 0 {
		if err := lf.rotate(); err != nil {
			return err
		}
	}
	n, err := lf.f.Write(lf.buf)
	lf.size += int64(n)
	if err != nil {
		return fmt.Errorf("awslog: %w", err)
	}
	return nil
}

func (lf *File) rotate() error {
	if err := lf.f.Close(); err != nil {
		return fmt.Errorf("awslog: %w", err)
	}
	lf.f = nil
	if err := os.Rename(lf.path, lf.path+".1"); err != nil {
		return fmt.Errorf("awslog: rotating: %w", err)
	}
	return lf.open()
}

// Close closes the file; later writes fail.
func (lf *File) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	return err
}
