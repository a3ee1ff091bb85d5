package awsapi

func (s *Server) registerThingTypes() {}
