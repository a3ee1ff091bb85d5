package awsapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/emulator/policy"
)

// pubDoc allows publishing to one topic.
func pubDoc(topic string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/` + topic + `"}]}`
}

// malformedMessage is what policy.Parse says about doc, the text MalformedPolicyException must carry.
func malformedMessage(t *testing.T, doc string) string {
	t.Helper()
	_, err := policy.Parse(doc)
	var me *policy.MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("policy.Parse(%.40q): got %v, want a MalformedError", doc, err)
	}
	return me.Message
}

func TestIdentityCreatePolicy(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/` +
		strings.Repeat("a", 2100) + `"}]}`
	tests := []struct {
		name, policyName, doc string
		wantErr               string
		wantHTTP              int
		wantMsg               string
	}{
		{name: "valid", policyName: "pub_only.v1@lab", doc: pubDoc("a/b")},
		{name: "existing name", policyName: "pub_only.v1@lab", doc: pubDoc("a/b"), wantErr: "ResourceAlreadyExistsException", wantHTTP: 409,
			wantMsg: "Policy cannot be created - name already exists (name=pub_only.v1@lab)"},
		{name: "invalid JSON", policyName: "bad1", doc: `{"Version":`, wantErr: "MalformedPolicyException", wantHTTP: 400, wantMsg: malformedMessage(t, `{"Version":`)},
		{name: "no Statement", policyName: "bad2", doc: `{"Version":"2012-10-17"}`, wantErr: "MalformedPolicyException", wantHTTP: 400,
			wantMsg: malformedMessage(t, `{"Version":"2012-10-17"}`)},
		{name: "over 2048 characters", policyName: "bad3", doc: big, wantErr: "MalformedPolicyException", wantHTTP: 400, wantMsg: malformedMessage(t, big)},
		{name: "empty document", policyName: "bad4", doc: "", wantErr: "MalformedPolicyException", wantHTTP: 400},
		{name: "name with a space", policyName: "my policy", doc: pubDoc("a"), wantErr: "InvalidRequestException", wantHTTP: 400},
		{name: "name of 129 characters", policyName: strings.Repeat("p", 129), doc: pubDoc("a"), wantErr: "InvalidRequestException", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(tt.policyName), PolicyDocument: aws.String(tt.doc)})
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				if tt.wantMsg != "" {
					wantErrMessage(t, err, tt.wantMsg)
				}
				if tt.wantHTTP != 409 {
					_, gerr := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(tt.policyName)})
					if gerr == nil {
						t.Fatalf("policy %s exists after a refused create", tt.policyName)
					}
				}
				return
			}
			mustOK(t, err)
			if aws.ToString(out.PolicyArn) != "arn:aws:iot:eu-west-1:123456789012:policy/"+tt.policyName ||
				aws.ToString(out.PolicyVersionId) != "1" || aws.ToString(out.PolicyDocument) != tt.doc || aws.ToString(out.PolicyName) != tt.policyName {
				t.Fatalf("got %+v, want name, ARN, document and version 1", out)
			}
			g, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(tt.policyName)})
			mustOK(t, err)
			if aws.ToString(g.DefaultVersionId) != "1" || aws.ToString(g.PolicyDocument) != tt.doc || g.CreationDate == nil ||
				g.LastModifiedDate == nil || aws.ToString(g.GenerationId) == "" || aws.ToString(g.PolicyArn) != aws.ToString(out.PolicyArn) {
				t.Fatalf("GetPolicy: got %+v", g)
			}
		})
	}
	t.Run("ResourceAlreadyExists names the policy", func(t *testing.T) {
		_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("pub_only.v1@lab"), PolicyDocument: aws.String(allowAll)})
		var rae *types.ResourceAlreadyExistsException
		if !errors.As(err, &rae) || aws.ToString(rae.ResourceId) != "pub_only.v1@lab" || aws.ToString(rae.ResourceArn) != "arn:aws:iot:eu-west-1:123456789012:policy/pub_only.v1@lab" {
			t.Fatalf("got %v, want resourceId and resourceArn of the existing policy", err)
		}
	})
	t.Run("unknown policy", func(t *testing.T) {
		_, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		wantErrMessage(t, err, "Policy not found")
	})
}

func TestIdentityListPolicies(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	names := []string{"p1", "p2", "p3", "p4", "p5"} // created in this order
	for _, n := range names {
		idPolicy(t, c, n, allowAll)
	}
	tests := []struct {
		name      string
		ascending bool
		want      string
	}{
		{"newest first by default", false, "p5,p4,p3,p2,p1"},
		{"ascending creation order", true, "p1,p2,p3,p4,p5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			p := iot.NewListPoliciesPaginator(c, &iot.ListPoliciesInput{AscendingOrder: tt.ascending, PageSize: aws.Int32(2)})
			pages := 0
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				mustOK(t, err)
				pages++
				for _, pol := range out.Policies {
					if aws.ToString(pol.PolicyArn) != "arn:aws:iot:eu-west-1:123456789012:policy/"+aws.ToString(pol.PolicyName) {
						t.Fatalf("entry %+v: wrong ARN", pol)
					}
					got = append(got, aws.ToString(pol.PolicyName))
				}
			}
			if strings.Join(got, ",") != tt.want || pages != 3 {
				t.Fatalf("got %v in %d pages, want %s in 3", got, pages, tt.want)
			}
		})
	}
	_, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(251)})
	wantAPIError(t, err, "InvalidRequestException", 400)
}

