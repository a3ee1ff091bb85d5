package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// CertInfo holds the certificate values behind the ${iot:Certificate.*} variables and condition keys,
// in the form policies see them. Build it with FromX509, or by hand in tests.
// AWS: cert-policy-variables, use-policy-variables
type CertInfo struct {
	// SerialNumber is the serial as a decimal integer ("10525622389124227206"), as AWS presents it.
	SerialNumber string
	// Subject and Issuer hold the distinguished-name attributes and alternative names.
	Subject, Issuer CertName
	// AvailableKeys lists the names of the certificate variables that have a value, sorted
	// ("iot:Certificate.SerialNumber", "iot:Certificate.Subject.CommonName", …). FromX509 fills it;
	// by hand, call (*CertInfo).Keys.
	AvailableKeys []string
}

// CertName is one side (subject or issuer) of a certificate.
type CertName struct {
	// Attributes maps AWS's attribute names ("CommonName", "Organization", "OrganizationalUnit",
	// "Country", "State", "SerialNumber", "Title", "Surname", "GivenName", "Initials", "Pseudonym",
	// "GenerationQualifier", "DistinguishedNameQualifier") to their values in certificate order.
	// Values are as substituted: the characters , " \ + = < > ; carry a backslash.
	Attributes map[string][]string
	// AlternativeNames maps "DNSName", "RFC822Name", "UniformResourceIdentifier", "IPAddress" and
	// "DirectoryName" to their values in certificate order. A DirectoryName is written like
	// "cn=LightBulbCert,ou=SmartHome,o=IoT,c=US" (AWS's example: last RDN first, short lower-case names).
	AlternativeNames map[string][]string
}

// FromX509 extracts the policy-visible values of a certificate. Multi-valued attributes keep at most
// five values ("Additional items are ignored"). It returns nil for a nil certificate.
// AWS: cert-policy-variables#policy-limits
func FromX509(cert *x509.Certificate) *CertInfo {
	if cert == nil {
		return nil
	}
	ci := &CertInfo{}
	if cert.SerialNumber != nil {
		// AWS: use-policy-variables — "the string representation of a decimal integer".
		ci.SerialNumber = cert.SerialNumber.String()
	}
	ci.Subject.Attributes = dnAttributes(cert.Subject.Names)
	ci.Issuer.Attributes = dnAttributes(cert.Issuer.Names)
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}): // subjectAltName
			ci.Subject.AlternativeNames = generalNames(ext.Value)
		case ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 18}): // issuerAltName
			ci.Issuer.AlternativeNames = generalNames(ext.Value)
		}
	}
	ci.AvailableKeys = ci.Keys()
	return ci
}

