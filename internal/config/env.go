package config

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// DefaultPath is where the configuration file is when neither --config
// nor $ARCHIVER_CONFIG names one.
const DefaultPath = "/etc/archiver/config.yaml"

// Path is the configuration file a command without --config reads:
// $ARCHIVER_CONFIG, else DefaultPath.
func Path() string {
	if v, ok := os.LookupEnv("ARCHIVER_CONFIG"); ok && v != "" {
		return v
	}
	return DefaultPath
}

// envKeys are the keys the ARCHIVER_* variables override (the flags of
// the same names take them as defaults); fill keys take the variable only
// when the file leaves them empty.
var envKeys = []struct {
	env  string
	key  func(*Config) *string
	fill bool
}{
	{"ARCHIVER_SOURCE", func(c *Config) *string { return &c.Sync.Source }, false},
	{"ARCHIVER_DEST", func(c *Config) *string { return &c.Sync.Dest }, false},
	{"ARCHIVER_KMS_KEY_ID", func(c *Config) *string { return &c.Sync.KMSKeyID }, false},
	{"ARCHIVER_CLUSTER", func(c *Config) *string { return &c.Cluster }, false},
	{"ARCHIVER_IMAGE", func(c *Config) *string { return &c.RestoreTest.Image }, true},
}

// ApplyEnv applies the ARCHIVER_* variables to a loaded configuration
// (lookup is os.LookupEnv outside tests).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	for _, k := range envKeys {
		dst := k.key(c)
		if v, ok := lookup(k.env); ok && (!k.fill || *dst == "") {
			*dst = v
		}
	}
}

// LoadEnv reads the file at path and applies the environment to it; the
// error names the file.
func LoadEnv(path string) (*Config, error) {
	c, err := Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.ApplyEnv(os.LookupEnv)
	return c, nil
}

// ErrZone is a time zone name that is not known.
var ErrZone = errors.New("unknown time zone")

// ArchiveZoneFor is the zone archive names are written in as a command
// resolves it: name (its flag) when not empty, else ArchiveZoneAt(Path()).
// An unknown name is ErrZone.
func ArchiveZoneFor(name string) (*time.Location, error) {
	if name == "" {
		return ArchiveZoneAt(Path())
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrZone, name, err)
	}
	return loc, nil
}

// ArchiveZoneAt is the archive names' zone (ArchiveLocation) of the file
// at path, UTC when there is no file there.
func ArchiveZoneAt(path string) (*time.Location, error) {
	if _, err := os.Stat(path); err != nil {
		return time.UTC, nil
	}
	c, err := Load(path)
	if err != nil {
		return nil, fmt.Errorf("read the archive names' time zone from %s: %w", path, err)
	}
	return c.ArchiveLocation()
}
