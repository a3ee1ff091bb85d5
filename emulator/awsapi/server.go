// Package awsapi serves the AWS IoT control plane (service "iot"), the iot-data plane ("iotdata") and
// STS GetCallerIdentity on one HTTP endpoint, over the wire protocols the AWS SDKs speak. Handlers
// translate between the generated wire shapes (iotmodel, datamodel) and the registry; the protocol
// itself lives in wire. Any SigV4-signed (or unsigned) request is accepted unless Config.RequireAuth.
package awsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/iotlab/iotlab/certs"
	"github.com/iotlab/iotlab/emulator/awsapi/datamodel"
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

// Config wires the API to its state and to the facts it reports.
type Config struct {
	Account      string // default 123456789012
	Region       string // default region for unsigned requests; signed requests use their credential scope
	EndpointHost string // what DescribeEndpoint answers (a bare host)
	Registry     *registry.Registry
	CA           *certs.CA        // issues CreateKeysAndCertificate and CreateCertificateFromCsr certificates
	Logger       *slog.Logger     // nil discards
	Now          func() time.Time // default time.Now
	Rand         io.Reader        // default crypto/rand
	// Extra handles paths outside the AWS APIs, e.g. "/_iotlab/health"; nil for none. They are served
	// before, and without, SigV4 verification.
	Extra map[string]http.Handler

	// RequireAuth makes every AWS API request prove a SigV4 signature made with one of Credentials
	// (access key id → secret access key); see auth.go. Off, any signature, or none, is accepted.
	RequireAuth bool
	Credentials map[string]string

	// Throttle answers the calls beyond AWS's per-API rate quotas with ThrottlingException (HTTP 400
	// on the control plane, 429 on iot-data; throttle.go). Off by default, a deliberate deviation:
	// AWS always throttles (`--api-throttle`).
	Throttle bool

	// The iot-data plane's back ends (data.go); a nil one makes its operations answer
	// ServiceUnavailableException.
	DataPlane DataPlane // Publish, DeleteConnection: the MQTT broker
	Shadows   Shadows   // the Device Shadow operations: emulator/shadowsvc
	Retained  Retained  // GetRetainedMessage, ListRetainedMessages: the broker's retained messages
}

// Server is an http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	services []*service
	ops      map[string]operation // "<signing name>.<Op>" → handler
	throttle *throttle            // nil unless Config.Throttle
}

type service struct {
	name    string   // SigV4 signing name
	aliases []string // other signing names that reach it
	router  *wire.Router
}

// signs reports whether requests signed for the signing name reach svc.
func (svc *service) signs(name string) bool {
	return svc.name == name || slices.Contains(svc.aliases, name)
}

// Request is what a handler knows about the call beyond its input.
type Request struct {
	Scope   registry.Scope
	Op      string
	Header  http.Header
	Scope4  wire.Scope // the SigV4 credential scope; zero when unsigned
	Context context.Context
}

type operation func(r *Request, rt *wire.Route, labels map[string]string, body []byte, q map[string][]string) (any, error)

// op adapts a typed handler: decode In, call, return Out.
func op[In, Out any](f func(r *Request, in *In) (*Out, error)) operation {
	return func(r *Request, rt *wire.Route, labels map[string]string, body []byte, q map[string][]string) (any, error) {
		in := new(In)
		if err := wire.Decode(rt, labels, q, r.Header, body, in); err != nil {
			return nil, err
		}
		out, err := f(r, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return nil, nil
		}
		return out, nil
	}
}

// New builds the server and registers every implemented operation.
func New(cfg Config) *Server {
	if cfg.Account == "" {
		cfg.Account = "123456789012"
	}
	if cfg.Region == "" {
		cfg.Region = "eu-west-1"
	}
	if cfg.EndpointHost == "" {
		cfg.EndpointHost = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg,
		log: cfg.Logger,
		services: []*service{
			{name: iotmodel.SigningName, router: wire.NewRouter(iotmodel.Routes)},
			// AWS's guide names iotdevicegateway as iot-data's signing name; the SDKs sign with iotdata.
			{name: datamodel.SigningName, aliases: []string{"iotdevicegateway"}, router: wire.NewRouter(datamodel.Routes)},
		},
		ops: map[string]operation{},
	}
	if cfg.Throttle {
		s.throttle = newThrottle(cfg.Now)
	}
	s.registerEndpoint()
	s.registerThings()
	s.registerThingTypes()
	s.registerGroups()
	s.registerTags()
	s.registerCertificates()
	s.registerPolicies()
	s.registerAttachments()
	s.registerLogging()
	s.registerRules()
	s.registerData()
	return s
}

