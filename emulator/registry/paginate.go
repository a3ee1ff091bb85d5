package registry

import (
	"container/heap"
	"encoding/base64"
	"sort"

	"github.com/iotlab/iotlab/emulator/awserr"
)

// Page is a request for one page of a sorted listing. Every List operation pages through here.
type Page struct {
	Token string // the nextToken (or marker) from the previous page; "" for the first
	Max   int    // page size; 0 means Default
	// Default and Limit are the operation's default and maximum page sizes (AWS's model values).
	Default, Limit int
}

// paginate returns the page of keys (sorted ascending) after the token, and the token of the next page.
// Tokens are opaque to clients, as AWS's are; a token that was not issued here is an InvalidRequest.
func paginate(keys []string, p Page) (page []string, next string, err error) {
	if p.Max < 0 || (p.Limit > 0 && p.Max > p.Limit) {
		return nil, "", awserr.InvalidReq("maxResults must be between 1 and %d", p.Limit)
	}
	n := p.Max
	if n == 0 {
		n = p.Default
	}
	if n <= 0 {
		n = 250
	}
	start := 0
	if p.Token != "" {
		after, err := base64.RawURLEncoding.DecodeString(p.Token)
		if err != nil {
			return nil, "", awserr.InvalidReq("The nextToken is invalid")
		}
		start = sort.SearchStrings(keys, string(after))
		if start < len(keys) && keys[start] == string(after) {
			start++
		}
	}
	end := min(start+n, len(keys))
	page = keys[start:end]
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return page, next, nil
}

// sortedKeys returns m's keys, sorted, optionally filtered.
func sortedKeys[V any](m map[string]V, keep func(string, V) bool) []string {
	ks := make([]string, 0, len(m))
	for k, v := range m {
		if keep == nil || keep(k, v) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// pageOf is paginate over a map's keys without sorting the whole map for every page: it keeps the
// page's n+1 smallest qualifying keys after the token in a bounded max-heap, O(N log n) rather than
// O(N log N) — a ListThings page at 100,000 things no longer sorts 100,000 names.
func pageOf[V any](m map[string]V, keep func(string, V) bool, p Page) (page []string, next string, err error) {
	if p.Max < 0 || (p.Limit > 0 && p.Max > p.Limit) {
		return nil, "", awserr.InvalidReq("maxResults must be between 1 and %d", p.Limit)
	}
	n := p.Max
	if n == 0 {
		n = p.Default
	}
	if n <= 0 {
		n = 250
	}
	after, hasAfter := "", false
	if p.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.Token)
		if err != nil {
			return nil, "", awserr.InvalidReq("The nextToken is invalid")
		}
		after, hasAfter = string(b), true
	}
	h := &maxHeap{}
	for k, v := range m {
		if hasAfter && k <= after || keep != nil && !keep(k, v) {
			continue
		}
		if h.Len() <= n {
			heap.Push(h, k)
		} else if k < (*h)[0] {
			(*h)[0] = k
			heap.Fix(h, 0)
		}
	}
	keys := []string(*h)
	sort.Strings(keys)
	if len(keys) > n {
		keys = keys[:n]
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[n-1]))
	}
	return keys, next, nil
}

// maxHeap keeps the largest key on top, so the smallest n+1 survive.
type maxHeap []string

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
