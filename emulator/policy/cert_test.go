package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"
)

// generalNamesExt builds a GeneralNames extension value holding one name of each kind AWS exposes.
func generalNamesExt(t *testing.T, dns, email, uri string, ip net.IP, dir pkix.Name) []byte {
	t.Helper()
	dirDER, err := asn1.Marshal(dir.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal([]asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(dns)},
		{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip},
		{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(uri)},
		{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(email)},
		{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirDER},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func attr(oid int, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, oid}, Value: v}
}

// exampleCertificate mirrors the certificate on AWS's use-policy-variables page.
func exampleCertificate(t *testing.T) *x509.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"IoT Devices"}, OrganizationalUnit: []string{"SmartHome"},
			Province: []string{"WA"}, CommonName: "IoT Devices Primary CA"},
		NotBefore: time.Date(2024, 3, 26, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2034, 3, 26, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := new(big.Int).SetString("921285cbb7a5e086", 16)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country: []string{"US"}, Organization: []string{"IoT Devices"}, Province: []string{"NY"},
			OrganizationalUnit: []string{"ou1", "ou2", "ou3", "ou4", "ou5", "ou6"},
			CommonName:         "LightBulb Device Cert", SerialNumber: "123",
			ExtraNames: []pkix.AttributeTypeAndValue{
				attr(42, "Bulb"), attr(43, "ZZ"), attr(46, "Bulb001"), attr(4, "Multi Color"), attr(12, "RGB"),
				attr(65, "RGB Device"), attr(44, "4"), attr(7, "Seattle"),
			},
		},
		NotBefore: time.Date(2024, 3, 26, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 4, 28, 0, 0, 0, 0, time.UTC),
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: generalNamesExt(t, "example.com", "device1@example.com", "ResourceIdentifier001",
				net.IPv4(1, 2, 3, 4).To4(), pkix.Name{Country: []string{"US"}, Organization: []string{"IoT"}, OrganizationalUnit: []string{"SmartHome"}, CommonName: "LightBulbCert"})},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 18}, Value: generalNamesExt(t, "issuer.com", "primary@issuer.com", "PrimarySignerCA",
				net.IPv4(5, 6, 7, 8).To4(), pkix.Name{Country: []string{"US"}, Organization: []string{"Issuer"}, OrganizationalUnit: []string{"IoT Devices"}, CommonName: "Primary Issuer CA"})},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestFromX509(t *testing.T) {
	ci := FromX509(exampleCertificate(t))
	// AWS: use-policy-variables — serial 92:12:85:cb:b7:a5:e0:86 is "10525622389124227206".
	if got, want := ci.SerialNumber, "10525622389124227206"; got != want {
		t.Errorf("SerialNumber: got %q, want %q", got, want)
	}
	wantSubject := map[string][]string{
		"Country": {"US"}, "Organization": {"IoT Devices"}, "State": {"NY"}, "CommonName": {"LightBulb Device Cert"},
		"SerialNumber": {"123"}, "GivenName": {"Bulb"}, "Initials": {"ZZ"}, "DistinguishedNameQualifier": {"Bulb001"},
		"Surname": {"Multi Color"}, "Title": {"RGB"}, "Pseudonym": {"RGB Device"}, "GenerationQualifier": {"4"},
		"OrganizationalUnit": {"ou1", "ou2", "ou3", "ou4", "ou5"}, // at most five values
	}
	if !reflect.DeepEqual(ci.Subject.Attributes, wantSubject) {
		t.Errorf("Subject.Attributes:\ngot  %v\nwant %v", ci.Subject.Attributes, wantSubject)
	}
	wantIssuer := map[string][]string{"Country": {"US"}, "Organization": {"IoT Devices"}, "OrganizationalUnit": {"SmartHome"},
		"State": {"WA"}, "CommonName": {"IoT Devices Primary CA"}}
	if !reflect.DeepEqual(ci.Issuer.Attributes, wantIssuer) {
		t.Errorf("Issuer.Attributes:\ngot  %v\nwant %v", ci.Issuer.Attributes, wantIssuer)
	}
	wantSAN := map[string][]string{"DNSName": {"example.com"}, "IPAddress": {"1.2.3.4"}, "UniformResourceIdentifier": {"ResourceIdentifier001"},
		"RFC822Name": {"device1@example.com"}, "DirectoryName": {"cn=LightBulbCert,ou=SmartHome,o=IoT,c=US"}}
	if !reflect.DeepEqual(ci.Subject.AlternativeNames, wantSAN) {
		t.Errorf("Subject.AlternativeNames:\ngot  %v\nwant %v", ci.Subject.AlternativeNames, wantSAN)
	}
	wantIAN := map[string][]string{"DNSName": {"issuer.com"}, "IPAddress": {"5.6.7.8"}, "UniformResourceIdentifier": {"PrimarySignerCA"},
		"RFC822Name": {"primary@issuer.com"}, "DirectoryName": {"cn=Primary Issuer CA,ou=IoT Devices,o=Issuer,c=US"}}
	if !reflect.DeepEqual(ci.Issuer.AlternativeNames, wantIAN) {
		t.Errorf("Issuer.AlternativeNames:\ngot  %v\nwant %v", ci.Issuer.AlternativeNames, wantIAN)
	}
	if !slices.IsSorted(ci.AvailableKeys) || !slices.Contains(ci.AvailableKeys, "iot:Certificate.SerialNumber") ||
		!slices.Contains(ci.AvailableKeys, "iot:Certificate.Subject.AlternativeName.DirectoryName") ||
		!slices.Contains(ci.AvailableKeys, "iot:Certificate.Issuer.CommonName") || slices.Contains(ci.AvailableKeys, "iot:Certificate.Subject.Locality") {
		t.Errorf("AvailableKeys: got %v", ci.AvailableKeys)
	}
	if got, want := len(ci.AvailableKeys), 1+13+5+5+5; got != want {
		t.Errorf("len(AvailableKeys): got %d, want %d", got, want)
	}
}

