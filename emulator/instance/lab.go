package instance

import (
	"fmt"
	"path/filepath"

	"github.com/iotlab/iotlab/broker/lab"
)

// startLab starts the lab listener unless it is "off". Its sessions and retained messages live in lab.db,
// apart from the mTLS broker's: nothing of one server's topic space reaches the other.
func (i *Instance) startLab() error {
	if i.cfg.LabAddr == "off" {
		return nil
	}
	srv, err := lab.New(lab.Options{
		Addr:    i.cfg.LabAddr,
		DBPath:  filepath.Join(i.cfg.StateDir, "lab.db"),
		ACLFile: i.cfg.LabACL,
		Logger:  i.log.With("component", "lab"),
	})
	if err != nil {
		return fmt.Errorf("instance: lab listener: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("instance: lab listener: %w", err)
	}
	i.lab = srv
	i.closers = append(i.closers, srv.Close)
	return nil
}
