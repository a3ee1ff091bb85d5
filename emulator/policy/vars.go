package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Context carries what a request knows about its connection: the values of policy variables
// (${iot:ClientId} …) and of condition keys (iot:ClientId …). A nil *Context knows nothing: every
// variable stays unresolved and every condition key is absent.
type Context struct {
	// Region and Account of the emulated endpoint; informational (ARNs in requests already carry them).
	Region, Account string

	// ClientID is the MQTT client ID; HasClientID is false when the request has none (HTTP).
	ClientID    string
	HasClientID bool

	// DomainName is the endpoint host the client connected to (TLS SNI), for ${iot:DomainName}.
	DomainName string
	// SourceIP is the client's IP address without port, for ${aws:SourceIp} and IpAddress conditions.
	SourceIP string

	// Thing is the thing named by the client ID, nil when there is none. Thing variables other than
	// IsAttached resolve only when Thing.IsAttached (the certificate is attached to it); see Thing.
	Thing *Thing
	// Cert describes the client certificate for ${iot:Certificate.*}; nil without one.
	Cert *CertInfo

	// ConnectAttributes holds the iot:ConnectAttributes values of the CONNECT:
	// "PersistentConnect" (clean session false) and "LastWill" (a will is set).
	// AWS: connect-policy
	ConnectAttributes []string
}

// Thing is the registry thing a connection is evaluated for.
//
// AWS: thing-policy-variables — "AWS IoT Core uses the certificate the device presents when it
// authenticates to determine which thing to use", and the client ID must equal the thing name. So
// ${iot:Connection.Thing.ThingName}, .ThingTypeName and .Attributes[…] resolve only when IsAttached;
// ${iot:Connection.Thing.IsAttached} is "true" or "false" either way (and "false" when Context.Thing is nil).
type Thing struct {
	Name       string
	TypeName   string // "" when the thing has no type (the variable is then unresolved)
	Attributes map[string]string
	IsAttached bool
}

// varKind says which value a policy variable or condition key refers to.
type varKind uint8

const (
	varUnknown varKind = iota
	varClientID
	varDomainName
	varSourceIP
	varConnectAttributes
	varThingName
	varThingTypeName
	varThingAttr
	varThingIsAttached
	varCertSerial
	varCertAvailableKeys
	varCertSubjectAttr
	varCertIssuerAttr
	varCertSubjectAlt
	varCertIssuerAlt
)

// varRef is a parsed variable name / condition key. Names are matched case-insensitively (IAM's rule
// for keys); thing attribute names keep their case.
type varRef struct {
	kind  varKind
	name  string // canonical certificate attribute name, or the thing attribute name
	index int    // zero-based value index of a multi-valued certificate attribute (".1" = second value)
	list  bool   // ".List": all values (condition keys only)
}

// maxCertValues and maxCertValueLen are the X.509 policy-variable limits.
// AWS: cert-policy-variables#policy-limits ("limited to five items", "limited to 1024 characters").
const (
	maxCertValues   = 5
	maxCertValueLen = 1024
)

// dnAttributeName returns the canonical subject/issuer attribute name AWS defines.
// AWS: cert-policy-variables
func dnAttributeName(s string) (string, bool) {
	names := [...]string{
		"DistinguishedNameQualifier", "Country", "Organization", "OrganizationalUnit", "State", "CommonName",
		"SerialNumber", "Title", "Surname", "GivenName", "Initials", "Pseudonym", "GenerationQualifier",
	}
	return canonical(names[:], s)
}

