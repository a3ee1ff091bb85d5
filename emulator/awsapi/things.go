package awsapi

func (s *Server) registerThings() {}
