// Command modelgen derives iotlab's wire tables from the AWS service models that botocore ships
// (botocore/data/<service>/<version>/service-2.json.gz). It writes, per service, the HTTP route table
// and Go types for the input and output shapes of the operations iotlab implements, and the error
// catalogue's status codes. The model files themselves are never committed; only the generated Go is.
//
//	go run ./emulator/awsapi/internal/modelgen -botocore $(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

type member struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`
}

type shape struct {
	Type      string            `json:"type"`
	Members   map[string]member `json:"members"`
	Member    *member           `json:"member"`
	Key       *member           `json:"key"`
	Value     *member           `json:"value"`
	Payload   string            `json:"payload"`
	Required  []string          `json:"required"`
	Exception bool              `json:"exception"`
	Error     struct {
		HTTPStatusCode int `json:"httpStatusCode"`
	} `json:"error"`
	Enum []string `json:"enum"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input  *member `json:"input"`
	Output *member `json:"output"`
}

type model struct {
	Metadata struct {
		SigningName string `json:"signingName"`
		Protocol    string `json:"protocol"`
	} `json:"metadata"`
	Operations map[string]operation `json:"operations"`
	Shapes     map[string]shape     `json:"shapes"`
}

// The operations iotlab implements. Adding one here and re-running the generator gives it a route and types.
var services = []struct {
	dir, pkg, model string
	ops             []string
}{
	{"iotmodel", "iotmodel", "iot/2015-05-28", []string{
		// registry
		"CreateThing", "DescribeThing", "UpdateThing", "DeleteThing", "ListThings", "ListThingsInThingGroup", "ListThingsInBillingGroup",
		"CreateThingType", "DescribeThingType", "ListThingTypes", "DeprecateThingType", "DeleteThingType", "UpdateThingType",
		"CreateThingGroup", "DescribeThingGroup", "UpdateThingGroup", "DeleteThingGroup", "ListThingGroups",
		"AddThingToThingGroup", "RemoveThingFromThingGroup", "UpdateThingGroupsForThing", "ListThingGroupsForThing",
		"CreateBillingGroup", "DescribeBillingGroup", "UpdateBillingGroup", "DeleteBillingGroup", "ListBillingGroups",
		"AddThingToBillingGroup", "RemoveThingFromBillingGroup",
		"TagResource", "UntagResource", "ListTagsForResource", "DescribeEndpoint",
		// identity
		"CreateKeysAndCertificate", "CreateCertificateFromCsr", "RegisterCertificateWithoutCA", "RegisterCertificate",
		"GetRegistrationCode", "RegisterCACertificate", "DescribeCACertificate", "ListCACertificates", "UpdateCACertificate", "DeleteCACertificate",
		"DescribeCertificate", "ListCertificates", "ListCertificatesByCA", "UpdateCertificate", "DeleteCertificate",
		"CreatePolicy", "GetPolicy", "ListPolicies", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion", "ListPolicyVersions",
		"SetDefaultPolicyVersion", "DeletePolicyVersion", "AttachPolicy", "DetachPolicy", "ListAttachedPolicies", "ListTargetsForPolicy",
		"GetEffectivePolicies", "AttachThingPrincipal", "DetachThingPrincipal", "ListThingPrincipals", "ListPrincipalThings",
		"ListThingPrincipalsV2", "ListPrincipalThingsV2", "TestAuthorization",
		"AttachPrincipalPolicy", "DetachPrincipalPolicy", "ListPrincipalPolicies", "ListPolicyPrincipals",
		// logging
		"SetV2LoggingOptions", "GetV2LoggingOptions", "SetV2LoggingLevel", "ListV2LoggingLevels", "DeleteV2LoggingLevel",
		// rules
		"CreateTopicRule", "GetTopicRule", "ListTopicRules", "ReplaceTopicRule", "DeleteTopicRule", "EnableTopicRule", "DisableTopicRule",
	}},
	{"datamodel", "datamodel", "iot-data/2015-05-28", nil}, // nil: every operation
}

