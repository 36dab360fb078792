package s3sync

import "time"

// Defaults of Options and of the sync flags and configuration keys built
// on them: the one place they are written.
const (
	// DefaultSource is X-Road's archive-path.
	DefaultSource = "/var/lib/xroad"
	// DefaultConcurrency is the files (and requests) in flight.
	DefaultConcurrency = 4
	// DefaultBackupQuiet: a backup ships once unmodified this long (X-Road
	// writes backups in place).
	DefaultBackupQuiet = 2 * time.Minute
)
