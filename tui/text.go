package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// width is the display width of s (ANSI sequences ignored, wide runes counted twice).
func width(s string) int { return ansi.StringWidth(s) }

// cut shortens s to w columns, with "…" when it was longer.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// pad cuts or pads s to exactly w columns.
func pad(s string, w int) string {
	s = cut(s, w)
	if n := width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// spread puts left and right on one line of w columns, cutting left first.
func spread(left, right string, w int) string {
	rw := width(right)
	if rw >= w {
		return cut(right, w)
	}
	return pad(left, w-rw) + right
}

// wrap word-wraps s to w columns and returns at most max lines, the last one ending in "…" when text
// was left out.
func wrap(s string, w, max int) []string {
	if w <= 0 || max <= 0 {
		return nil
	}
	lines := strings.Split(ansi.Wrap(s, w, ""), "\n")
	if len(lines) > max {
		lines = lines[:max]
		lines[max-1] = cut(lines[max-1]+" …", w)
		if !strings.HasSuffix(lines[max-1], "…") {
			lines[max-1] = cut(lines[max-1], w-1) + "…"
		}
	}
	return lines
}

// fit makes s exactly h lines of at most w columns: the frame of every screen.
func fit(s string, w, h int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if width(l) > w {
			lines[i] = cut(l, w)
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