// altNameKind returns the canonical alternative-name kind AWS defines. AWS: cert-policy-variables
func altNameKind(s string) (string, bool) {
	names := [...]string{"RFC822Name", "DNSName", "DirectoryName", "UniformResourceIdentifier", "IPAddress"}
	return canonical(names[:], s)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func canonical(names []string, s string) (string, bool) {
	for _, n := range names {
		if strings.EqualFold(n, s) {
			return n, true
		}
	}
	return "", false
}

// splitIndex splits a trailing ".List" or ".<n>" off a certificate variable name.
func splitIndex(s string) (base string, index int, list bool, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, 0, false, true
	}
	suffix := s[i+1:]
	if strings.EqualFold(suffix, "List") {
		return s[:i], 0, true, true
	}
	if suffix != "" && len(suffix) <= 4 && strings.Trim(suffix, "0123456789") == "" {
		n, _ := strconv.Atoi(suffix)
		return s[:i], n, false, true
	}
	return s, 0, false, true
}

// parseVarName parses the name inside ${…} (or a condition key). ok is false for names AWS IoT does
// not define; such text is left alone (it then matches only itself).
func parseVarName(name string) (varRef, bool) {
	switch {
	case strings.EqualFold(name, "iot:ClientId"):
		return varRef{kind: varClientID}, true
	case strings.EqualFold(name, "iot:DomainName"):
		return varRef{kind: varDomainName}, true
	case strings.EqualFold(name, "aws:SourceIp"):
		return varRef{kind: varSourceIP}, true
	case strings.EqualFold(name, "iot:ConnectAttributes"):
		return varRef{kind: varConnectAttributes, list: true}, true
	}
	if rest, ok := cutPrefixFold(name, "iot:Connection.Thing."); ok {
		switch {
		case strings.EqualFold(rest, "ThingName"):
			return varRef{kind: varThingName}, true
		case strings.EqualFold(rest, "ThingTypeName"):
			return varRef{kind: varThingTypeName}, true
		case strings.EqualFold(rest, "IsAttached"):
			return varRef{kind: varThingIsAttached}, true
		}
		if attr, ok := cutPrefixFold(rest, "Attributes["); ok && len(attr) > 1 && attr[len(attr)-1] == ']' {
			return varRef{kind: varThingAttr, name: attr[:len(attr)-1]}, true
		}
		return varRef{}, false
	}
	rest, ok := cutPrefixFold(name, "iot:Certificate.")
	if !ok {
		return varRef{}, false
	}
	if strings.EqualFold(rest, "SerialNumber") {
		return varRef{kind: varCertSerial}, true
	}
	base, index, list, _ := splitIndex(rest)
	if strings.EqualFold(base, "AvailableKeys") {
		// AvailableKeys is a list by nature: as a condition key it yields every name.
		return varRef{kind: varCertAvailableKeys, index: index, list: list || base == rest}, true
	}
	for _, who := range [2]string{"Subject.", "Issuer."} {
		r, ok := cutPrefixFold(base, who)
		if !ok {
			continue
		}
		ref := varRef{index: index, list: list}
		if alt, ok := cutPrefixFold(r, "AlternativeName."); ok {
			n, ok := altNameKind(alt)
			if !ok {
				return varRef{}, false
			}
			ref.kind, ref.name = varCertSubjectAlt, n
			if who == "Issuer." {
				ref.kind = varCertIssuerAlt
			}
			return ref, true
		}
		n, ok := dnAttributeName(r)
		if !ok {
			return varRef{}, false
		}
		ref.kind, ref.name = varCertSubjectAttr, n
		if who == "Issuer." {
			ref.kind = varCertIssuerAttr
		}
		return ref, true
	}
	return varRef{}, false
}

// attachedThing returns the thing whose variables resolve, nil when none does.
func (c *Context) attachedThing() *Thing {
	if c.Thing == nil || !c.Thing.IsAttached {
		return nil
	}
	return c.Thing
}

// certValues returns the values of a certificate attribute, at most maxCertValues of them.
func (v *varRef) certValues(c *CertInfo) []string {
	if c == nil {
		return nil
	}
	var vals []string
	switch v.kind {
	case varCertSubjectAttr:
		vals = c.Subject.Attributes[v.name]
	case varCertIssuerAttr:
		vals = c.Issuer.Attributes[v.name]
	case varCertSubjectAlt:
		vals = c.Subject.AlternativeNames[v.name]
	case varCertIssuerAlt:
		vals = c.Issuer.AlternativeNames[v.name]
	case varCertAvailableKeys:
		return c.AvailableKeys
	}
	if len(vals) > maxCertValues {
		vals = vals[:maxCertValues]
	}
	return vals
}