func (s *Server) handle(service, opName string, f operation) {
	s.ops[service+"."+opName] = f
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("awsapi: panic", "panic", p, "stack", string(debug.Stack()))
			wire.WriteError(w, "iot", reqID, awserr.New(awserr.InternalFailure, "An internal error occurred"))
		}
	}()
	if h, ok := s.cfg.Extra[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	scope4, signed := wire.ParseScope(r)
	stsCall := (signed && scope4.Service == "sts") || isSTS(r)
	body, err := io.ReadAll(io.LimitReader(r.Body, wire.MaxBody+1))
	if err != nil {
		wire.WriteError(w, "iot", reqID, awserr.InvalidReq("could not read the request body"))
		return
	}
	if len(body) > wire.MaxBody {
		wire.WriteError(w, "iot", reqID, awserr.New(awserr.RequestEntityTooLarge, "The request body is too large"))
		return
	}
	if !s.authenticate(w, r, body, stsCall, reqID) {
		return
	}
	if stsCall {
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.serveSTS(w, r, reqID)
		return
	}
	svc, rt, labels, mismatch := s.route(r, scope4, signed)
	if rt == nil {
		name := "iot"
		if svc != nil {
			name = svc.name
		}
		code := awserr.UnknownOperation
		msg := fmt.Sprintf("No operation matches %s %s", r.Method, r.URL.EscapedPath())
		if mismatch {
			code = awserr.MethodNotAllowed
			msg = fmt.Sprintf("The method %s is not allowed on %s", r.Method, r.URL.EscapedPath())
		}
		wire.WriteError(w, name, reqID, awserr.New(code, "%s", msg))
		return
	}
	f, ok := s.ops[svc.name+"."+rt.Op]
	if !ok {
		wire.WriteError(w, svc.name, reqID, awserr.New(awserr.UnknownOperation, "iotlab does not implement %s yet", rt.Op))
		return
	}
	region := s.cfg.Region
	if signed && scope4.Region != "" {
		region = scope4.Region
	}
	req := &Request{
		Scope:   registry.Scope{Account: s.cfg.Account, Region: region},
		Op:      rt.Op,
		Header:  r.Header,
		Scope4:  scope4,
		Context: r.Context(),
	}
	if s.throttle != nil {
		if err := s.throttle.check(req.Scope, svc.name, rt.Op, labels); err != nil {
			wire.WriteError(w, svc.name, reqID, err)
			return
		}
	}
	out, err := f(req, rt, labels, body, r.URL.Query())
	if err != nil {
		if e := awserr.From(err); e.Code == awserr.InternalFailure {
			s.log.Error("awsapi: internal failure", "op", rt.Op, "err", err)
		}
		wire.WriteError(w, svc.name, reqID, err)
		return
	}
	w.Header().Set("x-amzn-RequestId", reqID)
	if err := wire.Encode(w, rt, out); err != nil {
		s.log.Error("awsapi: encode", "op", rt.Op, "err", err)
	}
}

// route picks the service from the SigV4 scope when signed, else tries each service's routes in turn.
func (s *Server) route(r *http.Request, scope4 wire.Scope, signed bool) (svc *service, rt *wire.Route, labels map[string]string, mismatch bool) {
	q := r.URL.Query()
	for _, cand := range s.services {
		if signed && !cand.signs(scope4.Service) {
			continue
		}
		rt, labels, mm := cand.router.Match(r.Method, r.URL.EscapedPath(), q)
		if rt != nil {
			return cand, rt, labels, false
		}
		if mm {
			svc, mismatch = cand, true
		}
	}
	return svc, nil, nil, mismatch
}

func (s *Server) requestID() string {
	var b [16]byte
	_, _ = io.ReadFull(s.cfg.Rand, b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ptr returns a pointer to v, for the generated shapes' optional members.
func ptr[T any](v T) *T { return &v }

// deref returns *p or the zero value.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
