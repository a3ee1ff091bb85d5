package store

import (
	"errors"
	"fmt"
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

// BenchmarkApply is the cost of one durable (fsynced) commit of a registry-sized record.
func BenchmarkApply(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 400)
	i := 0
	for b.Loop() {
		i++
		if err := s.Apply(Op{Key: "reg/123456789012/eu-west-1/thing/t" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)), Value: val}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan100k is the cost of loading 100,000 records at start-up.
func BenchmarkScan100k(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 400)
	var ops []Op
	for i := range 100_000 {
		ops = append(ops, Op{Key: fmt.Sprintf("reg/a/r/thing/t%06d", i), Value: val})
	}
	if err := s.Apply(ops...); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		s.Scan("reg/", func(string, []byte) error { n++; return nil })
		if n != 100_000 {
			b.Fatalf("scanned %d", n)
		}
	}
}