func TestIdentityPolicyVersions(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	idPolicy(t, c, "pol", pubDoc("v1"))
	name := aws.String("pol")
	type step struct {
		name        string
		call        func() error
		wantErr     string
		wantHTTP    int
		wantMsg     string
		wantDefault string
		wantIDs     string // ListPolicyVersions, newest first
	}
	create := func(doc string, setDefault bool) func() error {
		return func() error {
			out, err := c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: aws.String(doc), SetAsDefault: setDefault})
			if err == nil && (out.IsDefaultVersion != setDefault || aws.ToString(out.PolicyDocument) != doc || aws.ToString(out.PolicyArn) == "") {
				return fmt.Errorf("CreatePolicyVersion answered %+v", out)
			}
			return err
		}
	}
	setDefault := func(id string) func() error {
		return func() error {
			return errOf(c.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String(id)}))
		}
	}
	deleteVersion := func(id string) func() error {
		return func() error {
			return errOf(c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String(id)}))
		}
	}
	steps := []step{
		{name: "version 2, not default", call: create(pubDoc("v2"), false), wantDefault: "1", wantIDs: "2,1"},
		{name: "version 3, default", call: create(pubDoc("v3"), true), wantDefault: "3", wantIDs: "3,2,1"},
		{name: "version 4", call: create(pubDoc("v4"), false), wantDefault: "3", wantIDs: "4,3,2,1"},
		{name: "version 5", call: create(pubDoc("v5"), false), wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "a sixth version", call: create(pubDoc("v6"), true), wantErr: "VersionsLimitExceededException", wantHTTP: 409,
			wantMsg: "The policy pol already has the maximum number of versions (5)", wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "malformed version", call: create(`{"Statement":[]}`, true), wantErr: "MalformedPolicyException", wantHTTP: 400, wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "delete the default version", call: deleteVersion("3"), wantErr: "DeleteConflictException", wantHTTP: 409,
			wantMsg: "Cannot delete the default version of a policy", wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "delete an unknown version", call: deleteVersion("9"), wantErr: "ResourceNotFoundException", wantHTTP: 404, wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "delete a bad version id", call: deleteVersion("v1"), wantErr: "InvalidRequestException", wantHTTP: 400, wantDefault: "3", wantIDs: "5,4,3,2,1"},
		{name: "delete version 1", call: deleteVersion("1"), wantDefault: "3", wantIDs: "5,4,3,2"},
		{name: "ids are not reused", call: create(pubDoc("v6"), false), wantDefault: "3", wantIDs: "6,5,4,3,2"},
		{name: "set default to 6", call: setDefault("6"), wantDefault: "6", wantIDs: "6,5,4,3,2"},
		{name: "set default to an unknown version", call: setDefault("1"), wantErr: "ResourceNotFoundException", wantHTTP: 404, wantDefault: "6", wantIDs: "6,5,4,3,2"},
		{name: "delete the policy while versions remain", call: func() error { return errOf(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: name})) },
			wantErr: "DeleteConflictException", wantHTTP: 409, wantMsg: "The policy cannot be deleted as versions other than than default version exist (name=pol)",
			wantDefault: "6", wantIDs: "6,5,4,3,2"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.call()
			if st.wantErr != "" {
				wantAPIError(t, err, st.wantErr, st.wantHTTP)
				if st.wantMsg != "" {
					wantErrMessage(t, err, st.wantMsg)
				}
			} else {
				mustOK(t, err)
			}
			g, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: name})
			mustOK(t, err)
			if got := aws.ToString(g.DefaultVersionId); got != st.wantDefault {
				t.Fatalf("default version: got %s, want %s", got, st.wantDefault)
			}
			if got, want := aws.ToString(g.PolicyDocument), pubDoc("v"+st.wantDefault); got != want {
				t.Fatalf("GetPolicy document: got %s, want the default version's %s", got, want)
			}
			l, err := c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: name})
			mustOK(t, err)
			var ids []string
			for _, v := range l.PolicyVersions {
				ids = append(ids, aws.ToString(v.VersionId))
				if v.IsDefaultVersion != (aws.ToString(v.VersionId) == st.wantDefault) || v.CreateDate == nil {
					t.Fatalf("version %+v: isDefaultVersion wrong or no createDate", v)
				}
			}
			if got := strings.Join(ids, ","); got != st.wantIDs {
				t.Fatalf("versions: got %s, want %s", got, st.wantIDs)
			}
		})
	}
	t.Run("GetPolicyVersion", func(t *testing.T) {
		v, err := c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("4")})
		mustOK(t, err)
		if aws.ToString(v.PolicyDocument) != pubDoc("v4") || v.IsDefaultVersion || aws.ToString(v.PolicyVersionId) != "4" ||
			aws.ToString(v.PolicyName) != "pol" || v.CreationDate == nil || v.LastModifiedDate == nil || aws.ToString(v.GenerationId) == "" {
			t.Fatalf("got %+v", v)
		}
		_, err = c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: name, PolicyVersionId: aws.String("1")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("nope"), PolicyVersionId: aws.String("1")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("nope"), PolicyDocument: aws.String(allowAll)})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("delete the policy once only the default remains", func(t *testing.T) {
		for _, id := range []string{"2", "3", "4", "5"} {
			mustOK(t, deleteVersion(id)())
		}
		mustOK(t, errOf(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: name})))
		_, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: name})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: name})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
}

func TestIdentityDeleteAttachedPolicy(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	idPolicy(t, c, "pol", allowAll)
	_, certARN := idCert(t, c, false)
	mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(certARN)})))
	_, err := c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("pol")})
	wantAPIError(t, err, "DeleteConflictException", 409)
	wantErrMessage(t, err, "The policy cannot be deleted as the policy is attached to one or more principals (name=pol)")
	mustOK(t, errOf(c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(certARN)})))
	mustOK(t, errOf(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("pol")})))
}
