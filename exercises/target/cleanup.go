package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/smithy-go"
)

// CleanupReport says what Cleanup did.
type CleanupReport struct {
	Deleted []Resource
	Left    []Resource // still there (see their Note)
	Errors  []error
}

// Cleanup deletes the given resources from the target, dependents first (rules, attachments,
// certificates, things, groups, policies, thing types), and forgets the deleted ones in the manifest.
// What is already gone counts as deleted. A thing type can only be deleted five minutes after it was
// deprecated (AWS: API_DeleteThingType): Cleanup deprecates it and leaves it, noted, for a later run.
func (t *Target) Cleanup(ctx context.Context, rs []Resource) CleanupReport {
	var rep CleanupReport
	sorted := slices.Clone(rs)
	// Dependents first; within a kind, newest first (child groups before their parents).
	slices.SortStableFunc(sorted, func(a, b Resource) int {
		if d := slices.Index(kindOrder, a.Kind) - slices.Index(kindOrder, b.Kind); d != 0 {
			return d
		}
		return b.Created.Compare(a.Created)
	})
	for _, r := range sorted {
		err := t.delete(ctx, r)
		var keep *keepError
		switch {
		case err == nil || notFound(err):
			rep.Deleted = append(rep.Deleted, r)
		case errors.As(err, &keep):
			r.Note = keep.note
			_ = t.Manifest.Note(r, keep.note)
			rep.Left = append(rep.Left, r)
		default:
			rep.Left = append(rep.Left, r)
			rep.Errors = append(rep.Errors, fmt.Errorf("%s %s: %w", r.Kind, r.Name, err))
		}
	}
	if err := t.Manifest.Remove(rep.Deleted...); err != nil {
		rep.Errors = append(rep.Errors, err)
	}
	return rep
}

type keepError struct{ note string }

func (e *keepError) Error() string { return e.note }

func notFound(err error) bool {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

// retry repeats f while AWS reports a conflict that eventual consistency resolves (a detach that has
// not propagated yet), for at most ten seconds.
func retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		var ae smithy.APIError
		if err == nil || !errors.As(err, &ae) || time.Now().After(deadline) {
			return err
		}
		switch ae.ErrorCode() {
		case "DeleteConflictException", "InvalidRequestException", "CertificateStateException", "ThrottlingException":
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

func (t *Target) delete(ctx context.Context, r Resource) error {
	c := t.IoT
	switch r.Kind {
	case KindRule:
		_, err := c.DeleteTopicRule(ctx, &iot.DeleteTopicRuleInput{RuleName: aws.String(r.Name)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "UnauthorizedException" {
			return nil // AWS answers a missing rule with 401 (checklist 78)
		}
		return err
	case KindRetained:
		// An empty retained message deletes it. AWS: mqtt.html#mqtt-retain
		_, err := t.Data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(r.Name), Retain: true, Qos: 1})
		return err
	case KindShadow:
		_, err := t.Data.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(r.Name)})
		return err
	case KindPolicyTarget:
		_, err := c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(r.Name), Target: aws.String(r.Target)})
		return err
	case KindThingPrincipal:
		_, err := c.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(r.Name), Principal: aws.String(r.Target)})
		return err
	case KindCertificate:
		if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(r.ID), NewStatus: types.CertificateStatusInactive}); err != nil {
			return err
		}
		return retry(ctx, func() error {
			_, err := c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(r.ID)})
			return err
		})
	case KindThing:
		return retry(ctx, func() error {
			_, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(r.Name)})
			return err
		})
	case KindThingGroup:
		_, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(r.Name)})
		return err
	case KindBillingGroup:
		_, err := c.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String(r.Name)})
		return err
	case KindPolicy:
		vs, err := c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(r.Name)})
		if err != nil {
			return err
		}
		for _, v := range vs.PolicyVersions {
			if !v.IsDefaultVersion {
				if _, err := c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(r.Name), PolicyVersionId: v.VersionId}); err != nil {
					return err
				}
			}
		}
		return retry(ctx, func() error {
			_, err := c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String(r.Name)})
			return err
		})
	case KindThingType:
		d, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(r.Name)})
		if err != nil {
			return err
		}
		if d.ThingTypeMetadata == nil || !d.ThingTypeMetadata.Deprecated {
			if _, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String(r.Name)}); err != nil {
				return err
			}
		}
		_, err = c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String(r.Name)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRequestException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "deprecat") {
			// AWS: API_DeleteThingType — "wait five minutes after deprecating".
			return &keepError{note: "deprecated; AWS deletes a thing type only 5 minutes after deprecation: run `iotlab aws cleanup` again later"}
		}
		return err
	}
	return fmt.Errorf("target: unknown resource kind %q", r.Kind)
}
