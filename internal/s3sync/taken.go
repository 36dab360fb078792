package s3sync

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/store"
)

// takenKeys holds, for the files a run ships, the keys the destination
// already held when the run began although no manifest records them:
// objects a killed run uploaded before it could commit. A nil takenKeys
// means the run did not list, and each key is looked at (HEAD) before it
// is written.
type takenKeys map[string]bool

// listPage is how many keys one LIST answer carries (S3's maximum); a
// variable so a test can make a listing expensive without writing
// thousands of objects.
var listPage = 1000

// minListed is the fewest files a run ships before listing can pay: below
// it, one HEAD per file is as cheap as the LISTs.
const minListed = 4

var errListTooLong = errors.New("listing would cost more than the HEADs it saves")

// listTaken learns which of toShip's keys are already taken by listing
// only the key ranges those files fall in (per directory, the prefix all
// its new files share), when that takes at most one LIST per two HEADs it
// replaces. A listing that grows past that budget (a range shared with a
// long history) is abandoned and the run looks per key, as it would have:
// either way a run's requests follow the files it ships, not the history.
// It returns nil when listing would not pay; errListTooLong when it was
// abandoned; any other error is the listing's.
func listTaken(ctx context.Context, s store.Reader, toShip []File) (takenKeys, error) {
	budget := len(toShip) / 2
	if len(toShip) < minListed {
		return nil, nil
	}
	prefixes := listPrefixes(toShip)
	if len(prefixes) > budget {
		return nil, nil
	}
	wanted := make(map[string]bool, len(toShip))
	for _, f := range toShip {
		wanted[f.Rel] = true
	}
	taken := takenKeys{}
	pages, listed := len(prefixes), 0
	for _, p := range prefixes {
		err := s.List(ctx, p, func(o store.Object) error {
			if listed++; pages+listed/listPage > budget {
				return errListTooLong
			}
			if wanted[o.Key] || wanted[keyPath(o.Key)] {
				taken[o.Key] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return taken, nil
}

// listPrefixes returns, per directory of files, the longest prefix all its
// files share: the narrowest listings that still see every key they may be
// written under (the name itself, a versioned name, a compressed name).
func listPrefixes(files []File) []string {
	byDir := map[string]string{}
	for _, f := range files {
		d := path.Dir(f.Rel)
		p, seen := byDir[d]
		if !seen {
			byDir[d] = f.Rel
			continue
		}
		n := 0
		for n < len(p) && n < len(f.Rel) && p[n] == f.Rel[n] {
			n++
		}
		byDir[d] = p[:n]
	}
	out := make([]string, 0, len(byDir))
	for _, p := range byDir {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// keyPath returns the source path a key stores: the key without its
// compression suffix and without the "~" and 16 hex digits of a second
// version (versionedKey). A path that itself looks like a second version
// is also matched as the key itself.
func keyPath(key string) string {
	key = strings.TrimSuffix(key, codec.ZstdSuffix)
	if i := len(key) - 17; i > 0 && key[i] == '~' && isLowerHex(key[i+1:]) {
		return key[:i]
	}
	return key
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// has reports whether key may be taken: always, when the run did not list.
func (t takenKeys) has(key string) bool { return t == nil || t[key] }
