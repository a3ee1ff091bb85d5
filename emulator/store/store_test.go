package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestApplyScan(t *testing.T) {
	s := openTemp(t)
	if err := s.Apply(Op{"a/1", []byte("x")}, Op{"a/2", []byte("y")}, Op{"b/1", []byte("z")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Op{Key: "a/1"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Scan("a/", func(k string, v []byte) error { got = append(got, k+"="+string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := "a/2=y"; len(got) != 1 || got[0] != want {
		t.Fatalf("got %v, want [%s]", got, want)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Op{"k", []byte("v")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	s.Scan("", func(k string, v []byte) error { n++; return nil })
	if n != 1 {
		t.Fatalf("got %d keys after reopen, want 1", n)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("this is not a database, it is a text file that someone put here"), 0o600)
	if _, err := Open(garbage); err == nil {
		t.Fatal("garbage file: got nil error, want a clear error")
	}
	if b, _ := os.ReadFile(garbage); string(b[:4]) != "this" {
		t.Fatal("garbage file was overwritten")
	}
	inUse := filepath.Join(dir, "inuse.db")
	s, err := Open(inUse)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(inUse); err == nil {
		t.Fatal("second open of a file in use: got nil error")
	}
}

func TestFaultyLosesNothing(t *testing.T) {
	f := &Faulty{Store: openTemp(t)}
	if err := f.Apply(Op{"k", []byte("1")}); err != nil {
		t.Fatal(err)
	}
	f.FailWrites(syscall.ENOSPC)
	if err := f.Apply(Op{"k", []byte("2")}, Op{"j", []byte("3")}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	f.FailWrites(nil)
	got := map[string]string{}
	f.Scan("", func(k string, v []byte) error { got[k] = string(v); return nil })
	if len(got) != 1 || got["k"] != "1" {
		t.Fatalf("after failed write got %v, want only k=1", got)
	}
}

func openTemp(t *testing.T) *Bolt {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