func main() {
	botocore := flag.String("botocore", "", "path of the botocore package (holds data/)")
	out := flag.String("out", "emulator/awsapi", "output folder")
	flag.Parse()
	if *botocore == "" {
		log.Fatal("modelgen: -botocore is required")
	}
	var errs []errEntry
	for _, svc := range services {
		m, err := load(filepath.Join(*botocore, "data", svc.model, "service-2.json.gz"))
		if err != nil {
			log.Fatal(err)
		}
		ops := svc.ops
		if ops == nil {
			for name := range m.Operations {
				ops = append(ops, name)
			}
			sort.Strings(ops)
		}
		src, err := generate(m, svc.pkg, ops)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(*out, svc.dir), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, svc.dir, "model_gen.go"), src, 0o644); err != nil {
			log.Fatal(err)
		}
		for name, s := range m.Shapes {
			if s.Exception {
				errs = append(errs, errEntry{m.Metadata.SigningName, name, s.Error.HTTPStatusCode})
			}
		}
	}
	src := genErrors(errs)
	if err := os.WriteFile(filepath.Join(*out, "..", "awserr", "catalogue_gen.go"), src, 0o644); err != nil {
		log.Fatal(err)
	}
}

func load(path string) (*model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var m model
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		return nil, fmt.Errorf("modelgen: %s: %w", path, err)
	}
	return &m, nil
}

type gen struct {
	m       *model
	buf     bytes.Buffer
	emitted map[string]bool
	queue   []string
}

func generate(m *model, pkg string, ops []string) ([]byte, error) {
	g := &gen{m: m, emitted: map[string]bool{}}
	w := &g.buf
	fmt.Fprintf(w, "// Code generated by modelgen from botocore's %s model; DO NOT EDIT.\n\n", m.Metadata.SigningName)
	fmt.Fprintf(w, "package %s\n\nimport \"github.com/iotlab/iotlab/emulator/awsapi/wire\"\n\n", pkg)
	fmt.Fprintf(w, "// SigningName is the SigV4 service name clients sign with.\nconst SigningName = %q\n\n", m.Metadata.SigningName)
	fmt.Fprintf(w, "// Routes maps each implemented operation to its HTTP binding.\nvar Routes = []wire.Route{\n")
	for _, name := range ops {
		op, ok := m.Operations[name]
		if !ok {
			return nil, fmt.Errorf("modelgen: no operation %s", name)
		}
		path, query, _ := strings.Cut(op.HTTP.RequestURI, "?")
		status := op.HTTP.ResponseCode
		if status == 0 {
			status = 200
		}
		fmt.Fprintf(w, "\t{Op: %q, Method: %q, Path: %q, Status: %d", name, op.HTTP.Method, path, status)
		if query != "" {
			fmt.Fprintf(w, ", LiteralQuery: %q", query)
		}
		if op.Input != nil {
			in := m.Shapes[op.Input.Shape]
			var bs []string
			for _, mn := range sortedKeys(in.Members) {
				mem := in.Members[mn]
				if mem.Location == "" {
					continue
				}
				bs = append(bs, fmt.Sprintf("{Member: %q, Location: wire.Loc%s, Name: %q, Kind: wire.Kind%s}",
					mn, exported(mem.Location), mem.LocationName, exported(g.kind(mem.Shape))))
			}
			if len(bs) > 0 {
				fmt.Fprintf(w, ", Bindings: []wire.Binding{%s}", strings.Join(bs, ", "))
			}
			if in.Payload != "" {
				fmt.Fprintf(w, ", InPayload: %q, InPayloadBlob: %v", in.Payload, g.kind(in.Members[in.Payload].Shape) == "blob")
			}
		}
		if op.Output != nil {
			out := m.Shapes[op.Output.Shape]
			if out.Payload != "" {
				fmt.Fprintf(w, ", OutPayload: %q, OutPayloadBlob: %v", out.Payload, g.kind(out.Members[out.Payload].Shape) == "blob")
			}
		}
		fmt.Fprintf(w, "},\n")
		if op.Input != nil {
			g.want(op.Input.Shape)
		}
		if op.Output != nil {
			g.want(op.Output.Shape)
		}
	}
	fmt.Fprintf(w, "}\n\n")
	for len(g.queue) > 0 {
		name := g.queue[0]
		g.queue = g.queue[1:]
		g.structure(name)
	}
	src, err := format.Source(w.Bytes())
	if err != nil {
		return w.Bytes(), fmt.Errorf("modelgen: gofmt: %w", err)
	}
	return src, nil
}

