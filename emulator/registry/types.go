package registry

import (
	"time"

	"github.com/iotlab/iotlab/emulator/policy"
)

// The records below are the registry's own model, persisted as JSON. They are not the API's shapes.

// Thing is a registry thing. AWS: API_CreateThing
type Thing struct {
	Name         string            `json:"name"`
	ID           string            `json:"id"`
	TypeName     string            `json:"typeName,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	Version      int64             `json:"version"`
	BillingGroup string            `json:"billingGroup,omitempty"`
	Groups       []string          `json:"groups,omitempty"`     // static thing groups it belongs to directly
	Principals   []ThingPrincipal  `json:"principals,omitempty"` // attached certificates (ARNs)
	Created      time.Time         `json:"created"`
}

// ThingPrincipal is one AttachThingPrincipal. Type is EXCLUSIVE_THING or NON_EXCLUSIVE_THING.
type ThingPrincipal struct {
	Principal string `json:"principal"`
	Type      string `json:"type"`
}

// ThingType is a thing type. AWS: API_CreateThingType
type ThingType struct {
	Name                 string     `json:"name"`
	ID                   string     `json:"id"`
	Description          string     `json:"description,omitempty"`
	SearchableAttributes []string   `json:"searchableAttributes,omitempty"`
	Deprecated           bool       `json:"deprecated,omitempty"`
	DeprecationDate      *time.Time `json:"deprecationDate,omitempty"`
	Created              time.Time  `json:"created"`

	Propagating []PropagatingAttribute `json:"propagatingAttributes,omitempty"` // MQTT 5 enrichment. AWS: API_PropagatingAttribute
}

// ThingGroup is a static thing group. AWS: thing-groups
type ThingGroup struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Parent      string            `json:"parent,omitempty"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Version     int64             `json:"version"`
	Created     time.Time         `json:"created"`
}

// BillingGroup is a billing group. AWS: tagging-iot-billing-groups
type BillingGroup struct {
	Name        string    `json:"name"`
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Version     int64     `json:"version"`
	Created     time.Time `json:"created"`
}

// Certificate is a device certificate. ID is the hex SHA-256 of its DER. AWS: x509-client-certs
type Certificate struct {
	ID         string    `json:"id"`
	PEM        string    `json:"pem"`
	Status     string    `json:"status"` // ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION
	CAID       string    `json:"caId,omitempty"`
	Mode       string    `json:"mode"` // DEFAULT or SNI_ONLY
	Owner      string    `json:"owner"`
	Created    time.Time `json:"created"`
	Modified   time.Time `json:"modified"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	Generation string    `json:"generation"`
	Customer   int64     `json:"customerVersion"`
}

// CACertificate is a registered CA. AWS: register-CA-cert
type CACertificate struct {
	ID               string    `json:"id"`
	PEM              string    `json:"pem"`
	Status           string    `json:"status"` // ACTIVE or INACTIVE
	AutoRegistration string    `json:"autoRegistration"`
	Mode             string    `json:"mode"`
	Owner            string    `json:"owner"`
	Created          time.Time `json:"created"`
	Modified         time.Time `json:"modified"`
	NotBefore        time.Time `json:"notBefore"`
	NotAfter         time.Time `json:"notAfter"`
	Generation       string    `json:"generation"`
	Customer         int64     `json:"customerVersion"`
	Role             string    `json:"role,omitempty"`     // registrationConfig.roleArn
	Template         string    `json:"template,omitempty"` // registrationConfig.templateBody
	TemplateName     string    `json:"templateName,omitempty"`
}

// Policy is a named IoT policy with its versions. AWS: iot-policies
type Policy struct {
	Name        string           `json:"name"`
	Versions    []*PolicyVersion `json:"versions"` // ascending by id
	Default     string           `json:"default"`  // default version id
	NextVersion int              `json:"nextVersion"`
	Targets     []string         `json:"targets,omitempty"` // attached to: certificate ARNs, thing group ARNs
	Created     time.Time        `json:"created"`
	Modified    time.Time        `json:"modified"`
	Generation  string           `json:"generation"`
}

// PolicyVersion is one version's document.
type PolicyVersion struct {
	ID       string    `json:"id"`
	Document string    `json:"document"`
	Created  time.Time `json:"created"`

	// compiled is Document parsed once, when the version is created or loaded (UnmarshalJSON in
	// policies.go), so that evaluation never parses; nil only for a stored document today's parser
	// rejects, which then grants nothing.
	compiled *policy.Compiled
}
