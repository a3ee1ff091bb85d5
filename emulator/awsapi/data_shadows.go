package awsapi

import (
	"errors"

	"github.com/iotlab/iotlab/emulator/awsapi/datamodel"
	"github.com/iotlab/iotlab/emulator/awserr"
	"github.com/iotlab/iotlab/emulator/shadow"
)

// The Device Shadow operations of iot-data: GET|POST|DELETE /things/{thingName}/shadow[?name=] and
// ListNamedShadowsForThing. The documents are emulator/shadow's, returned as the raw body (the model's
// blob payloads). AWS: device-shadow-rest-api

func (s *Server) registerShadows() {
	s.handle("iotdata", "GetThingShadow", op(s.getThingShadow))
	s.handle("iotdata", "UpdateThingShadow", op(s.updateThingShadow))
	s.handle("iotdata", "DeleteThingShadow", op(s.deleteThingShadow))
	s.handle("iotdata", "ListNamedShadowsForThing", op(s.listNamedShadowsForThing))
}

// shadows returns the shadow service, or the error to answer when none is wired.
func (s *Server) shadows() (Shadows, error) {
	if s.cfg.Shadows == nil {
		return nil, awserr.New(awserr.ServiceUnavailable, "The Device Shadow service is not running")
	}
	return s.cfg.Shadows, nil
}

// shadowID validates the names as the iot-data model does (ThingName [a-zA-Z0-9:_-]+ 1–128,
// ShadowName [$a-zA-Z0-9:_-]+ 1–64).
func shadowID(thing, name string) (shadow.ID, error) {
	if !shadow.ValidThingName(thing) {
		return shadow.ID{}, awserr.InvalidReq("1 validation error detected: Value '%s' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+ and have length between 1 and %d", thing, shadow.MaxThingNameBytes)
	}
	if name != "" && !shadow.ValidShadowName(name) {
		return shadow.ID{}, awserr.InvalidReq("1 validation error detected: Value '%s' at 'shadowName' failed to satisfy constraint: Member must satisfy regular expression pattern: [$a-zA-Z0-9:_-]+ and have length between 1 and %d", name, shadow.MaxShadowNameBytes)
	}
	return shadow.ID{Thing: thing, Shadow: name}, nil
}

// shadowErr turns a rejection of the shadow service into the iot-data error: the exception of its
// code (ConflictException, RequestEntityTooLargeException, …) with the shadow service's message, so
// that the HTTP status is the code. Other errors are internal failures (500) whose message names the
// cause, e.g. the store write that failed, as the registry's do ("state could not be saved: …").
func shadowErr(err error) error {
	var se *shadow.Error
	if errors.As(err, &se) {
		return awserr.New(se.Exception(), "%s", se.Message)
	}
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return awserr.New(awserr.InternalFailure, "%v", err)
}

// shadowCall validates the names and runs one shadow operation.
func (s *Server) shadowCall(thing, name string, f func(Shadows, shadow.ID) ([]byte, error)) ([]byte, error) {
	id, err := shadowID(thing, name)
	if err != nil {
		return nil, err
	}
	svc, err := s.shadows()
	if err != nil {
		return nil, err
	}
	doc, err := f(svc, id)
	if err != nil {
		return nil, shadowErr(err)
	}
	return doc, nil
}

// AWS: API_iotdata_GetThingShadow
func (s *Server) getThingShadow(r *Request, in *datamodel.GetThingShadowRequest) (*datamodel.GetThingShadowResponse, error) {
	doc, err := s.shadowCall(in.ThingName, in.ShadowName, func(svc Shadows, id shadow.ID) ([]byte, error) {
		return svc.Get(r.Scope, id, nil)
	})
	if err != nil {
		return nil, err
	}
	return &datamodel.GetThingShadowResponse{Payload: doc}, nil
}

// AWS: API_iotdata_UpdateThingShadow. The body is the request state document.
func (s *Server) updateThingShadow(r *Request, in *datamodel.UpdateThingShadowRequest) (*datamodel.UpdateThingShadowResponse, error) {
	doc, err := s.shadowCall(in.ThingName, in.ShadowName, func(svc Shadows, id shadow.ID) ([]byte, error) {
		return svc.Update(r.Scope, id, in.Payload)
	})
	if err != nil {
		return nil, err
	}
	return &datamodel.UpdateThingShadowResponse{Payload: doc}, nil
}

// AWS: API_iotdata_DeleteThingShadow
func (s *Server) deleteThingShadow(r *Request, in *datamodel.DeleteThingShadowRequest) (*datamodel.DeleteThingShadowResponse, error) {
	doc, err := s.shadowCall(in.ThingName, in.ShadowName, func(svc Shadows, id shadow.ID) ([]byte, error) {
		return svc.Delete(r.Scope, id, nil)
	})
	if err != nil {
		return nil, err
	}
	return &datamodel.DeleteThingShadowResponse{Payload: doc}, nil
}

// listNamedShadowsResponse always sends "results" (AWS: device-shadow-document.html#device-shadow-list-json).
type listNamedShadowsResponse struct {
	Results   []string `json:"results"`
	NextToken string   `json:"nextToken,omitempty"`
	Timestamp int64    `json:"timestamp"`
}

// AWS: API_iotdata_ListNamedShadowsForThing
func (s *Server) listNamedShadowsForThing(r *Request, in *datamodel.ListNamedShadowsForThingRequest) (*listNamedShadowsResponse, error) {
	if _, err := shadowID(in.ThingName, ""); err != nil {
		return nil, err
	}
	size := 0
	if in.PageSize != nil {
		if n := *in.PageSize; n < 1 || n > 100 {
			return nil, awserr.InvalidReq("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 100", n)
		}
		size = int(*in.PageSize)
	}
	svc, err := s.shadows()
	if err != nil {
		return nil, err
	}
	names, next, err := svc.ListNamed(r.Scope, in.ThingName, in.NextToken, size)
	if err != nil {
		return nil, shadowErr(err)
	}
	if names == nil {
		names = []string{}
	}
	return &listNamedShadowsResponse{Results: names, NextToken: next, Timestamp: s.cfg.Now().Unix()}, nil
}
