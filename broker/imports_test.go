package broker

import (
	"go/build"
	"strings"
	"testing"
)

// The broker reaches the control plane only through the interfaces it declares (Directory): it must
// not import the registry, the API, the store or the composition root. docs/ARCHITECTURE.md
func TestBrokerImportsNoHigherLayer(t *testing.T) {
	forbidden := []string{
		"github.com/iotlab/iotlab/emulator/registry",
		"github.com/iotlab/iotlab/emulator/awsapi",
		"github.com/iotlab/iotlab/emulator/store",
		"github.com/iotlab/iotlab/emulator/instance",
		"github.com/iotlab/iotlab/broker/lab",
	}
	for _, dir := range []string{".", "awslog"} {
		pkg, err := build.ImportDir(dir, 0)
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
}
