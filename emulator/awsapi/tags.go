package awsapi

func (s *Server) registerTags() {}
