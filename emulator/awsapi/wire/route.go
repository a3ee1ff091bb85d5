// Package wire is the AWS REST-JSON wire protocol as the SDKs speak it: route tables derived from the
// service models, request decoding (URI labels, query strings, headers and body into one input value),
// response encoding, AWS-shaped errors and the SigV4 credential scope. It holds no state.
package wire

import (
	"net/url"
	"strings"
)

// Location says where a bound input member travels.
type Location int

const (
	LocUri Location = iota + 1
	LocQuerystring
	LocHeader
)

// Kind is a member's model type, for converting text (paths, queries, headers) to JSON values.
type Kind int

const (
	KindString Kind = iota + 1
	KindInteger
	KindLong
	KindBoolean
	KindDouble
	KindFloat
	KindTimestamp
	KindBlob
	KindList
	KindMap
	KindStructure
)

// Binding ties an input member to a URI label, query parameter or header.
type Binding struct {
	Member   string
	Location Location
	Name     string
	Kind     Kind
}

// Route is one operation's HTTP binding, generated from the service model.
type Route struct {
	Op           string
	Method       string
	Path         string // "/things/{thingName}", greedy labels as "{arn+}"
	LiteralQuery string // a query fixed by the model, e.g. "x=y"
	Status       int
	Bindings     []Binding

	InPayload      string // member that is the whole body
	InPayloadBlob  bool   // ... as raw bytes rather than JSON
	OutPayload     string
	OutPayloadBlob bool

	segs []string // Path split on "/", computed by NewRouter
}

// Router finds the route for a method and path. Literal segments win over labels, as AWS's
// front end resolves e.g. /thing-groups/{name} against a literal sibling.
type Router struct {
	routes []*Route
}

// NewRouter indexes routes; the slice's routes are copied.
func NewRouter(routes []Route) *Router {
	r := &Router{}
	for i := range routes {
		rt := routes[i]
		rt.segs = strings.Split(strings.Trim(rt.Path, "/"), "/")
		r.routes = append(r.routes, &rt)
	}
	return r
}

// Match returns the route for method and escaped path, with its URI labels decoded.
// A path that matches under another method reports methodMismatch.
func (r *Router) Match(method, escapedPath string, query url.Values) (rt *Route, labels map[string]string, methodMismatch bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	best := -1
	for _, cand := range r.routes {
		score, ok := cand.match(segs, nil)
		if !ok || !cand.literalQueryOK(query) {
			continue
		}
		if cand.Method != method {
			methodMismatch = true
			continue
		}
		if score > best {
			best, rt = score, cand
		}
	}
	if rt == nil {
		return nil, nil, methodMismatch
	}
	labels = map[string]string{}
	rt.match(segs, labels)
	return rt, labels, false
}

func (rt *Route) literalQueryOK(q url.Values) bool {
	if rt.LiteralQuery == "" {
		return true
	}
	for _, kv := range strings.Split(rt.LiteralQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if !q.Has(k) || (v != "" && q.Get(k) != v) {
			return false
		}
	}
	return true
}

// match reports whether segs fit the route; score counts literal segments so the most specific wins.
func (rt *Route) match(segs []string, labels map[string]string) (score int, ok bool) {
	for i, pat := range rt.segs {
		if strings.HasPrefix(pat, "{") && strings.HasSuffix(pat, "+}") {
			if i >= len(segs) {
				return 0, false
			}
			if labels != nil {
				v, err := url.PathUnescape(strings.Join(segs[i:], "/"))
				if err != nil {
					return 0, false
				}
				labels[pat[1:len(pat)-2]] = v
			}
			return score, true
		}
		if i >= len(segs) {
			return 0, false
		}
		if strings.HasPrefix(pat, "{") {
			if segs[i] == "" {
				return 0, false
			}
			if labels != nil {
				v, err := url.PathUnescape(segs[i])
				if err != nil {
					return 0, false
				}
				labels[pat[1:len(pat)-1]] = v
			}
			continue
		}
		if pat != segs[i] {
			return 0, false
		}
		score++
	}
	return score, len(segs) == len(rt.segs)
}
