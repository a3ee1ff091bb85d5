package awsapi

func (s *Server) registerGroups() {}
