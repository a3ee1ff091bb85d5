package shadow

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkUpdate measures one update of a 60-member reported section in a shadow of about 4 KB,
// with a delta to compute, and BenchmarkGet the read of that shadow.
func BenchmarkUpdate(b *testing.B) {
	s, req := benchShadow(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, rej := Update(s, req, now); rej != nil {
			b.Fatal(rej)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s, _ := benchShadow(b)
	id := ID{Thing: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if _, rej := Get(id, s, nil, now); rej != nil {
			b.Fatal(rej)
		}
	}
}

func benchShadow(b *testing.B) (*Stored, []byte) {
	b.Helper()
	var desired, reported strings.Builder
	for i := range 60 {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&desired, `%s"key%02d":{"v":%d,"unit":"celsius"}`, sep, i, i)
		fmt.Fprintf(&reported, `%s"key%02d":{"v":%d,"unit":"celsius"}`, sep, i, i+i%2)
	}
	s, _, rej := Update(nil, []byte(`{"state":{"desired":{`+desired.String()+`}}}`), now)
	if rej != nil {
		b.Fatal(rej)
	}
	return s, []byte(`{"state":{"reported":{` + reported.String() + `}},"clientToken":"bench"}`)
}
