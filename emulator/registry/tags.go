package registry

import (
	"maps"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Tag is one resource tag. AWS: API_Tag
type Tag struct {
	Key, Value string
}

// taggable reports, per ARN resource type, whether a resource of that name exists in a scope. AWS tags
// thing types, thing groups, billing groups, policies, CA certificates, rules, jobs and more; it does not
// tag things or device certificates (AWS: tagging-iot, tagging-iot-billing-groups: "AWS IoT doesn't allow
// you to directly apply tags to individual things"). Types kept by other parts of the registry as extra
// records (e.g. rules) are found through them; see resourceExists.
var taggable = map[string]func(s *state, name string) bool{
	"thingtype":    func(s *state, n string) bool { return s.thingTypes[n] != nil },
	"thinggroup":   func(s *state, n string) bool { return s.thingGroups[n] != nil },
	"billinggroup": func(s *state, n string) bool { return s.billingGroups[n] != nil },
	"policy":       func(s *state, n string) bool { return s.policies[n] != nil },
	"cacert":       func(s *state, n string) bool { return s.caCerts[n] != nil },
}

// untaggable are resource types AWS refuses to tag.
var untaggable = map[string]bool{"thing": true, "cert": true}

// resourceExists resolves a tag operation's resourceArn in s.
func resourceExists(sc Scope, s *state, resourceARN string) error {
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "iot" || a.Name == "" {
		return awserr.InvalidReq("Invalid resource ARN: %s", resourceARN)
	}
	if untaggable[a.Type] {
		return awserr.InvalidReq("Tagging is not supported for resource type %s: %s", a.Type, resourceARN)
	}
	if a.Account != sc.Account || a.Region != sc.Region {
		return awserr.NotFound("Resource %s cannot be found.", resourceARN)
	}
	if exists, ok := taggable[a.Type]; ok {
		if !exists(s, a.Name) {
			return awserr.NotFound("Resource %s cannot be found.", resourceARN)
		}
		return nil
	}
	if recs := s.extra[a.Type]; recs != nil && recs[a.Name] != nil {
		return nil
	}
	return awserr.NotFound("Resource %s cannot be found.", resourceARN)
}

// setTags stages resourceARN's complete tag set; an empty set deletes the record.
func (t *txn) setTags(resourceARN string, tags map[string]string) {
	s := t.s
	if len(tags) == 0 {
		if _, ok := s.tags[resourceARN]; ok {
			t.del("tags", resourceARN, func() { delete(s.tags, resourceARN) })
		}
		return
	}
	t.put("tags", resourceARN, tags, func() { s.tags[resourceARN] = tags })
}

// createTags validates the tags of a Create call and stages them for the new resource.
func (t *txn) createTags(resourceARN string, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	m := tagMap(nil, tags)
	if len(m) > maxTagsPerResource {
		return awserr.InvalidReq("A resource can have at most %d tags, got %d", maxTagsPerResource, len(m))
	}
	t.setTags(resourceARN, m)
	return nil
}

// tagMap returns base with tags applied (later tags win), as a new map.
func tagMap(base map[string]string, tags []Tag) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	for _, tg := range tags {
		m[tg.Key] = tg.Value
	}
	return m
}

// TagResource adds or replaces tags of a resource. AWS: API_TagResource
func (r *Registry) TagResource(sc Scope, resourceARN string, tags []Tag) error {
	if len(tags) == 0 {
		return invalid("[]", "tags", "Member must have length greater than or equal to 1")
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	return r.update(sc, func(t *txn) error {
		if err := resourceExists(sc, t.s, resourceARN); err != nil {
			return err
		}
		m := tagMap(t.s.tags[resourceARN], tags)
		if len(m) > maxTagsPerResource {
			// AWS: API_TagResource lists LimitExceededException; the quota is 50 tags per resource.
			return awserr.New(awserr.LimitExceeded, "Resource %s can have at most %d tags", resourceARN, maxTagsPerResource)
		}
		t.setTags(resourceARN, m)
		return nil
	})
}

// UntagResource removes tags by key; keys the resource doesn't have are ignored. AWS: API_UntagResource
func (r *Registry) UntagResource(sc Scope, resourceARN string, keys []string) error {
	for _, k := range keys {
		if err := checkTags([]Tag{{Key: k}}); err != nil {
			return err
		}
	}
	return r.update(sc, func(t *txn) error {
		if err := resourceExists(sc, t.s, resourceARN); err != nil {
			return err
		}
		old := t.s.tags[resourceARN]
		m := maps.Clone(old)
		for _, k := range keys {
			delete(m, k)
		}
		if len(m) != len(old) {
			t.setTags(resourceARN, m)
		}
		return nil
	})
}

// ListTagsForResource returns a page of a resource's tags, sorted by key. AWS: API_ListTagsForResource
func (r *Registry) ListTagsForResource(sc Scope, resourceARN string, p Page) ([]Tag, string, error) {
	var (
		out  []Tag
		next string
	)
	err := r.view(sc, func(s *state) error {
		if err := resourceExists(sc, s, resourceARN); err != nil {
			return err
		}
		tags := s.tags[resourceARN]
		keys, nt, err := pageOf(tags, nil, listPage(p))
		if err != nil {
			return err
		}
		for _, k := range keys {
			out = append(out, Tag{Key: k, Value: tags[k]})
		}
		next = nt
		return nil
	})
	return out, next, err
}

// Tags returns a copy of a resource's tags (nil when it has none), for callers that show them.
func (r *Registry) Tags(sc Scope, resourceARN string) map[string]string {
	var m map[string]string
	_ = r.view(sc, func(s *state) error { m = maps.Clone(s.tags[resourceARN]); return nil })
	return m
}