func (g *gen) want(name string) {
	if !g.emitted[name] {
		g.emitted[name] = true
		g.queue = append(g.queue, name)
	}
}

func (g *gen) kind(shapeName string) string {
	switch t := g.m.Shapes[shapeName].Type; t {
	case "string", "integer", "long", "boolean", "double", "float", "timestamp", "blob", "list", "map", "structure":
		return t
	default:
		panic("modelgen: unknown shape type " + t)
	}
}

// goType gives the Go type of a member: strings by value, numbers and booleans by pointer so "absent"
// differs from zero (AWS distinguishes them, e.g. expectedVersion), structures by pointer.
func (g *gen) goType(shapeName string) string {
	s := g.m.Shapes[shapeName]
	switch s.Type {
	case "string":
		return "string"
	case "integer":
		return "*int32"
	case "long":
		return "*int64"
	case "boolean":
		return "*bool"
	case "double", "float":
		return "*float64"
	case "timestamp":
		return "*wire.Timestamp"
	case "blob":
		return "[]byte"
	case "list":
		return "[]" + strings.TrimPrefix(g.goType(s.Member.Shape), "*")
	case "map":
		return "map[string]" + strings.TrimPrefix(g.goType(s.Value.Shape), "*")
	case "structure":
		g.want(shapeName)
		return "*" + typeName(shapeName)
	}
	panic("modelgen: type " + s.Type)
}

func (g *gen) structure(name string) {
	s := g.m.Shapes[name]
	w := &g.buf
	fmt.Fprintf(w, "type %s struct {\n", typeName(name))
	for _, mn := range sortedKeys(s.Members) {
		mem := s.Members[mn]
		t := g.goType(mem.Shape)
		// Lists of structures hold values, which read better in handlers.
		fmt.Fprintf(w, "\t%s %s `json:\"%s,omitempty\"`\n", exported(mn), t, mn)
	}
	fmt.Fprintf(w, "}\n\n")
}

func typeName(s string) string { return exported(s) }

func exported(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type errEntry struct {
	service, code string
	status        int
}

func genErrors(es []errEntry) []byte {
	sort.Slice(es, func(i, j int) bool {
		if es[i].service != es[j].service {
			return es[i].service < es[j].service
		}
		return es[i].code < es[j].code
	})
	var w bytes.Buffer
	fmt.Fprintf(&w, "// Code generated by modelgen from botocore's models; DO NOT EDIT.\n\npackage awserr\n\n")
	fmt.Fprintf(&w, "// modelStatus is each modelled error's HTTP status, per SigV4 signing name.\nvar modelStatus = map[string]map[string]int{\n")
	last := ""
	for _, e := range es {
		if e.service != last {
			if last != "" {
				fmt.Fprintf(&w, "\t},\n")
			}
			fmt.Fprintf(&w, "\t%q: {\n", e.service)
			last = e.service
		}
		fmt.Fprintf(&w, "\t\t%q: %d,\n", e.code, e.status)
	}
	fmt.Fprintf(&w, "\t},\n}\n")
	src, err := format.Source(w.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	return src
}
