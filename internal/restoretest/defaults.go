package restoretest

import "time"

// Defaults of Options and of the restore-test flags and configuration
// keys built on them.
const (
	// DefaultTimeout bounds a whole restore test.
	DefaultTimeout = 30 * time.Minute
	// DefaultRunAsUser is the verifier pod's uid/gid: X-Road's, so it can
	// read the restored files.
	DefaultRunAsUser = 999
)