func TestFromX509Values(t *testing.T) {
	tests := []struct {
		name string
		cert *x509.Certificate
		want *CertInfo
	}{
		{"nil", nil, nil},
		{"special characters are escaped", &x509.Certificate{
			SerialNumber: big.NewInt(7),
			Subject:      pkix.Name{Names: []pkix.AttributeTypeAndValue{attr(3, `Amazon Web Services O=Amazon.com Inc. L=Seattle`), attr(10, `a,b;c<d>e"f\g`)}},
		}, &CertInfo{SerialNumber: "7", Subject: CertName{Attributes: map[string][]string{
			"CommonName":   {`Amazon Web Services O\=Amazon.com Inc. L\=Seattle`},
			"Organization": {`a\,b\;c\<d\>e\"f\\g`},
		}}, AvailableKeys: []string{"iot:Certificate.SerialNumber", "iot:Certificate.Subject.CommonName", "iot:Certificate.Subject.Organization"}}},
		{"go-parsed names only", &x509.Certificate{
			DNSNames: []string{"ignored.example.com"}, URIs: []*url.URL{{Scheme: "spiffe", Host: "x"}},
		}, &CertInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromX509(tt.cert)
			if tt.want == nil {
				if got != nil {
					t.Errorf("got %+v, want nil", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGeneralNamesMalformed(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"garbage", []byte{0xff, 0x01}},
		{"not a sequence", []byte{0x04, 0x01, 0x00}},
		{"trailing bytes", []byte{0x30, 0x00, 0x00}},
		{"truncated element", []byte{0x30, 0x03, 0x82, 0x05, 'a'}},
		{"bad ip length", []byte{0x30, 0x05, 0x87, 0x03, 1, 2, 3}},
		{"bad directory name", []byte{0x30, 0x04, 0xa4, 0x02, 0x05, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := generalNames(tt.der); len(got) != 0 {
				t.Errorf("got %v, want no names", got)
			}
		})
	}
}

func TestCertificateAvailableKeysHandBuilt(t *testing.T) {
	ci := &CertInfo{SerialNumber: "1", Issuer: CertName{AlternativeNames: map[string][]string{"DNSName": {"ca"}, "IPAddress": nil}}}
	want := []string{"iot:Certificate.Issuer.AlternativeName.DNSName", "iot:Certificate.SerialNumber"}
	if got := ci.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys: got %v, want %v", got, want)
	}
}

func TestUsesCertificate(t *testing.T) {
	allow := func(resource string) string {
		return `{"Effect":"Allow","Action":"iot:Connect","Resource":"` + resource + `"}`
	}
	withCond := func(cond string) string {
		return `{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":` + cond + `}`
	}
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"no variables", doc(allow(arn + "client/a")), false},
		{"client and thing variables", doc(allow(arn+"client/${iot:ClientId}"), allow(arn+"client/${iot:Connection.Thing.ThingName}")), false},
		{"subject variable in a resource", doc(allow(arn + "client/${iot:Certificate.Subject.CommonName}")), true},
		{"variable names fold case", doc(allow(arn + "client/${IOT:certificate.subject.commonname}")), true},
		{"in a second statement's NotResource", doc(allow("*"), `{"Effect":"Deny","Action":"iot:Connect","NotResource":"`+arn+`client/${iot:Certificate.SerialNumber}"}`), true},
		{"condition key", doc(withCond(`{"StringEquals":{"iot:Certificate.Issuer.Organization":"x"}}`)), true},
		{"available keys", doc(withCond(`{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.SerialNumber"}}`)), true},
		{"condition value", doc(withCond(`{"StringEquals":{"iot:ClientId":"${iot:Certificate.Subject.AlternativeName.DNSName}"}}`)), true},
		{"not a certificate variable AWS defines", doc(allow(arn + "client/${iot:Certificate.Nickname}")), false},
		{"legacy version has no variables", `{"Version":"2008-10-17","Statement":[` + allow(arn+"client/${iot:Certificate.Subject.CommonName}") + `]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.doc).UsesCertificate(); got != tt.want {
				t.Errorf("UsesCertificate: got %v, want %v", got, tt.want)
			}
		})
	}
}
