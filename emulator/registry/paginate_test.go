package registry

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPageOfAgreesWithPaginate: the heap-based pageOf pages exactly as sorting every key and paginating.
func TestPageOfAgreesWithPaginate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 7, 50, 251, 1000} {
		m := map[string]int{}
		for i := range size {
			m[fmt.Sprintf("k%05d", rng.IntN(100_000))] = i
		}
		keep := func(k string, v int) bool { return v%3 != 0 }
		for _, max := range []int{0, 1, 2, 25, 250} {
			p := Page{Max: max, Default: 50, Limit: 250}
			var got, want []string
			for pages := 0; ; pages++ {
				a, na, errA := pageOf(m, keep, p)
				b, nb, errB := paginate(sortedKeys(m, keep), p)
				if errA != nil || errB != nil || na != nb || !slices.Equal(a, b) {
					t.Fatalf("size %d max %d page %d: pageOf %v %q %v, paginate %v %q %v", size, max, pages, a, na, errA, b, nb, errB)
				}
				got, want = append(got, a...), append(want, b...)
				if na == "" {
					break
				}
				p.Token = na
			}
			if !slices.Equal(got, sortedKeys(m, keep)) {
				t.Fatalf("size %d max %d: pages do not cover every key once", size, max)
			}
		}
	}
	if _, _, err := pageOf(map[string]int{"a": 1}, nil, Page{Token: "!!", Limit: 250}); err == nil {
		t.Fatal("a token we did not issue was accepted")
	}
}

// BenchmarkPage100k is one 250-key page of a 100,000-key listing: pageOf against sorting every key.
func BenchmarkPage100k(b *testing.B) {
	m := map[string]int{}
	for i := range 100_000 {
		m[fmt.Sprintf("thing-%06d", i)] = i
	}
	p := Page{Max: 250, Limit: 250}
	b.Run("pageOf", func(b *testing.B) {
		for b.Loop() {
			pageOf(m, nil, p)
		}
	})
	b.Run("sort+paginate", func(b *testing.B) {
		for b.Loop() {
			paginate(sortedKeys(m, nil), p)
		}
	})
}
