package registry

import (
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
