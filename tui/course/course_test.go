package course_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/iotlab/iotlab/emulator/instance"
	"github.com/iotlab/iotlab/exercises"
	"github.com/iotlab/iotlab/exercises/target"
	"github.com/iotlab/iotlab/tui/course"
)

// startInstance starts an iotlab in this process on free ports.
func startInstance(t *testing.T) *instance.Instance {
	t.Helper()
	inst, err := instance.Start(instance.Config{StateDir: t.TempDir(), APIAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		LabAddr: "127.0.0.1:0", LogLevel: "error"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

func local(t *testing.T, o course.Options) *course.Course {
	t.Helper()
	tg, err := target.InProcess(context.Background(), startInstance(t))
	if err != nil {
		t.Fatal(err)
	}
	o.RunID = "t" + strings.ToLower(t.Name()[4:8])
	c := course.New(tg, o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func chapter(t *testing.T, c *course.Course, n int) exercises.Scenario {
	t.Helper()
	for _, s := range c.Chapters() {
		if s.Chapter == n {
			return s
		}
	}
	t.Fatalf("no chapter %d", n)
	return exercises.Scenario{}
}

// The policy chapter on an embedded iotlab: steps pass, the live stream carries the broker's
// decisions, the inventory lists the run's things, certificates, policies and sessions.
func TestPolicyChapterOnEmbeddedIotlab(t *testing.T) {
	c := local(t, course.Options{LocalMode: "embedded iotlab"})
	in := c.Info()
	if in.Kind != target.Local || !in.Observing || in.Mode != "embedded iotlab" {
		t.Fatalf("info = %+v, want local, observing", in)
	}
	sc := chapter(t, c, 7)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, s := range sc.Steps[:3] {
		res := c.RunStep(ctx, 7, s)
		if res.Status != exercises.Pass {
			t.Fatalf("step %d (%s): %s %s %+v", i+1, s.ID, res.Status, res.Err, res.Outcomes)
		}
		if res.Duration <= 0 {
			t.Errorf("step %d: no duration", i+1)
		}
	}
	var decided, refused bool
	for done := false; !done; {
		select {
		case e := <-c.Events():
			if c.ChapterOf(e.Step) != 7 {
				t.Errorf("event of step %q maps to chapter %d", e.Step, c.ChapterOf(e.Step))
			}
			decided = decided || e.Source == "broker" && e.Effect != "" && e.Policy != ""
			refused = refused || e.Kind == exercises.EvRefused
		default:
			done = true
		}
	}
	if !decided || !refused {
		t.Errorf("events: a broker decision naming its policy %v, a refusal %v; want both", decided, refused)
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prefix := c.Prefix(7)
	if !strings.HasPrefix(prefix, c.RunPrefix()) || inv.Prefix != c.RunPrefix() {
		t.Fatalf("prefix %q, run prefix %q, inventory prefix %q", prefix, c.RunPrefix(), inv.Prefix)
	}
	if len(inv.Things) == 0 || len(inv.Certificates) == 0 || len(inv.Policies) == 0 || len(inv.Sessions) == 0 {
		t.Fatalf("inventory %+v: want things, certificates, policies and sessions", inv)
	}
	for _, th := range inv.Things {
		if !strings.HasPrefix(th.Name, c.RunPrefix()) {
			t.Errorf("thing %q is not this walkthrough's", th.Name)
		}
	}
	if inv.Certificates[0].Status != "ACTIVE" {
		t.Errorf("certificate %+v, want ACTIVE", inv.Certificates[0])
	}
	if len(inv.Policies[0].Sids) == 0 {
		t.Errorf("policy %+v lists no statements", inv.Policies[0])
	}
}

func TestRestartGivesFreshNames(t *testing.T) {
	c := local(t, course.Options{})
	ctx := context.Background()
	before := c.Prefix(2)
	if res := c.RunStep(ctx, 2, chapter(t, c, 2).Steps[0]); res.Status != exercises.Pass {
		t.Fatalf("step 1: %+v", res)
	}
	if err := c.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	after := c.Prefix(2)
	if after == before || !strings.HasPrefix(after, c.RunPrefix()) {
		t.Fatalf("prefix %q after a restart, %q before", after, before)
	}
	if res := c.RunStep(ctx, 2, chapter(t, c, 2).Steps[0]); res.Status != exercises.Pass {
		t.Fatalf("step 1 again: %+v", res)
	}
	var ids []string
	for _, s := range c.Sessions() {
		ids = append(ids, s.Client)
	}
	if !strings.Contains(strings.Join(ids, " "), after+"dashboard") {
		t.Errorf("sessions %v: none of the restarted run", ids)
	}
}

// A second iotlab stands in for AWS: the plan names every resource before anything is created, the
// switch runs the chapters there, and what they created is in the manifest for `iotlab aws cleanup`.
func TestSwitchToAWSStandIn(t *testing.T) {
	aws := startInstance(t)
	h := aws.HealthInfo()
	port := strings.TrimPrefix(h.MQTT, "mqtts://")
	port = port[strings.LastIndex(port, ":")+1:]
	stateDir := t.TempDir()
	opened := 0
	c := local(t, course.Options{OpenAWS: func(ctx context.Context) (*target.Target, error) {
		opened++
		p := 0
		for _, ch := range port {
			p = p*10 + int(ch-'0')
		}
		tg, err := target.NewAWS(ctx, target.AWSOptions{Region: h.Region, Endpoint: h.API, MQTTPort: p, RootCAFile: h.RootCA,
			StateDir: stateDir, Credentials: credentials.NewStaticCredentialsProvider("iotlab", "iotlab", "")})
		if err == nil {
			tg.Quiet, tg.Wait = 300*time.Millisecond, 5*time.Second // a local stand-in answers at once
		}
		return tg, err
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	plan, err := c.ProbeAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().Kind != target.Local {
		t.Fatal("probing switched the target")
	}
	if plan.Account != h.Account || plan.Endpoint == "" || plan.Manifest == "" || plan.Prefix != c.RunPrefix() {
		t.Fatalf("plan header %+v", plan)
	}
	kinds := map[string]int{}
	for _, r := range plan.Resources {
		kinds[r.Kind]++
		if !strings.Contains(r.Name, c.RunPrefix()) {
			t.Errorf("planned %s %q lacks the prefix", r.Kind, r.Name)
		}
		if (r.Kind == target.KindPolicy || r.Kind == target.KindThingGroup) && !strings.HasPrefix(r.Tag, "iotlab=") {
			t.Errorf("planned %s %q is not tagged", r.Kind, r.Name)
		}
	}
	for _, k := range []string{target.KindThing, target.KindCertificate, target.KindPolicy, target.KindThingType, target.KindBillingGroup, target.KindShadow} {
		if kinds[k] == 0 {
			t.Errorf("the plan lists no %s: %v", k, kinds)
		}
	}
	if kinds[target.KindRule] != 0 {
		t.Error("the plan lists rules, though no --rule-role-arn makes them runnable")
	}
	if len(plan.Reasons()) == 0 {
		t.Error("the plan does not say which steps will not run (the lab listener)")
	}
	if n, err := c.Inventory(ctx); err != nil || len(n.Things) != 0 {
		t.Fatalf("before the switch: %d things of this run (%v)", len(n.Things), err)
	}

	in, err := c.UseAWS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != target.AWS || in.Mode != "AWS account" || in.Manifest != plan.Manifest {
		t.Fatalf("after the switch: %+v", in)
	}
	if ok, why := c.Applicable(chapter(t, c, 2).Steps[0]); ok || why == "" {
		t.Errorf("the lab chapter is applicable on AWS (%q)", why)
	}
	// The registry, a policy with things and certificates, the fleet (its policy, things, shadow).
	for _, n := range []int{1, 8, 10} {
		sc := chapter(t, c, n)
		for _, s := range sc.Steps {
			res := c.RunStep(ctx, sc.Chapter, s)
			if res.Status != exercises.Pass {
				t.Errorf("chapter %d %s on the stand-in: %+v", sc.Chapter, s.ID, res)
			}
		}
	}
	m, err := target.OpenManifest(plan.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	created := m.Resources("")
	if len(created) == 0 {
		t.Fatal("the manifest lists nothing")
	}
	planned := map[string]bool{}
	for _, r := range plan.Resources {
		planned[r.Kind+" "+r.Name] = true
	}
	for _, r := range created {
		if r.Kind == target.KindPolicyTarget || r.Kind == target.KindThingPrincipal {
			continue // attachments: the plan lists the certificate and says its policy
		}
		if !planned[r.Kind+" "+r.Name] {
			t.Errorf("created %s %q, which the plan did not list", r.Kind, r.Name)
		}
	}
	if opened != 1 {
		t.Errorf("AWS opened %d times, want 1", opened)
	}
}

func TestProbeWithoutAWS(t *testing.T) {
	c := local(t, course.Options{})
	_, err := c.ProbeAWS(context.Background())
	if !errors.Is(err, course.ErrNoAWS) {
		t.Fatalf("err = %v, want ErrNoAWS", err)
	}
	if _, err := c.UseAWS(context.Background()); err == nil {
		t.Fatal("UseAWS without a probe succeeded")
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("target: sts: operation error STS: GetCallerIdentity, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"), "No AWS credentials found"},
		{errors.New("target: no AWS region: pass --region, set AWS_REGION or give the profile a region"), "No AWS region configured"},
		{errors.New("target: sts: api error InvalidClientTokenId: The security token included in the request is invalid."), "No AWS credentials found"},
		{errors.New("target: describe endpoint: dial tcp: lookup iot.eu-west-1.amazonaws.com: no such host"), "AWS not reachable, staying local: target: describe endpoint"},
		{course.ErrNoAWS, "not available"},
	}
	for _, tt := range tests {
		if got := course.Explain(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("Explain(%v) = %q, want %q in it", tt.err, got, tt.want)
		}
	}
}

func TestShow(t *testing.T) {
	p := "iotlab-ab12cd-c9-"
	tests := []struct{ in, want string }{
		{"iotlab-ab12cd-c9-home/livingroom/temperature", "home/livingroom/temperature"},
		{"rule iotlab_ab12cd_c9_door_opener", "rule door_opener"},
		{"create thing @{livingroom-sensor} of type @{room-sensor}", "create thing livingroom-sensor of type room-sensor"},
		{"want @{=me.Account}", "want @{=me.Account}"},
	}
	for _, tt := range tests {
		if got := course.Show(p, tt.in); got != tt.want {
			t.Errorf("Show(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
