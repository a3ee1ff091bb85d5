package shadowsvc

import (
	"fmt"
	"testing"
)

// BenchmarkUpdate is one accepted update of a small shadow: validation, merge, one durable store
// commit (the fsync dominates) and three published messages.
func BenchmarkUpdate(b *testing.B) {
	e := newEnv(b)
	for i := 0; b.Loop(); i++ {
		if _, err := e.svc.Update(testScope, lamp, fmt.Appendf(nil, `{"state":{"reported":{"n":%d},"desired":{"n":0}}}`, i)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 0 {
			e.pub.reset()
		}
	}
}

// BenchmarkGet is a read: no lock contention, no store access.
func BenchmarkGet(b *testing.B) {
	e := newEnv(b)
	if _, err := e.svc.Update(testScope, lamp, []byte(`{"state":{"reported":{"a":1,"b":[1,2,3],"c":{"d":"e"}}}}`)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.svc.Get(testScope, lamp, nil); err != nil {
			b.Fatal(err)
		}
	}
}
