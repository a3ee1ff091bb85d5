package registry

import (
	"fmt"
	"regexp"
	"sort"
	"unicode/utf8"

	"github.com/iotlab/iotlab/emulator/arn"
	"github.com/iotlab/iotlab/emulator/awserr"
)

// Registry limits. AWS: iot-core quotas (GR:iot-core.html, legacy DG:limits-iot.html) unless noted.
const (
	maxNameLen         = 128  // thing, thing type, thing group and billing group names
	maxAttrNameLen     = 128  // AWS: API_AttributePayload
	maxAttrValueLen    = 800  // AWS: API_AttributePayload
	maxAttrsUntyped    = 3    // attributes of a thing without a thing type. AWS: thing-types
	maxAttrsTyped      = 50   // attributes of a thing with a thing type. AWS: thing-types
	maxDescriptionLen  = 2028 // thing type, thing group and billing group descriptions
	maxSearchableAttrs = 3    // AWS: CloudFormation AWS::IoT::ThingType ThingTypeProperties
	maxGroupsPerThing  = 10   // AWS: API_AddThingToThingGroup, thing-groups
	maxGroupDepth      = 7    // AWS: thing-groups ("The maximum depth of a group hierarchy is 7")
	maxChildGroups     = 100  // AWS: thing-groups ("no more than 100 direct child groups")
	maxGroupAttrs      = 50   // AWS: thing-groups ("A group can have up to 50 attributes")
	maxTagsPerResource = 50   // AWS: tagging-iot (tag restrictions)
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
	maxPropertyKeyLen  = 128 // MQTT 5 propagating attribute keys. AWS: API_PropagatingAttribute
)

// The model's patterns, anchored: AWS matches the whole value.
var (
	reName          = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)
	reAttrName      = regexp.MustCompile(`^[a-zA-Z0-9_.,@/:#-]+$`)
	reAttrValue     = regexp.MustCompile(`^[a-zA-Z0-9_.,@/:#=\[\]-]*$`)
	reDescription   = regexp.MustCompile(`^[[:graph:] ]*$`) // the model's [\p{Graph}\x20]* (Java's ASCII classes)
	reTagKey        = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	reUserPropKey   = regexp.MustCompile(`^[a-zA-Z0-9:$.]+$`)
	reConnAttribute = regexp.MustCompile(`^[a-zA-Z0-9:.]+$`)
)

