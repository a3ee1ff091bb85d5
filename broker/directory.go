package broker

import (
	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/emulator/policy"
)

// Directory is what the broker needs from the control plane. The broker declares it and never imports
// the registry; emulator/instance binds the registry to it. Implementations must be safe for concurrent
// use and must not call back into the Server.
type Directory interface {
	// Certificate returns the registered certificate whose ID (hex SHA-256 of the DER) is certID.
	Certificate(certID string) (Cert, bool)
	// Principal returns what a connection of certID with client ID clientID may do: the effective
	// policies (the certificate's, then those inherited from the thing's groups) in their default
	// versions, and the thing the client ID names (nil when no thing has that name), with IsAttached
	// telling whether certID is attached to it — resolved as AWS does.
	// AWS: thing-policy-variables, thing-groups
	Principal(certID, clientID string) (policies []policy.Policy, thing *policy.Thing, err error)
}

// LoggingDirectory is implemented by Directories that keep the V2 logging configuration
// (SetV2LoggingOptions, SetV2LoggingLevel). The broker reads it at Start and on LoggingChanged.
type LoggingDirectory interface {
	Logging() awslog.Config
}

// CADirectory is implemented by Directories that know registered CA certificates. With it, a device
// certificate whose CAID names a CA that is not registered or not ACTIVE cannot connect, and
// CACertificateChanged disconnects its devices. AWS does not document what happens to devices of a CA
// made INACTIVE (unverified); refusing them is the cautious reading. AWS: API_UpdateCACertificate
type CADirectory interface {
	CACertificate(caID string) (Cert, bool)
}

// ThingGroupDirectory is implemented by Directories that can list the static thing groups of a thing
// (its groups and their ancestors), for THING_GROUP log targets. The broker asks once per connection,
// for the thing the connection is identified as. AWS: configure-logging (resource-specific logging)
type ThingGroupDirectory interface {
	ThingGroups(thingName string) []string
}

// Cert is a registered device certificate.
type Cert struct {
	ID string
	// Status is ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE or PENDING_ACTIVATION.
	// Only ACTIVE certificates connect.
	Status string
	// CAID is the registered CA's certificate ID; "" for certificates registered without a CA and for
	// AWS-made ones.
	CAID string
}

// StatusActive is the only certificate status that may connect. AWS: API_UpdateCertificate
const StatusActive = "ACTIVE"
