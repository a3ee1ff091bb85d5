package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Resource kinds, in the order Cleanup deletes them.
const (
	KindRule           = "rule"
	KindRetained       = "retained"        // a retained message (Name is the topic)
	KindShadow         = "shadow"          // a thing's classic shadow (Name is the thing)
	KindPolicyTarget   = "policy-target"   // Name policy attached to Target
	KindThingPrincipal = "thing-principal" // Name thing attached to principal Target
	KindCertificate    = "certificate"     // ID
	KindThing          = "thing"
	KindThingGroup     = "thing-group"
	KindBillingGroup   = "billing-group"
	KindPolicy         = "policy"
	KindThingType      = "thing-type"
)

var kindOrder = []string{KindRule, KindRetained, KindShadow, KindPolicyTarget, KindThingPrincipal, KindCertificate,
	KindThing, KindThingGroup, KindBillingGroup, KindPolicy, KindThingType}

// Resource is one thing a run created.
type Resource struct {
	Kind    string    `json:"kind"`
	Name    string    `json:"name"`
	ID      string    `json:"id,omitempty"`
	ARN     string    `json:"arn,omitempty"`
	Target  string    `json:"target,omitempty"`
	Account string    `json:"account,omitempty"`
	Region  string    `json:"region,omitempty"`
	Run     string    `json:"run,omitempty"`
	Created time.Time `json:"created"`
	// Note says why an earlier cleanup left it (a thing type must stay deprecated for 5 minutes).
	Note string `json:"note,omitempty"`
}

func (r Resource) key() string { return r.Kind + "\x00" + r.Name + "\x00" + r.ID + "\x00" + r.Target }

// Manifest is the list of resources runs created on a target. With a path, every change is written
// through to the file (merged with what other processes wrote, under an flock), so a crashed run still
// leaves a list `iotlab aws cleanup` can work from.
type Manifest struct {
	path string
	mu   sync.Mutex // guards list
	list []Resource
}

// NewManifest is an in-memory manifest (path "") or one backed by the file at path.
func NewManifest(path string) *Manifest { return &Manifest{path: path} }

// OpenManifest loads the file at path, if any.
func OpenManifest(path string) (*Manifest, error) {
	m := NewManifest(path)
	if path == "" {
		return m, nil
	}
	list, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	m.list = list
	return m, nil
}

func readManifest(path string) ([]Resource, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target: manifest: %w", err)
	}
	var doc struct {
		Resources []Resource `json:"resources"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("target: manifest %s: %w", path, err)
	}
	return doc.Resources, nil
}

// Path is the manifest file ("" when in memory).
func (m *Manifest) Path() string { return m.path }

// Add records a resource.
func (m *Manifest) Add(r Resource) error {
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	return m.update(func(list []Resource) []Resource {
		if slices.ContainsFunc(list, func(x Resource) bool { return x.key() == r.key() }) {
			return list
		}
		return append(list, r)
	})
}

// Remove forgets resources (deleted ones).
func (m *Manifest) Remove(rs ...Resource) error {
	gone := map[string]bool{}
	for _, r := range rs {
		gone[r.key()] = true
	}
	return m.update(func(list []Resource) []Resource {
		return slices.DeleteFunc(list, func(x Resource) bool { return gone[x.key()] })
	})
}

// Note updates the note of a resource still listed.
func (m *Manifest) Note(r Resource, note string) error {
	return m.update(func(list []Resource) []Resource {
		for i := range list {
			if list[i].key() == r.key() {
				list[i].Note = note
			}
		}
		return list
	})
}

// Resources lists what was recorded, for one run ("" = all).
func (m *Manifest) Resources(run string) []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.path != "" {
		if list, err := readManifest(m.path); err == nil {
			m.list = list
		}
	}
	var out []Resource
	for _, r := range m.list {
		if run == "" || r.Run == run {
			out = append(out, r)
		}
	}
	return out
}

// update applies f to the list: in memory, or read-modify-write of the file under an exclusive flock.
func (m *Manifest) update(f func([]Resource) []Resource) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.path == "" {
		m.list = f(m.list)
		return nil
	}
	lock, err := os.OpenFile(m.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("target: manifest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("target: manifest lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	list, err := readManifest(m.path)
	if err != nil {
		return err
	}
	list = f(list)
	b, err := json.MarshalIndent(struct {
		Comment   string     `json:"comment"`
		Resources []Resource `json:"resources"`
	}{"resources iotlab created in AWS; `iotlab aws cleanup` deletes them", list}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), ".manifest-*")
	if err != nil {
		return fmt.Errorf("target: manifest: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("target: manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), m.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("target: manifest: %w", err)
	}
	m.list = list
	return nil
}
