package awsapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func policyNames(ps []types.Policy) string {
	var names []string
	for _, p := range ps {
		names = append(names, aws.ToString(p.PolicyName))
	}
	return strings.Join(names, ",")
}

const groupARN = "arn:aws:iot:eu-west-1:123456789012:thinggroup/"

func TestIdentityAttachPolicy(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	for i := range 12 {
		idPolicy(t, c, fmt.Sprintf("p%02d", i), allowAll)
	}
	_, certARN := idCert(t, c, false)
	for _, g := range []struct{ name, parent string }{{"site", ""}, {"floor", "site"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
		}
		mustOK(t, errOf(c.CreateThingGroup(ctx, in)))
	}
	attach := func(policy, target string) func() error {
		return func() error {
			return errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(target)}))
		}
	}
	steps := []struct {
		name     string
		call     func() error
		wantErr  string
		wantHTTP int
	}{
		{"unknown policy", attach("nope", certARN), "ResourceNotFoundException", 404},
		{"unknown certificate", attach("p00", "arn:aws:iot:eu-west-1:123456789012:cert/"+strings.Repeat("a", 64)), "ResourceNotFoundException", 404},
		{"unknown thing group", attach("p00", groupARN+"nope"), "ResourceNotFoundException", 404},
		{"another account's certificate", attach("p00", strings.Replace(certARN, "123456789012", "210987654321", 1)), "ResourceNotFoundException", 404},
		{"a thing ARN is not a target", attach("p00", "arn:aws:iot:eu-west-1:123456789012:thing/door"), "InvalidRequestException", 400},
		{"not an ARN", attach("p00", "door"), "InvalidRequestException", 400},
		{"a Cognito identity (not emulated)", attach("p00", "eu-west-1:0f2b5e5e-0000-4000-8000-000000000001"), "InvalidRequestException", 400},
		{"ten policies on the certificate", func() error {
			for i := range 10 {
				if err := attach(fmt.Sprintf("p%02d", i), certARN)(); err != nil {
					return err
				}
			}
			return nil
		}, "", 200},
		{"attaching again is a no-op", attach("p09", certARN), "", 200},
		{"an eleventh", attach("p10", certARN), "LimitExceededException", 410},
		{"two policies on a thing group", func() error {
			if err := attach("p10", groupARN+"floor")(); err != nil {
				return err
			}
			return attach("p11", groupARN+"floor")()
		}, "", 200},
		{"a third on the group", attach("p00", groupARN+"floor"), "LimitExceededException", 410},
		{"the parent group", attach("p00", groupARN+"site"), "", 200},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.call()
			if st.wantErr != "" {
				wantAPIError(t, err, st.wantErr, st.wantHTTP)
				return
			}
			mustOK(t, err)
		})
	}
	lists := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"ListAttachedPolicies of the certificate", func() (string, error) {
			var all []types.Policy
			p := iot.NewListAttachedPoliciesPaginator(c, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN), PageSize: aws.Int32(4)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return "", err
				}
				all = append(all, out.Policies...)
			}
			return policyNames(all), nil
		}, "p00,p01,p02,p03,p04,p05,p06,p07,p08,p09"},
		{"ListAttachedPolicies of a group", func() (string, error) {
			out, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(groupARN + "floor")})
			if err != nil {
				return "", err
			}
			return policyNames(out.Policies), nil
		}, "p10,p11"},
		{"ListAttachedPolicies recursive", func() (string, error) {
			out, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(groupARN + "floor"), Recursive: true})
			if err != nil {
				return "", err
			}
			return policyNames(out.Policies), nil
		}, "p00,p10,p11"},
		{"ListTargetsForPolicy", func() (string, error) {
			out, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p00")})
			if err != nil {
				return "", err
			}
			return strings.Join(out.Targets, ","), nil
		}, certARN + "," + groupARN + "site"},
		{"ListPrincipalPolicies, descending", func() (string, error) {
			out, err := c.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{Principal: aws.String(certARN), PageSize: aws.Int32(3)})
			if err != nil {
				return "", err
			}
			return policyNames(out.Policies), nil
		}, "p09,p08,p07"},
		{"ListPrincipalPolicies, ascending", func() (string, error) {
			out, err := c.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{Principal: aws.String(certARN), PageSize: aws.Int32(3), AscendingOrder: true})
			if err != nil {
				return "", err
			}
			return policyNames(out.Policies), nil
		}, "p00,p01,p02"},
		{"ListPolicyPrincipals", func() (string, error) {
			out, err := c.ListPolicyPrincipals(ctx, &iot.ListPolicyPrincipalsInput{PolicyName: aws.String("p00"), AscendingOrder: true})
			if err != nil {
				return "", err
			}
			return strings.Join(out.Principals, ","), nil
		}, certARN + "," + groupARN + "site"},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			got, err := l.call()
			mustOK(t, err)
			if got != l.want {
				t.Fatalf("got %s, want %s", got, l.want)
			}
		})
	}
	t.Run("list errors", func(t *testing.T) {
		_, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(groupARN + "nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.ListPolicyPrincipals(ctx, &iot.ListPolicyPrincipalsInput{PolicyName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN), PageSize: aws.Int32(0)})
		wantAPIError(t, err, "InvalidRequestException", 400)
	})
	t.Run("detach", func(t *testing.T) {
		for _, p := range []string{"p00", "p00"} { // the second is a no-op
			mustOK(t, errOf(c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(p), Target: aws.String(certARN)})))
		}
		mustOK(t, errOf(c.DetachPrincipalPolicy(ctx, &iot.DetachPrincipalPolicyInput{PolicyName: aws.String("p01"), Principal: aws.String(certARN)})))
		mustOK(t, errOf(c.AttachPrincipalPolicy(ctx, &iot.AttachPrincipalPolicyInput{PolicyName: aws.String("p10"), Principal: aws.String(certARN)})))
		out, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)})
		mustOK(t, err)
		if got, want := policyNames(out.Policies), "p02,p03,p04,p05,p06,p07,p08,p09,p10"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		_, err = c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("nope"), Target: aws.String(certARN)})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	})
}

