package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/target"
)

var verdicts = map[exercises.Status]string{
	exercises.Pass: "PASS", exercises.Fail: "FAIL", exercises.NotApplicable: "n/a", exercises.Skipped: "skip", exercises.NotProbed: "—",
}

// WriteTable prints the report as an aligned table, cells cut to width characters (0: whole).
func (r *Report) WriteTable(w io.Writer, width int) {
	cut := func(s string) string {
		s = strings.ReplaceAll(s, "\n", " ")
		if width > 0 && len([]rune(s)) > width {
			return string([]rune(s)[:width-1]) + "…"
		}
		return s
	}
	fmt.Fprintf(w, "iotlab check — %s\n", r.Target)
	section := ""
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range r.Rows {
		if row.Section != section {
			section = row.Section
			fmt.Fprintf(tw, "\n\t%s\t\t\t\n", strings.ToUpper(section))
			fmt.Fprintf(tw, "RESULT\tID\tBEHAVIOUR\tEXPECTED\tOBSERVED\n")
		}
		id := row.ID
		if row.Unverified {
			id += " (V)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", verdicts[row.Status], id, cut(row.Behaviour), cut(row.Expected), cut(row.Observed))
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Summary())
	if r.Kind == target.AWS {
		fmt.Fprintln(w, "On AWS, a FAIL row is a place where iotlab's expectation differs from what AWS did; rows marked (V)")
		fmt.Fprintln(w, "are behaviours AWS does not fully document: please report what AWS did (observed) to the iotlab maintainers.")
	}
	for _, err := range r.CleanupErrors {
		fmt.Fprintln(w, "cleanup:", err)
	}
}

// Summary is the one-paragraph tally.
func (r *Report) Summary() string {
	type tally struct{ pass, fail, na, skip, none int }
	var ch, cl tally
	for _, row := range r.Rows {
		t := &ch
		if strings.HasPrefix(row.ID, "§") {
			t = &cl
		}
		switch row.Status {
		case exercises.Pass:
			t.pass++
		case exercises.Fail:
			t.fail++
		case exercises.NotApplicable:
			t.na++
		case exercises.Skipped:
			t.skip++
		case exercises.NotProbed:
			t.none++
		}
	}
	return fmt.Sprintf("chapters: %d expectations — %d pass, %d fail, %d not applicable, %d skipped\n"+
		"checklist: %d items — %d probed (%d pass, %d fail, %d not applicable), %d not probed\n"+
		"%s in %s",
		ch.pass+ch.fail+ch.na+ch.skip, ch.pass, ch.fail, ch.na, ch.skip,
		cl.pass+cl.fail+cl.na+cl.none, cl.pass+cl.fail+cl.na, cl.pass, cl.fail, cl.na, cl.none,
		map[bool]string{true: "FAILED", false: "OK"}[r.Failed()], r.Duration.Round(100_000_000))
}

// WriteMarkdown writes the whole report (no cut cells) as Markdown tables.
func (r *Report) WriteMarkdown(w io.Writer) {
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	fmt.Fprintf(w, "# iotlab check\n\n%s\n", r.Target)
	section := ""
	for _, row := range r.Rows {
		if row.Section != section {
			section = row.Section
			fmt.Fprintf(w, "\n## %s\n\n| result | id | behaviour | expected | observed |\n|---|---|---|---|---|\n", section)
		}
		id := row.ID
		if row.Unverified {
			id += " (V)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", verdicts[row.Status], id, esc(row.Behaviour), esc(row.Expected), esc(row.Observed))
	}
	fmt.Fprintf(w, "\n```\n%s\n```\n", r.Summary())
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Target  string `json:"target"`
		Failed  bool   `json:"failed"`
		Summary string `json:"summary"`
		Rows    []Row  `json:"rows"`
	}{r.Target, r.Failed(), r.Summary(), r.Rows})
}
