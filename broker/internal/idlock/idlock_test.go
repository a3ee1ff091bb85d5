package idlock

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

func newTable(t *testing.T) *Table[int] {
	t.Helper()
	return New[int](slog.New(slog.NewTextHandler(io.Discard, nil)), "test: gave up")
}

// lockAsync takes id for owner on another goroutine; the channel closes once it holds it.
func lockAsync(tab *Table[int], owner int, id string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		tab.Lock(owner, id)
		close(done)
	}()
	return done
}

func TestLockWaitsForOtherOwner(t *testing.T) {
	tab := newTable(t)
	tab.Lock(1, "dev")
	got := lockAsync(tab, 2, "dev")
	select {
	case <-got:
		t.Fatal("owner 2 took dev while owner 1 held it")
	case <-time.After(50 * time.Millisecond):
	}
	tab.Unlock(1)
	select {
	case <-got:
	case <-time.After(Wait / 2):
		t.Fatal("owner 2 did not get dev after owner 1 released it")
	}
}

func TestLockOtherIDsAndOwners(t *testing.T) {
	tests := []struct {
		name string
		run  func(tab *Table[int]) <-chan struct{} // after owner 1 took "dev"
	}{
		{"same owner, same ID is a no-op", func(tab *Table[int]) <-chan struct{} { return lockAsync(tab, 1, "dev") }},
		{"another ID is free", func(tab *Table[int]) <-chan struct{} { return lockAsync(tab, 2, "other") }},
		{"an owner taking another ID releases its first", func(tab *Table[int]) <-chan struct{} {
			tab.Lock(1, "other")
			return lockAsync(tab, 2, "dev")
		}},
		{"unlocking a non-holder changes nothing", func(tab *Table[int]) <-chan struct{} {
			tab.Unlock(3)
			tab.Unlock(1)
			return lockAsync(tab, 2, "dev")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			tab.Lock(1, "dev")
			select {
			case <-tc.run(tab):
			case <-time.After(Wait / 2):
				t.Fatal("Lock waited")
			}
		})
	}
}
