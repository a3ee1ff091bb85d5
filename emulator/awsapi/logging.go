package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/registry"
)

func (s *Server) registerLogging() {
	s.handle("iot", "SetV2LoggingOptions", op(s.setV2LoggingOptions))
	s.handle("iot", "GetV2LoggingOptions", op(s.getV2LoggingOptions))
	s.handle("iot", "SetV2LoggingLevel", op(s.setV2LoggingLevel))
	s.handle("iot", "ListV2LoggingLevels", op(s.listV2LoggingLevels))
	s.handle("iot", "DeleteV2LoggingLevel", op(s.deleteV2LoggingLevel))
}

// AWS: API_SetV2LoggingOptions
func (s *Server) setV2LoggingOptions(r *Request, in *iotmodel.SetV2LoggingOptionsRequest) (*noOutput, error) {
	o := registry.LoggingOptions{
		RoleARN:         in.RoleArn,
		DefaultLogLevel: in.DefaultLogLevel,
		DisableAllLogs:  deref(in.DisableAllLogs),
	}
	for _, ec := range in.EventConfigurations {
		o.EventConfigurations = append(o.EventConfigurations, registry.LogEventConfiguration{
			EventType: ec.EventType, LogLevel: ec.LogLevel, LogDestination: ec.LogDestination,
		})
	}
	return nil, s.cfg.Registry.SetV2LoggingOptions(r.Scope, o)
}

// AWS: API_GetV2LoggingOptions — NotConfiguredException (404) before the first SetV2LoggingOptions.
func (s *Server) getV2LoggingOptions(r *Request, _ *iotmodel.GetV2LoggingOptionsRequest) (*iotmodel.GetV2LoggingOptionsResponse, error) {
	o, err := s.cfg.Registry.GetV2LoggingOptions(r.Scope)
	if err != nil {
		return nil, err
	}
	out := &iotmodel.GetV2LoggingOptionsResponse{
		RoleArn:         o.RoleARN,
		DefaultLogLevel: o.DefaultLogLevel,
		DisableAllLogs:  ptr(o.DisableAllLogs),
	}
	for _, ec := range o.EventConfigurations {
		out.EventConfigurations = append(out.EventConfigurations, iotmodel.LogEventConfiguration{
			EventType: ec.EventType, LogLevel: ec.LogLevel, LogDestination: ec.LogDestination,
		})
	}
	return out, nil
}

// AWS: API_SetV2LoggingLevel
func (s *Server) setV2LoggingLevel(r *Request, in *iotmodel.SetV2LoggingLevelRequest) (*noOutput, error) {
	if in.LogTarget == nil {
		return nil, required("logTarget")
	}
	return nil, s.cfg.Registry.SetV2LoggingLevel(r.Scope, registry.LogLevelTarget{
		TargetType: in.LogTarget.TargetType, TargetName: in.LogTarget.TargetName, LogLevel: in.LogLevel,
	})
}

// logTargetList is ListV2LoggingLevels' output with "logTargetConfigurations": [] when empty.
type logTargetList struct {
	LogTargetConfigurations []iotmodel.LogTargetConfiguration `json:"logTargetConfigurations"`
	NextToken               string                            `json:"nextToken,omitempty"`
}

// AWS: API_ListV2LoggingLevels
func (s *Server) listV2LoggingLevels(r *Request, in *iotmodel.ListV2LoggingLevelsRequest) (*logTargetList, error) {
	p, err := page(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	levels, next, err := s.cfg.Registry.ListV2LoggingLevels(r.Scope, in.TargetType, p)
	if err != nil {
		return nil, err
	}
	out := &logTargetList{NextToken: next, LogTargetConfigurations: []iotmodel.LogTargetConfiguration{}}
	for _, l := range levels {
		out.LogTargetConfigurations = append(out.LogTargetConfigurations, iotmodel.LogTargetConfiguration{
			LogLevel:  l.LogLevel,
			LogTarget: &iotmodel.LogTarget{TargetType: l.TargetType, TargetName: l.TargetName},
		})
	}
	return out, nil
}

// AWS: API_DeleteV2LoggingLevel
func (s *Server) deleteV2LoggingLevel(r *Request, in *iotmodel.DeleteV2LoggingLevelRequest) (*noOutput, error) {
	return nil, s.cfg.Registry.DeleteV2LoggingLevel(r.Scope, in.TargetType, in.TargetName)
}
