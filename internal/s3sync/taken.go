package s3sync

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// takenKeys holds, for the files a run ships, the keys the destination
// already held when the run began although no manifest records them:
// objects a killed run uploaded before it could commit. A nil takenKeys
// means the run did not list, and each key is looked at (HEAD) before it
// is written.
type takenKeys map[string]bool

// has reports whether key may be taken: always, when the run did not list.
func (t takenKeys) has(key string) bool { return t == nil || t[key] }

// listPage is how many keys one LIST answer carries (S3's maximum); a
// variable so a test can make a listing expensive without writing
// thousands of objects.
var listPage = 1000

// minListed is the fewest files a run ships before it lists: an hourly
// run's few files are looked at one by one, as cheaply as any listing;
// a backlog or a first sync of a full volume lists.
const minListed = 16

var errListTooLong = errors.New("listing would cost more than the HEADs it saves")

// cheapHeads is a destination where looking at one key costs less than any
// listing (store.Local: one lstat, against reading a whole directory).
type cheapHeads interface{ HeadIsCheap() bool }

// listTaken learns which of toShip's keys are already taken by listing
// only the key ranges those files fall in, in at most one LIST page per
// two HEADs it replaces. It starts with one range per directory (the
// prefix all its files share). A range that holds more history than its
// files' share of the budget (one page per eight files) is split where
// its sorted names share the least (another archive group, another month,
// an old file tried again) and its halves are listed instead. A listing
// that exceeds the whole budget is abandoned and the run looks per key, as
// it would have: either way a run's requests follow the files it ships,
// not the history. It returns nil when it did not list, errListTooLong
// when it gave up, and any other error the listing's.
func listTaken(ctx context.Context, s store.Reader, toShip []File) (takenKeys, error) {
	if c, ok := s.(cheapHeads); ok && c.HeadIsCheap() || len(toShip) < minListed {
		return nil, nil
	}
	budget := len(toShip) / 2 // LIST pages
	wanted := make(map[string]bool, len(toShip))
	names := make([]string, 0, len(toShip))
	for _, f := range toShip {
		wanted[f.Rel] = true
		names = append(names, f.Rel)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	taken := takenKeys{}
	pages := 0
	for ranges := byDirectory(names); len(ranges) > 0; {
		r := ranges[len(ranges)-1]
		ranges = ranges[:len(ranges)-1]
		allowed := max(len(r)/8, 1)
		if len(r) == 1 {
			allowed = budget // one name: its range holds only its own versions
		}
		used, n := 1, 0
		if pages++; pages > budget {
			return nil, errListTooLong
		}
		err := s.List(ctx, commonPrefix(r), func(o store.Object) error {
			if n > 0 && n%listPage == 0 { // the answer went on to another page
				if used++; used > allowed {
					return errRangeTooWide
				}
				if pages++; pages > budget {
					return errListTooLong
				}
			}
			n++
			if mayStore(wanted, o.Key) {
				taken[o.Key] = true
			}
			return nil
		})
		switch {
		case errors.Is(err, errRangeTooWide):
			ranges = append(ranges, split(r)...)
		case err != nil:
			return nil, err
		}
	}
	return taken, nil
}

var errRangeTooWide = errors.New("range holds more than its share")

// byDirectory splits sorted names into runs of the same directory.
func byDirectory(names []string) [][]string {
	var out [][]string
	first := 0
	for i := 1; i <= len(names); i++ {
		if i == len(names) || path.Dir(names[i]) != path.Dir(names[first]) {
			out = append(out, names[first:i])
			first = i
		}
	}
	return out
}

// split cuts sorted names (two or more) where neighbours share the least.
func split(names []string) [][]string {
	at, least := 1, len(names[0])+1
	for i := 1; i < len(names); i++ {
		if n := sharedPrefix(names[i-1], names[i]); n < least {
			at, least = i, n
		}
	}
	return [][]string{names[:at], names[at:]}
}

// commonPrefix is the prefix every one of sorted names starts with: every
// key they may be written under (the name itself, a versioned name, a
// compressed name) starts with it too.
func commonPrefix(names []string) string {
	return names[0][:sharedPrefix(names[0], names[len(names)-1])]
}

// sharedPrefix is how many leading bytes a and b share, ending on a whole
// UTF-8 character (a server may refuse a prefix cut inside one).
func sharedPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && !utf8.ValidString(a[:n]) {
		n--
	}
	return n
}

// mayStore reports whether key may hold one of the wanted paths: the path
// itself, or with the compression suffix, a version suffix ("~" and 16 hex
// digits, versionedKey), or both.
func mayStore(wanted map[string]bool, key string) bool {
	plain, _ := strings.CutSuffix(key, codec.ZstdSuffix)
	return wanted[key] || wanted[plain] || wanted[unversioned(key)] || wanted[unversioned(plain)]
}

// unversioned strips a version suffix ("~" and 16 lower-case hex digits).
func unversioned(key string) string {
	if i := len(key) - 17; i > 0 && key[i] == '~' && manifest.IsHex(key[i+1:]) {
		return key[:i]
	}
	return key
}