func TestIdentityThingPrincipals(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	for _, n := range []string{"door", "window", "lamp"} {
		idThing(t, c, n)
	}
	_, shared := idCert(t, c, false)
	_, solo := idCert(t, c, false)
	attach := func(thing, principal string, typ types.ThingPrincipalType) func() error {
		return func() error {
			return errOf(c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal), ThingPrincipalType: typ}))
		}
	}
	detach := func(thing, principal string) func() error {
		return func() error {
			return errOf(c.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal)}))
		}
	}
	steps := []struct {
		name     string
		call     func() error
		wantErr  string
		wantHTTP int
	}{
		{"non-exclusive by default", attach("door", shared, ""), "", 200},
		{"the same certificate on a second thing", attach("window", shared, types.ThingPrincipalTypeNonExclusiveThing), "", 200},
		{"again is a no-op", attach("window", shared, ""), "", 200},
		{"exclusive while attached elsewhere", attach("lamp", shared, types.ThingPrincipalTypeExclusiveThing), "InvalidRequestException", 400},
		{"exclusive", attach("lamp", solo, types.ThingPrincipalTypeExclusiveThing), "", 200},
		{"another thing for an exclusive certificate", attach("door", solo, ""), "InvalidRequestException", 400},
		{"unknown thing", attach("nope", solo, ""), "ResourceNotFoundException", 404},
		{"unknown certificate", attach("door", "arn:aws:iot:eu-west-1:123456789012:cert/"+strings.Repeat("9", 64), ""), "ResourceNotFoundException", 404},
		{"a thing group is no thing principal", attach("door", groupARN+"g", ""), "ResourceNotFoundException", 404},
		{"unknown type", attach("door", shared, "SHARED"), "InvalidRequestException", 400},
		{"bad thing name", attach("a/b", shared, ""), "InvalidRequestException", 400},
		{"delete a thing with a principal", func() error {
			return errOf(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("door")}))
		}, "InvalidRequestException", 400},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.call()
			if st.wantErr != "" {
				wantAPIError(t, err, st.wantErr, st.wantHTTP)
				return
			}
			mustOK(t, err)
		})
	}
	lists := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"ListThingPrincipals", func() (string, error) {
			out, err := c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("door")})
			if err != nil {
				return "", err
			}
			return strings.Join(out.Principals, ","), nil
		}, shared},
		{"ListPrincipalThings", func() (string, error) {
			out, err := c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(shared)})
			if err != nil {
				return "", err
			}
			return strings.Join(out.Things, ","), nil
		}, "door,window"},
		{"ListPrincipalThings paged", func() (string, error) {
			var things []string
			p := iot.NewListPrincipalThingsPaginator(c, &iot.ListPrincipalThingsInput{Principal: aws.String(shared), MaxResults: aws.Int32(1)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return "", err
				}
				things = append(things, out.Things...)
			}
			return strings.Join(things, ","), nil
		}, "door,window"},
		{"ListThingPrincipalsV2", func() (string, error) {
			out, err := c.ListThingPrincipalsV2(ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("lamp")})
			if err != nil {
				return "", err
			}
			var s []string
			for _, o := range out.ThingPrincipalObjects {
				s = append(s, aws.ToString(o.Principal)+"="+string(o.ThingPrincipalType))
			}
			return strings.Join(s, ","), nil
		}, solo + "=EXCLUSIVE_THING"},
		{"ListThingPrincipalsV2 filtered", func() (string, error) {
			out, err := c.ListThingPrincipalsV2(ctx, &iot.ListThingPrincipalsV2Input{ThingName: aws.String("lamp"), ThingPrincipalType: types.ThingPrincipalTypeNonExclusiveThing})
			if err != nil {
				return "", err
			}
			return fmt.Sprint(len(out.ThingPrincipalObjects)), nil
		}, "0"},
		{"ListPrincipalThingsV2", func() (string, error) {
			out, err := c.ListPrincipalThingsV2(ctx, &iot.ListPrincipalThingsV2Input{Principal: aws.String(shared)})
			if err != nil {
				return "", err
			}
			var s []string
			for _, o := range out.PrincipalThingObjects {
				s = append(s, aws.ToString(o.ThingName)+"="+string(o.ThingPrincipalType))
			}
			return strings.Join(s, ","), nil
		}, "door=NON_EXCLUSIVE_THING,window=NON_EXCLUSIVE_THING"},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			got, err := l.call()
			mustOK(t, err)
			if got != l.want {
				t.Fatalf("got %s, want %s", got, l.want)
			}
		})
	}
	t.Run("list errors", func(t *testing.T) {
		_, err := c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("nope")})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		wantErrMessage(t, err, "Failed to list principals for thing nope because the thing does not exist in your account")
		_, err = c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String("arn:aws:iot:eu-west-1:123456789012:cert/" + strings.Repeat("9", 64))})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
		_, err = c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("door"), MaxResults: aws.Int32(251)})
		wantAPIError(t, err, "InvalidRequestException", 400)
	})
	t.Run("detach", func(t *testing.T) {
		for _, step := range []func() error{detach("door", shared), detach("door", shared), detach("lamp", solo)} {
			mustOK(t, step())
		}
		out, err := c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(shared)})
		mustOK(t, err)
		if got := strings.Join(out.Things, ","); got != "window" {
			t.Fatalf("after detaching door: got %s, want window", got)
		}
		mustOK(t, attach("door", solo, types.ThingPrincipalTypeExclusiveThing)()) // free again once detached
		wantAPIError(t, detach("nope", shared)(), "ResourceNotFoundException", 404)
		mustOK(t, errOf(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("lamp")})))
	})
}

