package shadowsvc

import (
	"go/build"
	"strings"
	"testing"
)

// The shadow service sits beside the registry: it reaches the broker only through Publisher and
// HandleMessage, which emulator/instance binds, and never imports the API, the broker or the
// composition root (its end-to-end tests do, as the wiring's stand-in). docs/ARCHITECTURE.md
func TestShadowsvcImportsNoHigherLayer(t *testing.T) {
	forbidden := []string{
		"github.com/iotlab/iotlab/broker",
		"github.com/iotlab/iotlab/emulator/awsapi",
		"github.com/iotlab/iotlab/emulator/instance",
	}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || strings.HasPrefix(imp, f+"/") {
				t.Errorf("package %s imports %s", pkg.ImportPath, imp)
			}
		}
	}
}
