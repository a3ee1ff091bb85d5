package awsapi

import (
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/iotlab/iotlab/emulator/awsapi/datamodel"
	"github.com/iotlab/iotlab/emulator/awsapi/wire"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/registry"
)

// The device data endpoint: iot-data served to devices that authenticate with their X.509 certificate
// over HTTPS (AWS's port 8443, and 443 with ALPN x-amzn-http-ca) rather than with SigV4. The routes,
// decoders and handlers are the iotdata operations' own (data.go, data_shadows.go); what differs is who
// decides: before an operation runs, the device's IoT policy must allow its action on its resource.
// AWS: protocols, http.html, device-shadow-rest-api, iot-policy-actions, iot-action-resources

// DeviceAuthorizer decides a device's request with its IoT policy; emulator/instance binds it to the
// broker, which resolves the certificate's identity and policies exactly as for MQTT.
type DeviceAuthorizer interface {
	// AuthorizeDevice reports whether the device that sent r (r.TLS carries its certificate) may do
	// action on resource: the ARN's resource part ("topic/a/b", "thing/lamp", "thing/lamp/config",
	// "client/id") or "*". false also when the certificate cannot authenticate (not registered, not
	// ACTIVE, …): AWS answers both alike.
	AuthorizeDevice(r *http.Request, action, resource string) bool
}

// deviceCheck is one policy check of a device's request.
type deviceCheck struct{ action, resource string }

// deviceOps are the iotdata operations a device may call over HTTPS, with the checks each needs, from
// the route's URI labels and the query. Control-plane and STS operations are not served there.
// AWS: iot-policy-actions, iot-action-resources
var deviceOps = map[string]func(labels map[string]string, q url.Values) []deviceCheck{
	"Publish": func(l map[string]string, q url.Values) []deviceCheck {
		cs := []deviceCheck{{"iot:Publish", "topic/" + l["topic"]}}
		// AWS: iot-policy-actions — "To grant iot:RetainPublish permission, you also must grant
		// iot:Publish permission." The decoder reads retain with the same rule.
		if retain, err := strconv.ParseBool(q.Get("retain")); err == nil && retain {
			cs = append(cs, deviceCheck{"iot:RetainPublish", "topic/" + l["topic"]})
		}
		return cs
	},
	"GetThingShadow":           shadowCheck("iot:GetThingShadow"),
	"UpdateThingShadow":        shadowCheck("iot:UpdateThingShadow"),
	"DeleteThingShadow":        shadowCheck("iot:DeleteThingShadow"),
	"ListNamedShadowsForThing": anyCheck("iot:ListNamedShadowsForThing"), // the resource "must be *"
	"GetRetainedMessage": func(l map[string]string, _ url.Values) []deviceCheck {
		return []deviceCheck{{"iot:GetRetainedMessage", "topic/" + l["topic"]}}
	},
	"ListRetainedMessages": anyCheck("iot:ListRetainedMessages"), // the resource "must be *"
	"DeleteConnection": func(l map[string]string, _ url.Values) []deviceCheck {
		return []deviceCheck{{"iot:DeleteConnection", "client/" + l["clientId"]}}
	},
}

// shadowCheck: "thing/<thing>" for the classic shadow, "thing/<thing>/<shadow>" for a named one.
// AWS: iot-action-resources ("The thing's name, and the shadow's name, if applicable")
func shadowCheck(action string) func(map[string]string, url.Values) []deviceCheck {
	return func(l map[string]string, q url.Values) []deviceCheck {
		res := "thing/" + l["thingName"]
		if name := q.Get("name"); name != "" {
			res += "/" + name
		}
		return []deviceCheck{{action, res}}
	}
}

func anyCheck(action string) func(map[string]string, url.Values) []deviceCheck {
	return func(map[string]string, url.Values) []deviceCheck { return []deviceCheck{{action, "*"}} }
}

// DeviceHandler serves the iot-data operations to devices over HTTPS, each decided by auth first. The
// scope is the server's default account and region. Front-end refusals answer as AWS's device gateway
// does: 403 ForbiddenException {"message":"Forbidden","traceId":…} for a request the policy does not
// allow or a certificate that cannot authenticate (observed: aws/aws-iot-device-sdk-js#70, re:Post
// "call device shadow restapi … client certificate": "Forbidden"), and 404 ResourceNotFoundException
// {"message":"Not Found","traceId":…} for a path that is no device operation (control plane, STS).
func (s *Server) DeviceHandler(auth DeviceAuthorizer) http.Handler {
	h := &deviceHandler{s: s, auth: auth}
	for _, svc := range s.services {
		if svc.name == datamodel.SigningName {
			h.router = svc.router
		}
	}
	return h
}

