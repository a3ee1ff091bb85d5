package tui

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the layering honest: the UI reaches the exercises only through tui/course (and the
// exercises' data types), never the broker or the emulator; the transcript needs no UI library.
func TestImports(t *testing.T) {
	const mod = "github.com/iotlab/iotlab/"
	allowed := map[string][]string{
		".":      {"github.com/charmbracelet/", mod + "exercises", mod + "tui/course"},
		"plain":  {mod + "exercises", mod + "tui/course"},
		"course": {"github.com/aws/", mod + "exercises", mod + "exercises/runner", mod + "exercises/target"},
	}
	for dir, ok := range allowed {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !strings.Contains(strings.Split(path, "/")[0], ".") {
					continue // standard library
				}
				good := false
				for _, p := range ok {
					good = good || path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)
				}
				if !good {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
