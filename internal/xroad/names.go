package xroad

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Kind says what a file below the archive directory is.
type Kind int

const (
	// KindIgnored is everything archiver must not ship: tmp-mlog-*.tmp,
	// dbdump.dat, restore_lock, the pre-restore tar, anything unknown.
	KindIgnored Kind = iota
	// KindArchive is a finished plain message-log archive (mlog-*.zip).
	KindArchive
	// KindEncryptedArchive is a finished GPG-encrypted archive (mlog-*.zip.gpg).
	KindEncryptedArchive
	// KindBackup is a configuration backup in backup/ (*.gpg, or *.tar
	// from X-Road versions before 7.0). Backups are not written atomically.
	KindBackup
)

func (k Kind) String() string {
	switch k {
	case KindArchive:
		return "archive"
	case KindEncryptedArchive:
		return "encrypted-archive"
	case KindBackup:
		return "backup"
	default:
		return "ignored"
	}
}

// BackupDir is the directory, relative to the archive path, that holds
// configuration backups (conf-backup-path).
const BackupDir = "backup"

// Classify tells what the file at rel (a slash-separated path relative to
// the archive directory) is. Archives count only at the top level and
// backups only directly inside backup/; hidden files are always ignored.
func Classify(rel string) Kind {
	dir, name := path.Split(rel)
	if name == "" || strings.HasPrefix(name, ".") {
		return KindIgnored
	}
	switch dir {
	case "":
		if !strings.HasPrefix(name, "mlog-") {
			return KindIgnored
		}
		switch {
		case strings.HasSuffix(name, ".zip.gpg") && len(name) > len("mlog-.zip.gpg"):
			return KindEncryptedArchive
		case strings.HasSuffix(name, ".zip") && len(name) > len("mlog-.zip"):
			return KindArchive
		}
	case BackupDir + "/":
		if strings.HasSuffix(name, ".gpg") || strings.HasSuffix(name, ".tar") {
			return KindBackup
		}
	}
	return KindIgnored
}

// TimeLayout is the layout of the X and Y fields of an archive name.
const TimeLayout = "20060102150405"

// ArchiveName is a parsed message-log archive file name.
type ArchiveName struct {
	// Group is the escaped client id when archive grouping is on, or "".
	Group string
	// First and Last are the X and Y fields: the earliest and latest record
	// times. X-Road writes them in the JVM's zone (UTC in the Sidecar);
	// they are parsed as UTC.
	First, Last time.Time
	// Digest is the Z field: the first 16 hex characters of the last chain
	// digest in the archive's linkinginfo.
	Digest string
	// Encrypted is true for .zip.gpg names.
	Encrypted bool
}

// ErrNotArchiveName is returned by ParseArchiveName for names that do not
// follow mlog[-GROUP]-X-Y-Z.zip[.gpg].
var ErrNotArchiveName = errors.New("not an X-Road message-log archive name")

// ParseArchiveName parses mlog[-GROUP]-X-Y-Z.zip[.gpg]. The group may itself
// contain dashes, so the name is read from the right.
func ParseArchiveName(name string) (ArchiveName, error) {
	var an ArchiveName
	base, ok := strings.CutSuffix(name, ".zip.gpg")
	if ok {
		an.Encrypted = true
	} else if base, ok = strings.CutSuffix(name, ".zip"); !ok {
		return an, fmt.Errorf("%q: %w: no .zip or .zip.gpg suffix", name, ErrNotArchiveName)
	}
	rest, ok := strings.CutPrefix(base, "mlog-")
	if !ok {
		return an, fmt.Errorf("%q: %w: no mlog- prefix", name, ErrNotArchiveName)
	}
	f := strings.Split(rest, "-")
	if len(f) < 3 {
		return an, fmt.Errorf("%q: %w: want X-Y-Z fields", name, ErrNotArchiveName)
	}
	n := len(f)
	x, y, z := f[n-3], f[n-2], f[n-1]
	var err error
	if an.First, err = parseStamp(x); err != nil {
		return an, fmt.Errorf("%q: %w: X: %v", name, ErrNotArchiveName, err)
	}
	if an.Last, err = parseStamp(y); err != nil {
		return an, fmt.Errorf("%q: %w: Y: %v", name, ErrNotArchiveName, err)
	}
	if len(z) != 16 || !isLowerHex(z) {
		return an, fmt.Errorf("%q: %w: Z %q is not 16 lowercase hex characters", name, ErrNotArchiveName, z)
	}
	an.Digest = z
	an.Group = strings.Join(f[:n-3], "-")
	if n > 3 && an.Group == "" {
		return an, fmt.Errorf("%q: %w: empty group", name, ErrNotArchiveName)
	}
	return an, nil
}

// String formats the name the way X-Road's LogArchiveWriter does.
func (a ArchiveName) String() string {
	g := ""
	if a.Group != "" {
		g = a.Group + "-"
	}
	ext := "zip"
	if a.Encrypted {
		ext = "zip.gpg"
	}
	return fmt.Sprintf("mlog-%s%s-%s-%s.%s", g, a.First.UTC().Format(TimeLayout), a.Last.UTC().Format(TimeLayout), a.Digest, ext)
}

func parseStamp(s string) (time.Time, error) {
	if len(s) != len(TimeLayout) {
		return time.Time{}, fmt.Errorf("%q is not yyyyMMddHHmmss", s)
	}
	return time.Parse(TimeLayout, s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// EscapeGroup turns a client id short form (INSTANCE/CLASS/CODE[/SUB]) into
// the group part of an archive name, as LogArchiveWriter.escape does: NUL,
// \ < > / : | * ? and control characters become '_', cut to 200 characters.
func EscapeGroup(clientID string) string {
	var b strings.Builder
	for _, r := range clientID {
		switch {
		case r < 0x20 || r == 0x7f || strings.ContainsRune("\\<>/:|*?", r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
