package instance

import (
	"fmt"
	"path/filepath"

	"github.com/iotlab/iotlab/broker"
	"github.com/iotlab/iotlab/broker/awslog"
	"github.com/iotlab/iotlab/emulator/policy"
	"github.com/iotlab/iotlab/emulator/registry"
)

// directory binds the registry to the broker's Directory (and its optional extensions): the broker
// serves one account and region.
type directory struct {
	reg *registry.Registry
	sc  registry.Scope
}

func (d directory) Certificate(certID string) (broker.Cert, bool) {
	c, ok := d.reg.CertificateByID(d.sc, certID)
	if !ok {
		return broker.Cert{}, false
	}
	return broker.Cert{ID: c.ID, Status: c.Status, CAID: c.CAID}, true
}

func (d directory) CACertificate(caID string) (broker.Cert, bool) {
	c, ok := d.reg.CACertificateByID(d.sc, caID)
	if !ok {
		return broker.Cert{}, false
	}
	return broker.Cert{ID: c.ID, Status: c.Status}, true
}

func (d directory) Principal(certID, clientID string) ([]policy.Policy, *policy.Thing, error) {
	return d.reg.Principal(d.sc, certID, clientID)
}

// ThingGroups lists a thing's groups and their ancestors, for THING_GROUP log targets.
func (d directory) ThingGroups(thing string) []string {
	groups, _, err := d.reg.ListThingGroupsForThing(d.sc, thing, registry.Page{Max: 250, Limit: 250})
	if err != nil {
		return nil
	}
	return groups
}

// Logging turns the stored V2 logging configuration into the broker's. AWS: configure-logging
func (d directory) Logging() awslog.Config {
	opts, err := d.reg.GetV2LoggingOptions(d.sc)
	if err != nil {
		return awslog.Config{} // not configured: AWS writes no log
	}
	cfg := awslog.Config{Configured: true, DisableAll: opts.DisableAllLogs}
	cfg.DefaultLevel = level(opts.DefaultLogLevel, awslog.Error)
	for _, ec := range opts.EventConfigurations {
		if ec.LogLevel == "" {
			continue
		}
		if cfg.EventLevels == nil {
			cfg.EventLevels = map[string]awslog.Level{}
		}
		cfg.EventLevels[ec.EventType] = level(ec.LogLevel, cfg.DefaultLevel)
	}
	for _, t := range d.reg.V2LoggingLevels(d.sc) {
		if t.TargetType == "DEFAULT" {
			cfg.DefaultLevel = level(t.LogLevel, cfg.DefaultLevel)
			continue
		}
		if cfg.Targets == nil {
			cfg.Targets = map[string]map[string]awslog.Level{}
		}
		if cfg.Targets[t.TargetType] == nil {
			cfg.Targets[t.TargetType] = map[string]awslog.Level{}
		}
		cfg.Targets[t.TargetType][t.TargetName] = level(t.LogLevel, cfg.DefaultLevel)
	}
	return cfg
}

func level(s string, def awslog.Level) awslog.Level {
	if l, ok := awslog.ParseLevel(s); ok {
		return l
	}
	return def
}

// startBroker starts the mTLS broker and routes registry changes that affect live connections to it.
func (i *Instance) startBroker() error {
	sc := registry.Scope{Account: i.cfg.Account, Region: i.cfg.Region}
	limits := broker.Limits{}
	if i.cfg.Limits == "none" {
		limits = broker.NoQuotas()
	}
	alpn := i.cfg.ALPNAddr
	if !enabled(alpn) {
		alpn = ""
	}
	bst, err := i.cfg.hooks.brokerStore(filepath.Join(i.cfg.StateDir, "broker.db")) // nil unless a test wraps it
	if err != nil {
		return fmt.Errorf("instance: broker: %w", err)
	}
	b, err := broker.New(broker.Options{
		Addr:             i.cfg.MQTTAddr,
		ALPNAddr:         alpn,
		TLSConfig:        i.CA.ServerTLSConfig(),
		Directory:        directory{reg: i.Registry, sc: sc},
		Account:          i.cfg.Account,
		Region:           i.cfg.Region,
		EndpointHost:     i.cfg.EndpointHost,
		Limits:           limits,
		HandshakeTimeout: i.cfg.HandshakeTimeout,
		StorePath:        filepath.Join(i.cfg.StateDir, "broker.db"),
		Store:            bst,
		LogDir:           filepath.Join(i.cfg.StateDir, "logs"),
		Logger:           i.log.With("component", "broker"),
	})
	if err != nil {
		return fmt.Errorf("instance: broker: %w", err)
	}
	if err := b.Start(); err != nil {
		return fmt.Errorf("instance: broker: %w", err)
	}
	i.Broker = b
	i.closers = append(i.closers, b.Close)
	i.Registry.Watch(func(e registry.Event) {
		if e.Scope != sc {
			return
		}
		switch e.Kind {
		case "cert":
			b.CertificateChanged(e.Name)
		case "cacert":
			b.CACertificateChanged(e.Name)
		case "logging":
			b.LoggingChanged()
		default: // policy, attachment, thing, thinggroup: re-resolve principals on the next operation
			b.PoliciesChanged()
		}
	})
	return nil
}