// Keys computes AvailableKeys from the other fields.
func (c *CertInfo) Keys() []string {
	var keys []string
	if c.SerialNumber != "" {
		keys = append(keys, "iot:Certificate.SerialNumber")
	}
	for _, side := range [2]struct {
		prefix string
		n      *CertName
	}{{"iot:Certificate.Subject.", &c.Subject}, {"iot:Certificate.Issuer.", &c.Issuer}} {
		for name, vals := range side.n.Attributes {
			if len(vals) > 0 {
				keys = append(keys, side.prefix+name)
			}
		}
		for name, vals := range side.n.AlternativeNames {
			if len(vals) > 0 {
				keys = append(keys, side.prefix+"AlternativeName."+name)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

func addValue(m map[string][]string, name, value string) map[string][]string {
	if m == nil {
		m = make(map[string][]string)
	}
	if len(m[name]) < maxCertValues {
		m[name] = append(m[name], value)
	}
	return m
}

// dnAttributeForOID maps an X.520 attribute type to AWS's variable name.
func dnAttributeForOID(oid asn1.ObjectIdentifier) string {
	if len(oid) != 4 || oid[0] != 2 || oid[1] != 5 || oid[2] != 4 {
		return ""
	}
	switch oid[3] {
	case 3:
		return "CommonName"
	case 4:
		return "Surname"
	case 5:
		return "SerialNumber"
	case 6:
		return "Country"
	case 8:
		return "State"
	case 10:
		return "Organization"
	case 11:
		return "OrganizationalUnit"
	case 12:
		return "Title"
	case 42:
		return "GivenName"
	case 43:
		return "Initials"
	case 44:
		return "GenerationQualifier"
	case 46:
		return "DistinguishedNameQualifier"
	case 65:
		return "Pseudonym"
	}
	return ""
}

func dnAttributes(names []pkix.AttributeTypeAndValue) map[string][]string {
	var m map[string][]string
	for _, atv := range names {
		name := dnAttributeForOID(atv.Type)
		s, ok := atv.Value.(string)
		if name == "" || !ok {
			continue
		}
		m = addValue(m, name, escapeSpecial(s))
	}
	return m
}

// escapeSpecial prefixes , " \ + = < > ; with a backslash: "Any special character … must be prefixed
// with a backslash (\) when used in a policy variable". AWS: use-policy-variables#policy-limits
func escapeSpecial(s string) string {
	if !strings.ContainsAny(s, ",\"\\+=<>;") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(",\"\\+=<>;", s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// generalNames parses a GeneralNames extension value (RFC 5280 §4.2.1.6). crypto/x509 parses only the
// subject's and skips directoryName, so both sides are read here.
func generalNames(der []byte) map[string][]string {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil
	}
	var m map[string][]string
	for b := seq.Bytes; len(b) > 0; {
		var v asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &v); err != nil {
			break
		}
		if v.Class != asn1.ClassContextSpecific {
			continue
		}
		switch v.Tag {
		case 1:
			m = addValue(m, "RFC822Name", string(v.Bytes))
		case 2:
			m = addValue(m, "DNSName", string(v.Bytes))
		case 4: // directoryName [4] EXPLICIT Name
			var rdns pkix.RDNSequence
			if rest, err := asn1.Unmarshal(v.Bytes, &rdns); err == nil && len(rest) == 0 {
				m = addValue(m, "DirectoryName", directoryName(rdns))
			}
		case 6:
			m = addValue(m, "UniformResourceIdentifier", string(v.Bytes))
		case 7:
			if ip, ok := netip.AddrFromSlice(v.Bytes); ok {
				m = addValue(m, "IPAddress", ip.String())
			}
		}
	}
	return m
}

// directoryName formats a Name as AWS shows a DirectoryName: "cn=Primary Issuer CA,ou=IoT Devices,
// o=Issuer,c=US" — last RDN first, short lower-case type names, values escaped as in RFC 4514.
// AWS: use-policy-variables
func directoryName(rdns pkix.RDNSequence) string {
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(shortTypeName(atv.Type))
			b.WriteByte('=')
			b.WriteString(escapeRFC4514(fmt.Sprint(atv.Value)))
		}
	}
	return b.String()
}

func shortTypeName(oid asn1.ObjectIdentifier) string {
	if len(oid) == 4 && oid[0] == 2 && oid[1] == 5 && oid[2] == 4 {
		switch oid[3] {
		case 3:
			return "cn"
		case 4:
			return "sn"
		case 5:
			return "serialnumber"
		case 6:
			return "c"
		case 7:
			return "l"
		case 8:
			return "st"
		case 9:
			return "street"
		case 10:
			return "o"
		case 11:
			return "ou"
		case 12:
			return "title"
		case 42:
			return "givenname"
		case 43:
			return "initials"
		case 44:
			return "generationqualifier"
		case 46:
			return "dnqualifier"
		case 65:
			return "pseudonym"
		}
	}
	return oid.String()
}

func escapeRFC4514(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		escape := strings.IndexByte(",+\"\\<>;", c) >= 0 ||
			(i == 0 && (c == ' ' || c == '#')) || (i == len(s)-1 && c == ' ')
		if escape {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// UsesCertificate reports whether evaluating the document can read Context.Cert: it has a
// ${iot:Certificate.…} variable or an iot:Certificate.… condition key. A caller may leave Cert nil
// for a request whose policies all answer false: the decision is the same.
func (c *Compiled) UsesCertificate() bool { return c.usesCert }

// readsCert reports whether a resource, condition key or condition value of the statement refers to
// the certificate.
func (st *statement) readsCert() bool {
	for i := range st.resources {
		if st.resources[i].readsCert() {
			return true
		}
	}
	for i := range st.conds {
		if st.conds[i].key.readsCert() {
			return true
		}
		for j := range st.conds[i].values {
			if st.conds[i].values[j].pat.readsCert() {
				return true
			}
		}
	}
	return false
}

func (p *pattern) readsCert() bool {
	for _, pc := range p.pieces {
		if pc.kind == pieceVar && pc.v.readsCert() {
			return true
		}
	}
	return false
}

func (v varRef) readsCert() bool { return v.kind >= varCertSerial && v.kind <= varCertIssuerAlt }
