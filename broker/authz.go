package broker

import (
	"sync"
	"time"

	"github.com/iotlab/iotlab/emulator/policy"
)

// IoT policy actions checked by the broker. AWS: iot-policy-actions
const (
	actConnect       = "iot:Connect"
	actPublish       = "iot:Publish"
	actRetainPublish = "iot:RetainPublish"
	actSubscribe     = "iot:Subscribe"
	actReceive       = "iot:Receive"
)

// decisionCacheMax bounds each per-connection decision cache; a full cache is emptied.
const decisionCacheMax = 512

// authzState is a connection's view of its principal and its cached decisions. One mutex guards it;
// deliveries to one client are serialised by mochi's writer anyway.
type authzState struct {
	mu      sync.Mutex // guards everything below
	p       *principal
	publish map[string]policy.Decision // topic → iot:Publish
	retain  map[string]policy.Decision // topic → iot:RetainPublish
	receive map[string]policy.Decision // topic → iot:Receive
}

// principal is a snapshot of what the Directory said about a connection.
type principal struct {
	gen      uint64 // Server.policyGen when resolved
	at       time.Time
	policies []policy.Policy
	ctx      *policy.Context
	err      error
}

// resolvePrincipal asks the Directory for the connection's policies and thing and builds the policy
// context: client ID, thing, certificate, SNI, source IP and connect attributes.
func (s *Server) resolvePrincipal(c *conn) *principal {
	p := &principal{gen: s.policyGen.Load(), at: s.now()}
	pols, thing, err := s.dir.Principal(c.certID, c.clientID)
	if err != nil {
		p.err = err
		s.log.Warn("broker: resolving principal", "cert", c.certID, "client", c.clientID, "err", err)
		return p
	}
	p.policies = pols
	p.ctx = &policy.Context{
		Region:            s.opt.Region,
		Account:           s.opt.Account,
		ClientID:          c.clientID,
		HasClientID:       true,
		DomainName:        c.sni,
		SourceIP:          c.remoteIP,
		Thing:             thing,
		Cert:              c.certFor(pols),
		ConnectAttributes: c.connectAttrs,
	}
	return p
}

// current returns the principal in force, resolving it again when the control plane reported a
// policy change (after Quirks.PolicyCacheTTL), which also empties the decision caches. Callers hold a.mu.
func (s *Server) current(c *conn) *principal {
	a := &c.authz
	gen := s.policyGen.Load()
	if a.p == nil || (a.p.gen != gen && s.now().Sub(a.p.at) >= s.quirks.PolicyCacheTTL) {
		a.p = s.resolvePrincipal(c)
		clear(a.publish)
		clear(a.retain)
		clear(a.receive)
	}
	return a.p
}

// decide evaluates one request for the connection; resource is the ARN's resource part
// ("topic/a/b"). cache, when not nil, memoises by key.
func (s *Server) decide(c *conn, action, resource string, cache *map[string]policy.Decision, key string) policy.Decision {
	a := &c.authz
	a.mu.Lock()
	defer a.mu.Unlock()
	p := s.current(c)
	if cache != nil {
		if d, ok := (*cache)[key]; ok {
			return d
		}
	}
	arn := s.arnPrefix + resource
	var d policy.Decision
	if p.err != nil {
		d = policy.Decision{Effect: policy.ImplicitDeny, Action: action, Resource: arn}
	} else {
		d = policy.Decide(policy.Request{Action: action, Resource: arn, Policies: p.policies, Context: p.ctx})
	}
	if cache != nil {
		if *cache == nil || len(*cache) >= decisionCacheMax {
			*cache = make(map[string]policy.Decision, 16)
		}
		(*cache)[key] = d
	}
	return d
}

// Resources. AWS: iot-action-resources
func clientResource(id string) string { return "client/" + id }
func topicResource(t string) string   { return "topic/" + t }
func filterResource(f string) string  { return "topicfilter/" + f }
func (s *Server) canConnect(c *conn) policy.Decision {
	return s.decide(c, actConnect, clientResource(c.clientID), nil, "")
}

func (s *Server) canPublish(c *conn, topic string) policy.Decision {
	return s.decide(c, actPublish, topicResource(topic), &c.authz.publish, topic)
}

func (s *Server) canRetain(c *conn, topic string) policy.Decision {
	return s.decide(c, actRetainPublish, topicResource(topic), &c.authz.retain, topic)
}

func (s *Server) canSubscribe(c *conn, filter string) policy.Decision {
	return s.decide(c, actSubscribe, filterResource(filter), nil, "")
}

func (s *Server) canReceive(c *conn, topic string) policy.Decision {
	return s.decide(c, actReceive, topicResource(topic), &c.authz.receive, topic)
}

// certFor returns the certificate's policy values (${iot:Certificate.…}) when one of pols reads them,
// nil otherwise: the decision is then the same, and the values, about 1 KB per connection, are built
// only for the few policies that use them — later too, if a policy change brings one.
// Callers hold c.authz.mu or own c.
func (c *conn) certFor(pols []policy.Policy) *policy.CertInfo {
	if c.certInfo != nil || c.leaf == nil {
		return c.certInfo
	}
	for _, p := range pols {
		if p.Doc != nil && p.Doc.UsesCertificate() {
			c.certInfo = policy.FromX509(c.leaf)
			break
		}
	}
	return c.certInfo
}