func TestIdentityGetEffectivePolicies(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	for _, p := range []string{"cert-pol", "site-pol", "floor-pol", "other-pol"} {
		idPolicy(t, c, p, pubDoc(p))
	}
	_, certARN := idCert(t, c, true)
	mustOK(t, errOf(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site")})))
	mustOK(t, errOf(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("floor"), ParentGroupName: aws.String("site")})))
	mustOK(t, errOf(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("other")})))
	idThing(t, c, "lamp")
	mustOK(t, errOf(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("lamp"), ThingGroupName: aws.String("floor")})))
	for _, a := range [][2]string{{"cert-pol", certARN}, {"site-pol", groupARN + "site"}, {"floor-pol", groupARN + "floor"}, {"other-pol", groupARN + "other"}} {
		mustOK(t, errOf(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(a[0]), Target: aws.String(a[1])})))
	}
	tests := []struct {
		name, principal, thing string
		want                   string
		wantErr                string
		wantHTTP               int
	}{
		{name: "certificate only", principal: certARN, want: "cert-pol"},
		{name: "certificate and thing: groups and ancestors", principal: certARN, thing: "lamp", want: "cert-pol,floor-pol,site-pol"},
		{name: "thing only", thing: "lamp", want: "floor-pol,site-pol"},
		{name: "thing group principal", principal: groupARN + "floor", want: "floor-pol,site-pol"},
		{name: "unknown thing", principal: certARN, thing: "nope", wantErr: "ResourceNotFoundException", wantHTTP: 404},
		{name: "unknown certificate", principal: "arn:aws:iot:eu-west-1:123456789012:cert/" + strings.Repeat("7", 64), wantErr: "ResourceNotFoundException", wantHTTP: 404},
		{name: "nothing to look up", wantErr: "InvalidRequestException", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &iot.GetEffectivePoliciesInput{}
			if tt.principal != "" {
				in.Principal = aws.String(tt.principal)
			}
			if tt.thing != "" {
				in.ThingName = aws.String(tt.thing)
			}
			out, err := c.GetEffectivePolicies(ctx, in)
			if tt.wantErr != "" {
				wantAPIError(t, err, tt.wantErr, tt.wantHTTP)
				return
			}
			mustOK(t, err)
			var names []string
			for _, ep := range out.EffectivePolicies {
				n := aws.ToString(ep.PolicyName)
				names = append(names, n)
				if aws.ToString(ep.PolicyDocument) != pubDoc(n) || aws.ToString(ep.PolicyArn) != "arn:aws:iot:eu-west-1:123456789012:policy/"+n {
					t.Fatalf("entry %+v: wrong document or ARN", ep)
				}
			}
			if got := strings.Join(names, ","); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
