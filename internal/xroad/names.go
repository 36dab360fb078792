package xroad

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf16"
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

// MaxGroupField is how much of "<group>-" X-Road keeps in a name: it
// formats the pair with %.200s, so a group of 200 or more characters
// (UTF-16 units, as Java counts) is cut to 200 and loses its dash.
const MaxGroupField = 200

// legacyZLen is the length of the random Z field of X-Road 6.x names
// (RandomStringUtils.randomAlphanumeric(10)), used until 7.0.0 put the
// last digest's prefix there.
const legacyZLen = 10

// ArchiveName is a parsed message-log archive file name.
type ArchiveName struct {
	// Group is the escaped client id when archive grouping is on, or "".
	// When X-Road cut it (see MaxGroupField), it is the cut form.
	Group string
	// First and Last are the X and Y fields: the earliest and latest record
	// times, written in the JVM's default zone (a plain SimpleDateFormat).
	// They are parsed as UTC wall clock; In reads them in the server's zone.
	First, Last time.Time
	// Digest is the Z field: the first 16 hex characters of the last chain
	// digest in the archive's linkinginfo ("" for a Legacy name).
	Digest string
	// Random is the Z field of a Legacy name: 10 random alphanumerics.
	Random string
	// Legacy is true for X-Road 6.x names, whose Z is random, not a digest.
	Legacy bool
	// Encrypted is true for .zip.gpg names.
	Encrypted bool
}

// ErrNotArchiveName is returned by ParseArchiveName for names that do not
// follow mlog[-GROUP]-X-Y-Z.zip[.gpg].
var ErrNotArchiveName = errors.New("not an X-Road message-log archive name")

// ParseArchiveName parses mlog[-GROUP]-X-Y-Z.zip[.gpg], where Z is 16
// lowercase hex characters (X-Road 7) or 10 alphanumerics (X-Road 6.x).
// The group may itself contain dashes and spaces, so the name is read from
// the right; a group X-Road cut to MaxGroupField characters has no dash
// before X.
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
	// rest = [GROUP-]X-Y-Z or GROUP200X-Y-Z: take Z, Y and X from the right.
	zi := strings.LastIndexByte(rest, '-')
	if zi < 0 {
		return an, fmt.Errorf("%q: %w: want X-Y-Z fields", name, ErrNotArchiveName)
	}
	z := rest[zi+1:]
	yi := strings.LastIndexByte(rest[:zi], '-')
	if yi < 0 {
		return an, fmt.Errorf("%q: %w: want X-Y-Z fields", name, ErrNotArchiveName)
	}
	y := rest[yi+1 : zi]
	xg := rest[:yi] // [GROUP-]X or GROUP200X
	if len(xg) < len(TimeLayout) {
		return an, fmt.Errorf("%q: %w: X is not yyyyMMddHHmmss", name, ErrNotArchiveName)
	}
	x := xg[len(xg)-len(TimeLayout):]
	var err error
	if an.First, err = parseStamp(x); err != nil {
		return an, fmt.Errorf("%q: %w: X: %v", name, ErrNotArchiveName, err)
	}
	if an.Last, err = parseStamp(y); err != nil {
		return an, fmt.Errorf("%q: %w: Y: %v", name, ErrNotArchiveName, err)
	}
	switch {
	case len(z) == 16 && isLowerHex(z):
		an.Digest = z
	case len(z) == legacyZLen && isAlnum(z):
		an.Random, an.Legacy = z, true
	default:
		return an, fmt.Errorf("%q: %w: Z %q is neither 16 lowercase hex characters nor 10 alphanumerics (X-Road 6)", name, ErrNotArchiveName, z)
	}
	g := xg[:len(xg)-len(TimeLayout)]
	switch {
	case g == "":
	case strings.HasSuffix(g, "-"):
		an.Group = g[:len(g)-1]
		if an.Group == "" || javaLen(g) > MaxGroupField {
			return an, fmt.Errorf("%q: %w: empty or over-long group", name, ErrNotArchiveName)
		}
	default:
		// No dash before X: only a group cut to exactly MaxGroupField.
		if javaLen(g) != MaxGroupField {
			return an, fmt.Errorf("%q: %w: no dash between group and X, and the group is not cut to %d characters", name, ErrNotArchiveName, MaxGroupField)
		}
		an.Group = g
	}
	return an, nil
}

// In returns the X and Y fields read as wall-clock times in loc (the
// zone of the JVM that wrote the archive).
func (a ArchiveName) In(loc *time.Location) (first, last time.Time) {
	at := func(t time.Time) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	}
	return at(a.First), at(a.Last)
}

// String formats the name the way X-Road's LogArchiveWriter does
// (mlog-%.200s%s-%s-%.16s.%s over "<group>-", X, Y, Z, suffix).
func (a ArchiveName) String() string {
	g := ""
	if a.Group != "" {
		g = cutJava(a.Group+"-", MaxGroupField)
	}
	ext := "zip"
	if a.Encrypted {
		ext = "zip.gpg"
	}
	z := a.Digest
	if a.Legacy {
		z = a.Random
	}
	return fmt.Sprintf("mlog-%s%s-%s-%s.%s", g, a.First.Format(TimeLayout), a.Last.Format(TimeLayout), z, ext)
}

// javaLen is the length of s in UTF-16 code units, as Java's String.length.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cutJava cuts s to n UTF-16 code units like Java's substring(0, n). A cut
// through a surrogate pair leaves a lone surrogate, which Java writes into
// a UTF-8 file name as '?'.
func cutJava(s string, n int) string {
	used := 0
	for i, r := range s {
		l := utf16.RuneLen(r)
		if used+l > n {
			if used < n { // half a pair fits
				return s[:i] + "?"
			}
			return s[:i]
		}
		used += l
	}
	return s
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

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// EscapeGroup turns a client id short form (INSTANCE/CLASS/CODE[/SUB]) into
// the group part of an archive name, as LogArchiveWriter.escape does with
// [\00\\<>/:|*?\p{gc=Cc}]: NUL, \ < > / : | * ? and every control
// character (C0, DEL and C1, U+0080..U+009F) become '_'; spaces and other
// characters are kept. The 200-character cut is applied with the dash, by
// ArchiveName.String.
func EscapeGroup(clientID string) string {
	var b strings.Builder
	for _, r := range clientID {
		switch {
		case r < 0x20 || r >= 0x7f && r <= 0x9f || strings.ContainsRune("\\<>/:|*?", r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
