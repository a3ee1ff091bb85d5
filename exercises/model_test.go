package exercises

import (
	"go/build"
	"strings"
	"testing"
)

// TestChaptersAreWellFormed checks the course data the way the runner will use it: ids unique, every
// step documented, and every client, device and saved result used only after a step made it.
func TestChaptersAreWellFormed(t *testing.T) {
	chapters := Chapters()
	if len(chapters) != 10 {
		t.Fatalf("got %d chapters, want 10", len(chapters))
	}
	for i, sc := range chapters {
		if sc.Chapter != i+1 || sc.ID == "" || sc.Title == "" || sc.Doc == "" || len(sc.Listeners) == 0 {
			t.Errorf("chapter %d: incomplete header %+v", i+1, sc)
		}
		steps := map[string]bool{}
		clients, devices, saved := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, s := range sc.Steps {
			where := sc.ID + "/" + s.ID
			if steps[s.ID] {
				t.Errorf("%s: duplicate step id", where)
			}
			steps[s.ID] = true
			if s.Title == "" || s.Do == "" || s.Doc == "" || s.Listener == "" {
				t.Errorf("%s: title, what the learner does, doc and listener are required", where)
			}
			need := func(m map[string]bool, name, what string) {
				if !m[name] {
					t.Errorf("%s: %s %q used before a step makes it", where, what, name)
				}
			}
			for _, a := range s.Actions {
				if a.Describe() == "" {
					t.Errorf("%s: %T has no description", where, a)
				}
				switch a := a.(type) {
				case Provision:
					devices[a.Device] = true
					saved[a.Save] = true
				case ForeignCertificate:
					devices[a.Device] = true
				case Connect:
					l := a.Listener
					if l == "" {
						l = s.Listener
					}
					if l == MTLS {
						need(devices, a.Device, "device")
					}
					clients[a.Client] = true
				case Subscribe:
					need(clients, a.Client, "client")
				case Publish:
					need(clients, a.Client, "client")
				case Disconnect:
					need(clients, a.Client, "client")
				case Drop:
					need(clients, a.Client, "client")
				case StartLock:
					need(devices, a.Device, "device")
				case UpdateCertificate:
					need(devices, a.Device, "device")
				case TestAuthorization:
					need(devices, a.Device, "device")
					saved[a.Save] = true
				case CreateThing:
					saved[a.Save] = true
				case ListThings:
					saved[a.Save] = true
				case ListThingsInGroup:
					saved[a.Save] = true
				case ListThingsInBillingGroup:
					saved[a.Save] = true
				case DescribeThing:
					saved[a.Save] = true
				case DescribeThingType:
					saved[a.Save] = true
				case DescribeEndpoint:
					saved[a.Save] = true
				case UpdateShadow:
					saved[a.Save] = true
				case GetShadow:
					saved[a.Save] = true
				case GetRetained:
					saved[a.Save] = true
				case WhoAmI:
					saved[a.Save] = true
				}
			}
			for _, e := range s.Expect {
				if b, w := e.Describe(); b == "" || w == "" {
					t.Errorf("%s: %T describes itself as %q / %q", where, e, b, w)
				}
				switch e := e.(type) {
				case Accepted:
					need(clients, e.Client, "client")
				case RefusedConnect:
					need(clients, e.Client, "client")
				case PublishAllowed:
					need(clients, e.Client, "client")
				case PublishRefused:
					need(clients, e.Client, "client")
				case Granted:
					need(clients, e.Client, "client")
				case SubscribeRefused:
					need(clients, e.Client, "client")
				case Receives:
					need(clients, e.Client, "client")
				case NotReceives:
					need(clients, e.Client, "client")
				case Result:
					need(saved, e.Save, "saved result")
				case APIError:
					need(saved, e.Save, "saved result")
				}
			}
		}
	}
}

func TestNamerExpand(t *testing.T) {
	n := Namer{Prefix: "iotlab-ab12-c7-", Account: "123456789012", Region: "eu-west-1"}
	for _, tc := range []struct{ in, want string }{
		{"@{home}/livingroom/temperature", "iotlab-ab12-c7-home/livingroom/temperature"},
		{"arn:aws:iot:@{region}:@{account}:client/${iot:Connection.Thing.ThingName}", "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
		{"@{=endpoint.EndpointAddress}", "@{=endpoint.EndpointAddress}"},
		{"plain", "plain"},
	} {
		if got := n.Expand(tc.in); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := n.RuleName("@{door_opener}"), "iotlab_ab12_c7_door_opener"; got != want {
		t.Errorf("RuleName = %q, want %q", got, want)
	}
}

// TestModelImportsOnlyTheStandardLibrary: the scenario model is data; the TUI, the runner and the check
// import it, never the other way round. docs/ARCHITECTURE.md
func TestModelImportsOnlyTheStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") {
			t.Errorf("package exercises imports %s", imp)
		}
	}
}
