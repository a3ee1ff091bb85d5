package awsapi

import (
	"bytes"
	"crypto"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/registry"
)

// TestIdentityBoto3 runs testdata/identity_boto3.py, the book's two identity paths in boto3
// (create_keys_and_certificate, and a CSR made with cryptography), then reads back in Go the files the
// script saved, as a device would load them.
func TestIdentityBoto3(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3, cryptography").Run(); err != nil {
		t.Skipf("python3 with boto3 and cryptography is not available: %v", err)
	}
	e := newTestEnv(t)
	dir := t.TempDir()
	env := cleanAWSEnv(append(awsProfileFiles(t), "AWS_ENDPOINT_URL="+e.URL)...)
	out := runTool(t, env, "python3", "testdata/identity_boto3.py", dir)
	if got := string(bytes.TrimSpace(out)); got != "ok" {
		t.Fatalf("identity_boto3.py printed %q, want ok", got)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		mustOK(t, err)
		return string(b)
	}
	cert, err := certs.ParseCertificatePEM(read("book-thing-1.pem.crt"))
	mustOK(t, err)
	key, err := certs.ParsePrivateKeyPEM(read("book-thing-1.private.pem.key"))
	mustOK(t, err)
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		t.Fatalf("saved key does not match the saved certificate")
	}
	if err := cert.CheckSignatureFrom(e.Srv.cfg.CA.DeviceCA()); err != nil {
		t.Fatalf("saved certificate is not from the local CA: %v", err)
	}
	if _, err := certs.ParseCertificatePEM(read("book-thing-2.pem.crt")); err != nil {
		t.Fatal(err)
	}
	// What the broker will see when the device connects with these files and client ID book-thing-1.
	sc := registry.Scope{Account: "123456789012", Region: "eu-west-1"}
	id := certs.CertificateID(cert.Raw)
	if c, ok := e.Reg.CertificateByID(sc, id); !ok || c.Status != registry.CertActive {
		t.Fatalf("CertificateByID(%s): got %+v %v, want an ACTIVE certificate", id, c, ok)
	}
	pols, thing, err := e.Reg.Principal(sc, id, "book-thing-1")
	mustOK(t, err)
	if len(pols) != 1 || pols[0].Name != "BookThingPolicy" || pols[0].Doc == nil || thing == nil || !thing.IsAttached {
		t.Fatalf("Principal: got %+v, thing %+v; want BookThingPolicy, compiled, and the attached thing", pols, thing)
	}
}
