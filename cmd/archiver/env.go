package main

import (
	"os"
	"regexp"

	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
)

// archiver reads its ARCHIVER_* environment variables in one way: a flag
// whose help ends in [$NAME] takes NAME as its default (an explicitly set
// flag wins), and package config applies the same variables to the
// configuration file's keys (config.ApplyEnv) besides expanding the file's
// own ${NAME} references.

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

// configFile is -c/--config, the configuration file.
type configFile string

func (p *configFile) AddFlag(fs *pflag.FlagSet) {
	fs.StringVarP((*string)(p), "config", "c", config.DefaultPath, "configuration file [$ARCHIVER_CONFIG]")
}

// load reads the file with the environment applied; any problem in it is
// a usage error.
func (p configFile) load() (*config.Config, error) {
	c, err := config.LoadEnv(string(p))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return c, nil
}