// substitutable applies AWS's rule for certificate values: a value holding a wildcard character or
// longer than 1024 characters is not substituted ("leaving the ${policy-variable} text in the policy
// document"). AWS: cert-policy-variables#policy-limits
func substitutable(s string) bool {
	return !strings.ContainsAny(s, "*$+?#") && (len(s) <= maxCertValueLen || utf8.RuneCountInString(s) <= maxCertValueLen)
}

// value resolves the variable for substitution into a Resource or condition value. ok is false when it
// cannot be resolved; the caller then leaves the ${…} text in place.
func (v *varRef) value(ctx *Context) (string, bool) {
	if ctx == nil {
		return "", false
	}
	switch v.kind {
	case varClientID:
		return ctx.ClientID, ctx.HasClientID
	case varDomainName:
		return ctx.DomainName, ctx.DomainName != ""
	case varSourceIP:
		return ctx.SourceIP, ctx.SourceIP != ""
	case varThingName:
		if t := ctx.attachedThing(); t != nil && t.Name != "" {
			return t.Name, true
		}
	case varThingTypeName:
		if t := ctx.attachedThing(); t != nil && t.TypeName != "" {
			return t.TypeName, true
		}
	case varThingAttr:
		if t := ctx.attachedThing(); t != nil {
			s, ok := t.Attributes[v.name]
			return s, ok
		}
	case varThingIsAttached:
		if ctx.attachedThing() != nil {
			return "true", true
		}
		return "false", true
	case varCertSerial:
		if ctx.Cert != nil && ctx.Cert.SerialNumber != "" && substitutable(ctx.Cert.SerialNumber) {
			return ctx.Cert.SerialNumber, true
		}
	case varCertAvailableKeys, varCertSubjectAttr, varCertIssuerAttr, varCertSubjectAlt, varCertIssuerAlt:
		if v.list {
			return "", false // a list has no single value to put into a string
		}
		vals := v.certValues(ctx.Cert)
		// AWS: cert-policy-variables — a missing index means "no substitution is made".
		if v.index < len(vals) && substitutable(vals[v.index]) {
			return vals[v.index], true
		}
	}
	return "", false
}

// keyValues is the value set of a condition key: one value, or many for multi-valued keys.
type keyValues struct {
	one   string
	many  []string
	multi bool
}

func (k *keyValues) len() int {
	if k.multi {
		return len(k.many)
	}
	return 1
}

func (k *keyValues) at(i int) string {
	if k.multi {
		return k.many[i]
	}
	return k.one
}

// values resolves the variable as a condition key. present is false when the key is absent from the
// request (IAM: "not present in the request context"), which Null, …IfExists and the set operators
// treat specially. Certificate values are used as they are: the wildcard and length limits apply to
// substitution only.
func (v *varRef) values(ctx *Context) (kv keyValues, present bool) {
	if ctx == nil {
		return kv, false
	}
	switch v.kind {
	case varConnectAttributes:
		return keyValues{many: ctx.ConnectAttributes, multi: true}, len(ctx.ConnectAttributes) > 0
	case varCertSerial:
		if ctx.Cert != nil && ctx.Cert.SerialNumber != "" {
			return keyValues{one: ctx.Cert.SerialNumber}, true
		}
		return kv, false
	case varCertAvailableKeys, varCertSubjectAttr, varCertIssuerAttr, varCertSubjectAlt, varCertIssuerAlt:
		vals := v.certValues(ctx.Cert)
		if v.list {
			return keyValues{many: vals, multi: true}, len(vals) > 0
		}
		if v.index < len(vals) {
			return keyValues{one: vals[v.index]}, true
		}
		return kv, false
	case varUnknown:
		return kv, false
	}
	s, ok := v.value(ctx)
	return keyValues{one: s}, ok
}
