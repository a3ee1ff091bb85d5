package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awserr"
)

func (s *Server) registerEndpoint() {
	s.handle("iot", "DescribeEndpoint", op(s.describeEndpoint))
}

// describeEndpoint answers with a bare host, as AWS does (no scheme, no port). AWS answers the legacy
// iot:Data type when endpointType is absent. AWS: API_DescribeEndpoint
func (s *Server) describeEndpoint(r *Request, in *iotmodel.DescribeEndpointRequest) (*iotmodel.DescribeEndpointResponse, error) {
	switch in.EndpointType {
	case "", "iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs":
	default:
		return nil, awserr.InvalidReq("Endpoint type %s is not valid.", in.EndpointType)
	}
	return &iotmodel.DescribeEndpointResponse{EndpointAddress: s.cfg.EndpointHost}, nil
}
