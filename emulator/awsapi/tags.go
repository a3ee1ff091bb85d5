package awsapi

import (
	"github.com/iotlab/iotlab/emulator/awsapi/iotmodel"
	"github.com/iotlab/iotlab/emulator/awserr"
)

func (s *Server) registerTags() {
	s.handle("iot", "TagResource", op(s.tagResource))
	s.handle("iot", "UntagResource", op(s.untagResource))
	s.handle("iot", "ListTagsForResource", op(s.listTagsForResource))
}

// resourceARNRequired is the validation error for a missing resourceArn (a required member).
func resourceARNRequired(arn string) error {
	if arn == "" {
		return awserr.InvalidReq("1 validation error detected: Value null at 'resourceArn' failed to satisfy constraint: Member must not be null")
	}
	return nil
}

// AWS: API_TagResource
func (s *Server) tagResource(r *Request, in *iotmodel.TagResourceRequest) (*iotmodel.TagResourceResponse, error) {
	if err := resourceARNRequired(in.ResourceArn); err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.TagResource(r.Scope, in.ResourceArn, tagsIn(in.Tags)); err != nil {
		return nil, err
	}
	return &iotmodel.TagResourceResponse{}, nil
}

// AWS: API_UntagResource
func (s *Server) untagResource(r *Request, in *iotmodel.UntagResourceRequest) (*iotmodel.UntagResourceResponse, error) {
	if err := resourceARNRequired(in.ResourceArn); err != nil {
		return nil, err
	}
	if err := s.cfg.Registry.UntagResource(r.Scope, in.ResourceArn, in.TagKeys); err != nil {
		return nil, err
	}
	return &iotmodel.UntagResourceResponse{}, nil
}

// listTagsResponse sends "tags": [] when there are none.
type listTagsResponse struct {
	NextToken string         `json:"nextToken,omitempty"`
	Tags      []iotmodel.Tag `json:"tags"`
}

// AWS: API_ListTagsForResource
func (s *Server) listTagsForResource(r *Request, in *iotmodel.ListTagsForResourceRequest) (*listTagsResponse, error) {
	if err := resourceARNRequired(in.ResourceArn); err != nil {
		return nil, err
	}
	p, err := page(in.NextToken, nil)
	if err != nil {
		return nil, err
	}
	tags, next, err := s.cfg.Registry.ListTagsForResource(r.Scope, in.ResourceArn, p)
	if err != nil {
		return nil, err
	}
	out := &listTagsResponse{NextToken: next, Tags: []iotmodel.Tag{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, iotmodel.Tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}
