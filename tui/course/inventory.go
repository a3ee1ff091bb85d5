package course

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iotlab/iotlab/exercises/target"
)

// Inventory is what the target holds of this walkthrough (names starting with Prefix): the inspect view.
type Inventory struct {
	Prefix       string
	Things       []Thing
	Certificates []Certificate
	Policies     []Policy
	Sessions     []Session
	Retained     []Retained
	// Errors are the listings that failed; the others are still shown.
	Errors []string
}

// Thing is a registry thing.
type Thing struct {
	Name  string
	Type  string
	Attrs map[string]string
}

// Certificate is a device certificate the walkthrough made.
type Certificate struct {
	ID     string
	Device string // the thing it was made for
	Status string // ACTIVE, INACTIVE, REVOKED
}

// Policy is an IoT policy and the Sids of its default version's statements.
type Policy struct {
	Name string
	Sids []string
}

// Retained is a retained message of the mTLS broker (the lab listener's are not listed: AWS has none).
type Retained struct {
	Topic   string
	Payload string
	QoS     int
}

// Inventory limits: enough for a walkthrough, bounded on a long-lived state dir or a busy account.
const (
	maxPages    = 20
	maxDescribe = 60
)

// Inventory lists the walkthrough's things, certificates, policies, sessions and retained messages.
func (c *Course) Inventory(ctx context.Context) (Inventory, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	prefix := c.RunPrefix()
	inv := Inventory{Prefix: prefix}
	fail := func(what string, err error) {
		inv.Errors = append(inv.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	if err := things(ctx, t, prefix, &inv); err != nil {
		fail("things", err)
	}
	if err := certificates(ctx, t, prefix, &inv); err != nil {
		fail("certificates", err)
	}
	if err := policies(ctx, t, prefix, &inv); err != nil {
		fail("policies", err)
	}
	if err := retained(ctx, t, prefix, &inv); err != nil {
		fail("retained messages", err)
	}
	for _, s := range c.Sessions() {
		if strings.HasPrefix(s.Client, prefix) {
			inv.Sessions = append(inv.Sessions, s)
		}
	}
	if ctx.Err() != nil {
		return inv, fmt.Errorf("course: inventory: %w", ctx.Err())
	}
	return inv, nil
}

func things(ctx context.Context, t *target.Target, prefix string, inv *Inventory) error {
	p := iot.NewListThingsPaginator(t.IoT, &iot.ListThingsInput{})
	for i := 0; p.HasMorePages() && i < maxPages; i++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, th := range out.Things {
			if name := aws.ToString(th.ThingName); strings.HasPrefix(name, prefix) {
				inv.Things = append(inv.Things, Thing{Name: name, Type: aws.ToString(th.ThingTypeName), Attrs: th.Attributes})
			}
		}
	}
	slices.SortFunc(inv.Things, func(a, b Thing) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// certificates are the ones the walkthrough's runs recorded in the target's manifest (a certificate has
// no name to filter by), with their status now.
func certificates(ctx context.Context, t *target.Target, prefix string, inv *Inventory) error {
	for _, r := range t.Manifest.Resources("") {
		if r.Kind != target.KindCertificate || !strings.HasPrefix(r.Run, prefix) || len(inv.Certificates) >= maxDescribe {
			continue
		}
		cert := Certificate{ID: r.ID, Device: r.Name, Status: "?"}
		out, err := t.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(r.ID)})
		switch {
		case err != nil && notFound(err):
			cert.Status = "DELETED"
		case err != nil:
			return err
		case out.CertificateDescription != nil:
			cert.Status = string(out.CertificateDescription.Status)
		}
		inv.Certificates = append(inv.Certificates, cert)
	}
	slices.SortFunc(inv.Certificates, func(a, b Certificate) int { return strings.Compare(a.Device, b.Device) })
	return nil
}

func policies(ctx context.Context, t *target.Target, prefix string, inv *Inventory) error {
	p := iot.NewListPoliciesPaginator(t.IoT, &iot.ListPoliciesInput{})
	for i := 0; p.HasMorePages() && i < maxPages; i++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, pol := range out.Policies {
			name := aws.ToString(pol.PolicyName)
			if !strings.HasPrefix(name, prefix) || len(inv.Policies) >= maxDescribe {
				continue
			}
			got, err := t.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
			if err != nil {
				return err
			}
			inv.Policies = append(inv.Policies, Policy{Name: name, Sids: sids(aws.ToString(got.PolicyDocument))})
		}
	}
	slices.SortFunc(inv.Policies, func(a, b Policy) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// sids names a policy document's statements: their Sid, or their position.
func sids(doc string) []string {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return nil
	}
	var list []struct{ Sid string }
	if json.Unmarshal(d.Statement, &list) != nil {
		var one struct{ Sid string }
		if json.Unmarshal(d.Statement, &one) != nil {
			return nil
		}
		list = append(list, one)
	}
	var out []string
	for i, s := range list {
		if s.Sid == "" {
			s.Sid = fmt.Sprintf("#%d", i+1)
		}
		out = append(out, s.Sid)
	}
	return out
}

func retained(ctx context.Context, t *target.Target, prefix string, inv *Inventory) error {
	if t.Data == nil {
		return nil
	}
	p := iotdataplane.NewListRetainedMessagesPaginator(t.Data, &iotdataplane.ListRetainedMessagesInput{})
	for i := 0; p.HasMorePages() && i < maxPages; i++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, m := range out.RetainedTopics {
			topic := aws.ToString(m.Topic)
			if !strings.HasPrefix(topic, prefix) || len(inv.Retained) >= maxDescribe {
				continue
			}
			r := Retained{Topic: topic, QoS: int(m.Qos)}
			if got, err := t.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)}); err == nil {
				r.Payload = string(got.Payload)
			}
			inv.Retained = append(inv.Retained, r)
		}
	}
	slices.SortFunc(inv.Retained, func(a, b Retained) int { return strings.Compare(a.Topic, b.Topic) })
	return nil
}

// AttrString renders a thing's attributes as k=v, sorted.
func (t Thing) AttrString() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t.Attrs)) {
		parts = append(parts, k+"="+t.Attrs[k])
	}
	return strings.Join(parts, ", ")
}
