package main

import (
	"os"
	"regexp"

	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
)

// archiver reads its ARCHIVER_* environment variables in one way: a flag
// whose help ends in [$NAME] takes NAME as its default (an explicitly set
// flag wins), and the same variables override the configuration file's
// keys listed in configEnvKeys. The file's own ${NAME} references are
// expanded by package config as it is read.

// defaultConfigPath is --config's default.
const defaultConfigPath = "/etc/archiver/config.yaml"

var envInUsage = regexp.MustCompile(`\[\$([A-Z][A-Z0-9_]*)\]$`)

// applyEnv sets every flag of fs that names a variable in its help, was
// not given on the command line, and whose variable is set.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		m := envInUsage.FindStringSubmatch(f.Usage)
		if m == nil || f.Changed || err != nil {
			return
		}
		if v, ok := os.LookupEnv(m[1]); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usageErrorf("$%s: %v", m[1], serr)
			}
		}
	})
	return err
}

// configEnvKeys are the configuration keys the variables override (the
// flags of the same names take them as defaults); fill keys take the
// variable only when the file leaves them empty.
var configEnvKeys = []struct {
	env  string
	key  func(*config.Config) *string
	fill bool
}{
	{"ARCHIVER_SOURCE", func(c *config.Config) *string { return &c.Sync.Source }, false},
	{"ARCHIVER_DEST", func(c *config.Config) *string { return &c.Sync.Dest }, false},
	{"ARCHIVER_KMS_KEY_ID", func(c *config.Config) *string { return &c.Sync.KMSKeyID }, false},
	{"ARCHIVER_CLUSTER", func(c *config.Config) *string { return &c.Cluster }, false},
	{"ARCHIVER_IMAGE", func(c *config.Config) *string { return &c.RestoreTest.Image }, true},
}

// configEnv applies the environment to a loaded configuration.
func configEnv(c *config.Config) {
	for _, k := range configEnvKeys {
		dst := k.key(c)
		if v, ok := os.LookupEnv(k.env); ok && (!k.fill || *dst == "") {
			*dst = v
		}
	}
}

// configPath is the configuration file a command without --config reads
// (restore, for the archive names' zone).
func configPath() string {
	if v, ok := os.LookupEnv("ARCHIVER_CONFIG"); ok && v != "" {
		return v
	}
	return defaultConfigPath
}