type deviceHandler struct {
	s      *Server
	auth   DeviceAuthorizer
	router *wire.Router
}

func (h *deviceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	reqID := s.requestID()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("awsapi: panic", "panic", p, "stack", string(debug.Stack()))
			wire.WriteError(w, datamodel.SigningName, reqID, awserr.New(awserr.InternalFailure, "An internal error occurred"))
		}
	}()
	q := r.URL.Query()
	rt, labels, mismatch := h.router.Match(r.Method, devicePath(r.URL.EscapedPath()), q)
	var checks func(map[string]string, url.Values) []deviceCheck
	if rt != nil {
		checks = deviceOps[rt.Op]
	}
	if checks == nil {
		if mismatch {
			wire.WriteError(w, datamodel.SigningName, reqID, awserr.New(awserr.MethodNotAllowed,
				"The method %s is not allowed on %s", r.Method, r.URL.EscapedPath()))
			return
		}
		frontEndError(w, reqID, awserr.ResourceNotFound, "Not Found")
		return
	}
	for _, c := range checks(labels, q) {
		if !h.auth.AuthorizeDevice(r, c.action, c.resource) {
			s.log.Debug("awsapi: device request refused", "op", rt.Op, "action", c.action, "resource", c.resource)
			frontEndError(w, reqID, awserr.Forbidden, "Forbidden")
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, wire.MaxBody+1))
	if err != nil {
		wire.WriteError(w, datamodel.SigningName, reqID, awserr.InvalidReq("could not read the request body"))
		return
	}
	if len(body) > wire.MaxBody {
		wire.WriteError(w, datamodel.SigningName, reqID, awserr.New(awserr.RequestEntityTooLarge, "The request body is too large"))
		return
	}
	f, ok := s.ops[datamodel.SigningName+"."+rt.Op]
	if !ok {
		frontEndError(w, reqID, awserr.ResourceNotFound, "Not Found")
		return
	}
	req := &Request{
		Scope:   registry.Scope{Account: s.cfg.Account, Region: s.cfg.Region},
		Op:      rt.Op,
		Header:  r.Header,
		Context: r.Context(),
	}
	out, err := f(req, rt, labels, body, q)
	if err != nil {
		if e := awserr.From(err); e.Code == awserr.InternalFailure {
			s.log.Error("awsapi: internal failure", "op", rt.Op, "err", err)
		}
		wire.WriteError(w, datamodel.SigningName, reqID, err)
		return
	}
	w.Header().Set("x-amzn-RequestId", reqID)
	if rt.Op == "Publish" {
		// What AWS's device gateway answers a publish (observed with curl on 8443, e.g. in the
		// Moddable and Zenn walk-throughs): {"message":"OK","traceId":"<x-amzn-RequestId>"}.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"message":"OK","traceId":"`+reqID+`"}`)
		return
	}
	if err := wire.Encode(w, rt, out); err != nil {
		s.log.Error("awsapi: encode", "op", rt.Op, "err", err)
	}
}

// frontEndError answers as the device gateway does before any operation runs: the body carries the
// request's id as traceId (observed on AWS's 8443: {"message":"Not Found","traceId":"47e0eda8-…"}).
func frontEndError(w http.ResponseWriter, reqID, code, msg string) {
	wire.WriteError(w, datamodel.SigningName, reqID, &awserr.Error{Code: code, Message: msg, Fields: map[string]string{"traceId": reqID}})
}

// devicePath lets the topic of /topics/{topic} and /retainedMessage/{topic} span segments: AWS's own
// HTTPS example builds the URL with the topic as is ("/topics/" + "test/topic"), while the SDKs send
// it escaped; both name the same topic. AWS: http.html (Python example)
func devicePath(escaped string) string {
	for _, prefix := range []string{"/topics/", "/retainedMessage/"} {
		if rest, ok := strings.CutPrefix(escaped, prefix); ok && rest != "" {
			return prefix + strings.ReplaceAll(rest, "/", "%2F")
		}
	}
	return escaped
}