// invalid is AWS's front-end validation error, worded as AWS words it:
// "1 validation error detected: Value 'a/b' at 'thingName' failed to satisfy constraint: Member must …".
func invalid(value, path, constraint string) error {
	return awserr.InvalidReq("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, path, constraint)
}

// checkName validates a resource name (ThingName, ThingTypeName, ThingGroupName, BillingGroupName).
// AWS: API_CreateThing (pattern [a-zA-Z0-9:_-]+, length 1–128)
func checkName(path, v string) error {
	switch {
	case v == "":
		return invalid(v, path, "Member must have length greater than or equal to 1")
	case len(v) > maxNameLen:
		return invalid(v, path, fmt.Sprintf("Member must have length less than or equal to %d", maxNameLen))
	case !reName.MatchString(v):
		return invalid(v, path, "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+")
	}
	return nil
}

// checkOptionalName validates a name that may be absent.
func checkOptionalName(path, v string) error {
	if v == "" {
		return nil
	}
	return checkName(path, v)
}

// checkAttributes validates an attribute map's names and values. AWS: API_AttributePayload
func checkAttributes(path string, attrs map[string]string) error {
	for _, k := range sortedKeys(attrs, nil) {
		v := attrs[k]
		switch {
		case len(k) > maxAttrNameLen:
			return invalid(k, path, fmt.Sprintf("Map keys must satisfy constraint: [Member must have length less than or equal to %d]", maxAttrNameLen))
		case !reAttrName.MatchString(k):
			return invalid(k, path, "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]")
		case len(v) > maxAttrValueLen:
			return invalid(v, path, fmt.Sprintf("Map value must satisfy constraint: [Member must have length less than or equal to %d]", maxAttrValueLen))
		case !reAttrValue.MatchString(v):
			return invalid(v, path, `Map value must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\[\]-]*]`)
		}
	}
	return nil
}

// checkDescription validates a thing type, thing group or billing group description.
func checkDescription(path, v string) error {
	switch {
	case utf8.RuneCountInString(v) > maxDescriptionLen:
		return invalid(v, path, fmt.Sprintf("Member must have length less than or equal to %d", maxDescriptionLen))
	case !reDescription.MatchString(v):
		return invalid(v, path, `Member must satisfy regular expression pattern: [\p{Graph}\x20]*`)
	}
	return nil
}

// checkTags validates tag keys and values. AWS: API_Tag, tagging-iot
func checkTags(tags []Tag) error {
	for _, tg := range tags {
		n := utf8.RuneCountInString(tg.Key)
		switch {
		case n < 1:
			return invalid(tg.Key, "tags.member.Key", "Member must have length greater than or equal to 1")
		case n > maxTagKeyLen:
			return invalid(tg.Key, "tags.member.Key", fmt.Sprintf("Member must have length less than or equal to %d", maxTagKeyLen))
		case !reTagKey.MatchString(tg.Key):
			return invalid(tg.Key, "tags.member.Key", `Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
		case len(tg.Key) >= 4 && tg.Key[:4] == "aws:":
			// AWS: tagging-iot ("The aws: prefix is reserved for AWS use")
			return awserr.InvalidReq("Tag keys starting with 'aws:' are reserved for AWS use")
		case utf8.RuneCountInString(tg.Value) > maxTagValueLen:
			return invalid(tg.Value, "tags.member.Value", fmt.Sprintf("Member must have length less than or equal to %d", maxTagValueLen))
		}
	}
	return nil
}

// checkSearchable validates a thing type's searchable attribute names (at most 3).
func checkSearchable(names []string) error {
	if len(names) > maxSearchableAttrs {
		return awserr.InvalidReq("A thing type can have at most %d searchable attributes, got %d", maxSearchableAttrs, len(names))
	}
	for _, n := range names {
		switch {
		case len(n) > maxAttrNameLen:
			return invalid(n, "thingTypeProperties.searchableAttributes.member", fmt.Sprintf("Member must have length less than or equal to %d", maxAttrNameLen))
		case !reAttrName.MatchString(n):
			return invalid(n, "thingTypeProperties.searchableAttributes.member", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+")
		}
	}
	return nil
}

// checkPropagating validates MQTT 5 propagating attributes. AWS: API_PropagatingAttribute
func checkPropagating(pas []PropagatingAttribute) error {
	const path = "thingTypeProperties.mqtt5Configuration.propagatingAttributes.member"
	for _, pa := range pas {
		switch {
		case pa.UserPropertyKey == "" || len(pa.UserPropertyKey) > maxPropertyKeyLen || !reUserPropKey.MatchString(pa.UserPropertyKey):
			return invalid(pa.UserPropertyKey, path+".userPropertyKey", "Member must satisfy regular expression pattern: [a-zA-Z0-9:$.]+")
		case pa.ThingAttribute != "" && pa.ConnectionAttribute != "":
			return awserr.InvalidReq("A propagating attribute takes either a thingAttribute or a connectionAttribute, not both")
		case pa.ThingAttribute == "" && pa.ConnectionAttribute == "":
			return awserr.InvalidReq("A propagating attribute needs a thingAttribute or a connectionAttribute")
		case pa.ThingAttribute != "" && (len(pa.ThingAttribute) > maxAttrNameLen || !reAttrName.MatchString(pa.ThingAttribute)):
			return invalid(pa.ThingAttribute, path+".thingAttribute", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+")
		case pa.ConnectionAttribute != "" && (len(pa.ConnectionAttribute) > maxPropertyKeyLen || !reConnAttribute.MatchString(pa.ConnectionAttribute)):
			return invalid(pa.ConnectionAttribute, path+".connectionAttribute", "Member must satisfy regular expression pattern: [a-zA-Z0-9:.]+")
		}
	}
	return nil
}

// ResolveName turns the name-or-ARN pair that membership operations take (thingName/thingArn,
// thingGroupName/thingGroupArn, …) into a name. The name wins when both are given. An ARN of another
// type, account or region names nothing here: ResourceNotFoundException. AWS: API_AddThingToThingGroup
func ResolveName(sc Scope, typ, name, resourceARN, what string) (string, error) {
	if name != "" {
		return name, nil
	}
	if resourceARN == "" {
		return "", awserr.InvalidReq("Both %sName and %sArn cannot be null", what, what)
	}
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "iot" || a.Type != typ || a.Region != sc.Region || a.Account != sc.Account || a.Name == "" {
		return "", awserr.NotFound("%s cannot be found.", resourceARN)
	}
	return a.Name, nil
}

// sortedSet returns the distinct strings of ss, sorted.
func sortedSet(ss []string) []string {
	m := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
