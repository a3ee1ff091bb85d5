package jsonscan

import "testing"

// Both parsers' own tests and fuzz targets cover the JSON grammar; these pin what the Scanner
// promises them: the same answers from string and []byte input, and no copies from a string.

func TestStringSameForStringAndBytes(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" with ok false for an error
		ok       bool
	}{
		{"plain", `"abc"`, "abc", true},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t\u00e9"`, "a\"b\\c/d\b\f\n\r\té", true},
		{"surrogate pair", `"\ud83d\ude00"`, "😀", true},
		{"lone high surrogate", `"\ud83dx"`, "\uFFFDx", true},
		{"high surrogate then other escape", `"\ud83d\u0041"`, "\uFFFDA", true},
		{"high surrogate then bad escape", `"\ud83d\u00G1"`, "", false},
		{"invalid UTF-8, one U+FFFD a byte", "\"a\xe2\x82b\"", "a\uFFFD\uFFFDb", true},
		{"invalid UTF-8 beside an escape", "\"\xe2\x82\\u00ac\xac\"", "\uFFFD\uFFFD¬\uFFFD", true},
		{"control character", "\"a\nb\"", "", false},
		{"bad escape", `"\x"`, "", false},
		{"short \\u", `"\u12"`, "", false},
		{"unterminated", `"abc\`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.in, 1)
			got, ok := s.String()
			b := New([]byte(tc.in), 1)
			gotB, okB := b.String()
			if got != tc.want || ok != tc.ok || gotB != tc.want || okB != tc.ok {
				t.Errorf("got %q %v (string), %q %v ([]byte), want %q %v", got, ok, gotB, okB, tc.want, tc.ok)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in, text    string
		integer, ok bool
	}{
		{"0", "0", true, true},
		{"-12,", "-12", true, true},
		{"01", "0", true, true}, // the parser refuses what follows
		{"1.50]", "1.50", false, true},
		{"-2e+3", "-2e+3", false, true},
		{"3E-4", "3E-4", false, true},
		{"-", "", false, false},
		{"1.", "", false, false},
		{"1e+", "", false, false},
		{".5", "", false, false},
	}
	for _, tc := range tests {
		s := New(tc.in, 1)
		text, integer, ok := s.Number()
		b := New([]byte(tc.in), 1)
		textB, _, _ := b.Number()
		if ok != tc.ok || ok && (text != tc.text || integer != tc.integer || string(textB) != tc.text) {
			t.Errorf("Number(%q) = %q %v %v, want %q %v %v", tc.in, text, integer, ok, tc.text, tc.integer, tc.ok)
		}
	}
}

func TestEnterBound(t *testing.T) {
	s := New("", 2)
	if !s.Enter() || !s.Enter() || s.Enter() {
		t.Fatal("Enter does not stop at the bound")
	}
	s.Leave()
	s.Leave()
	if !s.Enter() {
		t.Fatal("Leave does not undo Enter")
	}
}

// The SQL engine parses every payload; its strings and numbers are substrings of it.
func TestStringInputIsNotCopied(t *testing.T) {
	in := `{"key":"a plain string value","n":12345.678}`
	allocs := testing.AllocsPerRun(100, func() {
		s := New(in, 8)
		if s.Open('}') {
			t.Fatal("empty")
		}
		if _, ok := s.Key(); !ok {
			t.Fatal("key")
		}
		if _, ok := s.String(); !ok {
			t.Fatal("string")
		}
		if more, ok := s.Next('}'); !more || !ok {
			t.Fatal("next")
		}
		if _, ok := s.Key(); !ok {
			t.Fatal("key n")
		}
		if _, _, ok := s.Number(); !ok {
			t.Fatal("number")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
