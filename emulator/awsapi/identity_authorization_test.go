package awsapi

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/policy"
)

const arnPrefix = "arn:aws:iot:eu-west-1:123456789012:"

// authPolicies are the documents of the authorization tests, by name.
var authPolicies = map[string]string{
	"pubsub": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/sensors/${iot:ClientId}/*"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:eu-west-1:123456789012:topicfilter/sensors/+/temp"},
		{"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/sensors/*"},
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}`,
	"deny": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/sensors/secret/*"},
		{"Effect":"Deny","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/client1"}]}`,
	"connect-attached": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
		"Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}`,
	"cert-vars": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish",
		"Resource":"arn:aws:iot:eu-west-1:123456789012:topic/cn/${iot:Certificate.Subject.CommonName}"}]}`,
	"retain":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish"],"Resource":"arn:aws:iot:eu-west-1:123456789012:topic/retained/*"}]}`,
	"group-pol": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/group/*"}]}`,
	"spare":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/spare"}]}`,
}

var certPolicyNames = []string{"cert-vars", "connect-attached", "deny", "pubsub", "retain"} // sorted, as evaluated

// authFixture: a certificate (CN lamp-cert) with the certificate policies, attached to thing "lamp" in
// group "floor" under "site" (which has group-pol); thing "desk" exists but is not attached.
type authFixture struct {
	certARN string
	cert    *policy.CertInfo
}

func newAuthFixture(t *testing.T, c *iot.Client) authFixture {
	t.Helper()
	for _, n := range append(slices.Clone(certPolicyNames), "group-pol", "spare") {
		idPolicy(t, c, n, authPolicies[n])
	}
	out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(csrPEM(t, idKey(t, "p256"), "lamp-cert")), SetAsActive: true})
	mustOK(t, err)
	certARN := aws.ToString(out.CertificateArn)
	for _, n := range certPolicyNames {
		mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(n), Target: aws.String(certARN)})))
	}
	mustOK(t, errOf(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site")})))
	mustOK(t, errOf(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("floor"), ParentGroupName: aws.String("site")})))
	mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("group-pol"), Target: aws.String(groupARN + "site")})))
	for _, n := range []string{"lamp", "desk"} {
		idThing(t, c, n)
		mustOK(t, errOf(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(n), ThingGroupName: aws.String("floor")})))
	}
	mustOK(t, errOf(c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("lamp"), Principal: aws.String(certARN)})))
	x, err := certs.ParseCertificatePEM(aws.ToString(out.CertificatePem))
	mustOK(t, err)
	return authFixture{certARN: certARN, cert: policy.FromX509(x)}
}

// direct evaluates a check with the engine alone, from the documents and a context built by hand the
// way the registry must build it: the thing is identified when the client ID names an attached thing,
// and only then do group policies apply.
func (f authFixture) direct(t *testing.T, clientID, actionType string, resources []string) (string, []string) {
	t.Helper()
	ctx := &policy.Context{Region: "eu-west-1", Account: "123456789012", ClientID: clientID, HasClientID: clientID != "", Cert: f.cert}
	names := slices.Clone(certPolicyNames)
	switch clientID {
	case "lamp":
		ctx.Thing = &policy.Thing{Name: "lamp", IsAttached: true}
		names = append(names, "group-pol")
	case "desk":
		ctx.Thing = &policy.Thing{Name: "desk"}
	}
	var pols []policy.Policy
	for _, n := range names {
		doc, err := policy.Parse(authPolicies[n])
		mustOK(t, err)
		pols = append(pols, policy.Policy{Name: n, Version: "1", Doc: doc})
	}
	action := map[string]string{"PUBLISH": "iot:Publish", "SUBSCRIBE": "iot:Subscribe", "RECEIVE": "iot:Receive", "CONNECT": "iot:Connect", "RETAIN": "iot:RetainPublish"}[actionType]
	effect := policy.Allowed
	var allowing, denying []string
	for _, res := range resources {
		d := policy.Evaluate(policy.Request{Action: action, Resource: res, Policies: pols, Context: ctx})
		for _, r := range d.Allowing {
			if !slices.Contains(allowing, r.Name) {
				allowing = append(allowing, r.Name)
			}
		}
		for _, r := range d.Denying {
			if !slices.Contains(denying, r.Name) {
				denying = append(denying, r.Name)
			}
		}
		if d.Effect == policy.ExplicitDeny || (d.Effect == policy.ImplicitDeny && effect == policy.Allowed) {
			effect = d.Effect
		}
	}
	switch effect {
	case policy.Allowed:
		return effect.String(), allowing
	case policy.ExplicitDeny:
		return effect.String(), denying
	}
	return effect.String(), names
}

// TestIdentityAuthorizationMatchesEngine is the differential test: every case evaluated through
// TestAuthorization over HTTP and through policy.Evaluate directly gives the same decision and names
// the same policies.
func TestIdentityAuthorizationMatchesEngine(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	f := newAuthFixture(t, c)
	tests := []struct {
		name, clientID, action string
		resources              []string
		want                   string
	}{
		{"publish to own topic", "lamp", "PUBLISH", []string{arnPrefix + "topic/sensors/lamp/t"}, "ALLOWED"},
		{"publish to another client's topic", "lamp", "PUBLISH", []string{arnPrefix + "topic/sensors/desk/t"}, "IMPLICIT_DENY"},
		{"explicit deny beats allow", "secret", "PUBLISH", []string{arnPrefix + "topic/sensors/secret/x"}, "EXPLICIT_DENY"},
		{"+ is literal in a topic filter", "lamp", "SUBSCRIBE", []string{arnPrefix + "topicfilter/sensors/+/temp"}, "ALLOWED"},
		{"+ does not match a level", "lamp", "SUBSCRIBE", []string{arnPrefix + "topicfilter/sensors/a/temp"}, "IMPLICIT_DENY"},
		{"* crosses levels", "lamp", "RECEIVE", []string{arnPrefix + "topic/sensors/x/y/z"}, "ALLOWED"},
		{"connect as the attached thing", "lamp", "CONNECT", []string{arnPrefix + "client/lamp"}, "ALLOWED"},
		{"connect as a thing not attached", "desk", "CONNECT", []string{arnPrefix + "client/desk"}, "IMPLICIT_DENY"},
		{"connect denied by name", "client1", "CONNECT", []string{arnPrefix + "client/client1"}, "EXPLICIT_DENY"},
		{"group policy for the identified thing", "lamp", "PUBLISH", []string{arnPrefix + "topic/group/x"}, "ALLOWED"},
		{"no group policy when not identified", "desk", "PUBLISH", []string{arnPrefix + "topic/group/x"}, "IMPLICIT_DENY"},
		{"certificate variable", "lamp", "PUBLISH", []string{arnPrefix + "topic/cn/lamp-cert"}, "ALLOWED"},
		{"certificate variable, other value", "lamp", "PUBLISH", []string{arnPrefix + "topic/cn/other"}, "IMPLICIT_DENY"},
		{"RETAIN checks iot:RetainPublish", "lamp", "RETAIN", []string{arnPrefix + "topic/retained/a"}, "ALLOWED"},
		{"RETAIN elsewhere", "lamp", "RETAIN", []string{arnPrefix + "topic/sensors/lamp/a"}, "IMPLICIT_DENY"},
		{"every resource must be allowed", "lamp", "PUBLISH", []string{arnPrefix + "topic/sensors/lamp/a", arnPrefix + "topic/sensors/desk/a"}, "IMPLICIT_DENY"},
		{"one denied resource denies", "secret", "PUBLISH", []string{arnPrefix + "topic/sensors/secret/a", arnPrefix + "topic/sensors/zzz"}, "EXPLICIT_DENY"},
		{"no client ID leaves ${iot:ClientId} unresolved", "", "PUBLISH", []string{arnPrefix + "topic/sensors//t"}, "IMPLICIT_DENY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &iot.TestAuthorizationInput{Principal: aws.String(f.certARN),
				AuthInfos: []types.AuthInfo{{ActionType: types.ActionType(tt.action), Resources: tt.resources}}}
			if tt.clientID != "" {
				in.ClientId = aws.String(tt.clientID)
			}
			out, err := c.TestAuthorization(ctx, in)
			mustOK(t, err)
			if len(out.AuthResults) != 1 {
				t.Fatalf("got %d results, want 1", len(out.AuthResults))
			}
			r := out.AuthResults[0]
			var gotPols []string
			switch r.AuthDecision {
			case types.AuthDecisionAllowed:
				gotPols = refNames(t, r.Allowed.Policies)
			case types.AuthDecisionExplicitDeny:
				gotPols = refNames(t, r.Denied.ExplicitDeny.Policies)
			default:
				gotPols = refNames(t, r.Denied.ImplicitDeny.Policies)
			}
			wantDecision, wantPols := f.direct(t, tt.clientID, tt.action, tt.resources)
			if string(r.AuthDecision) != wantDecision || strings.Join(gotPols, ",") != strings.Join(wantPols, ",") {
				t.Fatalf("TestAuthorization: %s %v; policy.Evaluate: %s %v", r.AuthDecision, gotPols, wantDecision, wantPols)
			}
			if wantDecision != tt.want {
				t.Fatalf("decision: got %s, want %s", wantDecision, tt.want)
			}
			if string(r.AuthInfo.ActionType) != tt.action || strings.Join(r.AuthInfo.Resources, ",") != strings.Join(tt.resources, ",") {
				t.Fatalf("authInfo not echoed: %+v", r.AuthInfo)
			}
		})
	}
}

// refNames returns the policy names of a result list, checking each ARN.
func refNames(t *testing.T, ps []types.Policy) []string {
	t.Helper()
	var names []string
	for _, p := range ps {
		n := aws.ToString(p.PolicyName)
		if aws.ToString(p.PolicyArn) != arnPrefix+"policy/"+n {
			t.Fatalf("policy %s has ARN %s", n, aws.ToString(p.PolicyArn))
		}
		names = append(names, n)
	}
	return names
}

func TestIdentityTestAuthorization(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	f := newAuthFixture(t, c)
	spare := []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{arnPrefix + "topic/spare"}}}
	tests := []struct {
		name     string
		in       iot.TestAuthorizationInput
		want     []string // decisions
		wantErr  string
		wantHTTP int
	}{
		{name: "several authInfos", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), ClientId: aws.String("lamp"), AuthInfos: []types.AuthInfo{
			{ActionType: types.ActionTypeConnect, Resources: []string{arnPrefix + "client/lamp"}},
			{ActionType: types.ActionTypePublish, Resources: []string{arnPrefix + "topic/nowhere"}},
		}}, want: []string{"ALLOWED", "IMPLICIT_DENY"}},
		{name: "policyNamesToAdd", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), PolicyNamesToAdd: []string{"spare"}, AuthInfos: spare},
			want: []string{"ALLOWED"}},
		{name: "policyNamesToSkip", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), ClientId: aws.String("lamp"), PolicyNamesToSkip: []string{"connect-attached", "pubsub"},
			AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypeConnect, Resources: []string{arnPrefix + "client/lamp"}}}}, want: []string{"IMPLICIT_DENY"}},
		{name: "no principal, added policies only", in: iot.TestAuthorizationInput{PolicyNamesToAdd: []string{"spare"}, AuthInfos: spare}, want: []string{"ALLOWED"}},
		{name: "unknown principal", in: iot.TestAuthorizationInput{Principal: aws.String(arnPrefix + "cert/" + strings.Repeat("4", 64)), AuthInfos: spare},
			wantErr: "ResourceNotFoundException", wantHTTP: 404},
		{name: "unknown policy to add", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), PolicyNamesToAdd: []string{"nope"}, AuthInfos: spare},
			wantErr: "ResourceNotFoundException", wantHTTP: 404},
		{name: "no authInfos", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{}},
			wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "eleven authInfos", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: slices.Repeat(spare, 11)},
			wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "unknown action type", in: iot.TestAuthorizationInput{Principal: aws.String(f.certARN),
			AuthInfos: []types.AuthInfo{{ActionType: "DELETE", Resources: []string{arnPrefix + "topic/a"}}}}, wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "a thing group principal", in: iot.TestAuthorizationInput{Principal: aws.String(groupARN + "floor"), AuthInfos: []types.AuthInfo{
			{ActionType: types.ActionTypePublish, Resources: []string{arnPrefix + "topic/group/a"}}, spare[0]}}, want: []string{"ALLOWED", "IMPLICIT_DENY"}},
		{name: "a thing ARN is no principal", in: iot.TestAuthorizationInput{Principal: aws.String(arnPrefix + "thing/lamp"), AuthInfos: spare},
			wantErr: "InvalidRequestException", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.TestAuthorization(ctx, &tt.in)
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				return
			}
			mustOK(t, err)
			var got []string
			for _, r := range out.AuthResults {
				got = append(got, string(r.AuthDecision))
				if r.Allowed == nil || r.Denied == nil || r.Denied.ExplicitDeny == nil || r.Denied.ImplicitDeny == nil {
					t.Fatalf("result %+v: want allowed, denied.explicitDeny and denied.implicitDeny present", r)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIdentityMissingMembers sends, without an SDK (which would refuse client-side), requests that
// lack a required member: AWS answers a validation InvalidRequestException.
func TestIdentityMissingMembers(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name, method, path, body string
	}{
		{"TestAuthorization without resources", "POST", "/test-authorization", `{"authInfos":[{"actionType":"PUBLISH"}]}`},
		{"TestAuthorization without authInfos", "POST", "/test-authorization", `{}`},
		{"CreateCertificateFromCsr without a CSR", "POST", "/certificates", `{}`},
		{"RegisterCertificate without certificatePem", "POST", "/certificate/register", `{}`},
		{"RegisterCACertificate without caCertificate", "POST", "/cacertificate", `{}`},
		{"AttachPolicy without target", "PUT", "/target-policies/p", `{}`},
		{"UpdateCertificate without newStatus", "PUT", "/certificates/" + strings.Repeat("a", 64), ``},
		{"ListPrincipalThings without principal", "GET", "/principals/things", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.URL+tt.path, strings.NewReader(tt.body))
			mustOK(t, err)
			resp, err := http.DefaultClient.Do(req)
			mustOK(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("x-amzn-ErrorType"); resp.StatusCode != 400 || got != "InvalidRequestException" {
				t.Fatalf("got %d %s %s, want 400 InvalidRequestException", resp.StatusCode, got, body)
			}
		})
	}
}
