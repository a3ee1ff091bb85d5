package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// The book's generic, restrictive policy: a device connects only as its own thing, publishes only under
// its own topic, may subscribe to and receive the home's topics.
const devicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:eu-west-1:123456789012:topicfilter/home/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/home/*"}
  ]
}`

type device struct{ name, cert, key string }

// provision creates a thing, a certificate for it (AWS-made key, or the device's own key through a CSR),
// attaches the policy and the thing — all through the control plane, as the book does.
func provision(t *testing.T, c *iot.Client, dir, name string, ownKey bool) device {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	d := device{name: name, cert: filepath.Join(dir, name+".pem.crt"), key: filepath.Join(dir, name+".private.pem.key")}
	var certArn, certPEM, keyPEM string
	if ownKey {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, k)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
			CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))),
			SetAsActive:               true,
		})
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalECPrivateKey(k)
		certArn, certPEM = aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	} else {
		out, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		certArn, certPEM, keyPEM = aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem), aws.ToString(out.KeyPair.PrivateKey)
	}
	os.WriteFile(d.cert, []byte(certPEM), 0o600)
	os.WriteFile(d.key, []byte(keyPEM), 0o600)
	if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("home-device"), Target: aws.String(certArn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: aws.String(certArn)}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMosquittoClientsOnMTLS: Debian's mosquitto_pub / mosquitto_sub against the real binary's mTLS
// broker, with certificates made through the control plane on both of the book's identity paths, for
// MQTT 3.1.1 and 5: one allowed and one refused publish and subscribe each.
func TestMosquittoClientsOnMTLS(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed: run `make deps` (make test does)")
	}
	state := t.TempDir()
	// --limits none: the 1 CONNECT/s per client id quota would make this test wait; identity and policy still apply.
	p := startUp(t, state, "--limits", "none")
	if p.mqttPort == "" {
		t.Fatal("no MQTT address in the banner")
	}
	c := p.iot()
	if _, err := c.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String("home-device"), PolicyDocument: aws.String(devicePolicy)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sensor := provision(t, c, dir, "livingroom-sensor", false) // AWS makes the key
	door := provision(t, c, dir, "hall-door", true)            // the device's own key + CSR
	ca := filepath.Join(state, "root-ca.pem")
	args := func(version string, d device, extra ...string) []string {
		return append([]string{"-h", "localhost", "-p", p.mqttPort, "--cafile", ca, "--cert", d.cert, "--key", d.key, "-i", d.name, "-V", version}, extra...)
	}
	run := func(name string, a ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, name, a...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return strings.TrimSpace(out.String()), err
	}
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			topic := "home/livingroom-sensor/temperature"
			subOut := make(chan string, 1)
			go func() {
				out, _ := run("mosquitto_sub", args(v, door, "-t", topic, "-q", "1", "-C", "1", "-W", "10")...)
				subOut <- out
			}()
			// Publish until the subscriber has it (its SUBSCRIBE races our first publish).
			var got string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got == ""; {
				if out, err := run("mosquitto_pub", args(v, sensor, "-t", topic, "-q", "1", "-m", "21.5")...); err != nil {
					t.Fatalf("allowed publish failed: %v %s", err, out)
				}
				select {
				case got = <-subOut:
				case <-time.After(300 * time.Millisecond):
				}
			}
			if got != "21.5" {
				t.Fatalf("allowed subscribe: got %q, want 21.5", got)
			}
			// A device may not command another: the sensor publishing to the door's topic is refused.
			out, err := run("mosquitto_pub", args(v, sensor, "-t", "home/hall-door/cmd", "-q", "1", "-m", "open")...)
			var ee *exec.ExitError
			switch v {
			case "mqttv311": // AWS closes the connection
				if !errors.As(err, &ee) || !strings.Contains(out, "connection was lost") {
					t.Fatalf("refused publish (3.1.1): err %v, output %q", err, out)
				}
			case "mqttv5": // PUBACK 0x87
				if !strings.Contains(out, "Not authorized") {
					t.Fatalf("refused publish (5): err %v, output %q", err, out)
				}
			}
			out, _ = run("mosquitto_sub", args(v, sensor, "-t", "office/#", "-q", "1", "-C", "1", "-W", "5")...)
			if out != "All subscription requests were denied." {
				t.Fatalf("refused subscribe: output %q", out)
			}
		})
	}
}

// TestDeactivatingCertificateDisconnects guards the registry → broker wiring: UpdateCertificate to
// INACTIVE through the API closes the device's live connection, and it cannot connect again.
// AWS: API_UpdateCertificate
func TestDeactivatingCertificateDisconnects(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not installed: run `make deps` (make test does)")
	}
	state := t.TempDir()
	p := startUp(t, state, "--limits", "none")
	c := p.iot()
	ctx := context.Background()
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("home-device"), PolicyDocument: aws.String(devicePolicy)}); err != nil {
		t.Fatal(err)
	}
	door := provision(t, c, t.TempDir(), "hall-door", true)
	args := []string{"-h", "localhost", "-p", p.mqttPort, "--cafile", filepath.Join(state, "root-ca.pem"),
		"--cert", door.cert, "--key", door.key, "-i", door.name, "-t", "home/hall-door/cmd", "-q", "1", "-W", "30"}
	cmd := exec.Command("mosquitto_sub", append(args, "-d")...) // -d: shows the CONNACK it got
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	certs, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil || len(certs.Certificates) != 1 {
		t.Fatalf("list certificates: %v %v", err, certs)
	}
	// Give the subscriber time to connect; the assertion below checks that it did (CONNACK 0).
	time.Sleep(500 * time.Millisecond)
	if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: certs.Certificates[0].CertificateId, NewStatus: "INACTIVE"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		// It must have been connected (CONNACK 0), then dropped — not refused from the start.
		if !strings.Contains(out.String(), "received CONNACK (0)") {
			t.Fatalf("mosquitto_sub never connected before the deactivation; output %q", out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("mosquitto_sub still connected 10s after its certificate was deactivated; output %q", out.String())
	}
	// Reconnecting with the INACTIVE certificate is refused (an allowed publish, otherwise).
	pubArgs := []string{"-h", "localhost", "-p", p.mqttPort, "--cafile", filepath.Join(state, "root-ca.pem"),
		"--cert", door.cert, "--key", door.key, "-i", door.name, "-t", "home/hall-door/state", "-q", "1", "-m", "locked"}
	again, err := exec.Command("mosquitto_pub", pubArgs...).CombinedOutput()
	if err == nil {
		t.Fatalf("publish with an INACTIVE certificate succeeded; output %q", again)
	}
	if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: certs.Certificates[0].CertificateId, NewStatus: "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mosquitto_pub", pubArgs...).CombinedOutput(); err != nil {
		t.Fatalf("publish after reactivation: %v %s", err, out)
	}
}
