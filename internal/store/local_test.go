package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/extsort"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
)

func TestLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, 0)
}

// TestLocalLongName: an X-Road archive name can fill the 255 bytes a file
// name may have (a 200-character group); its sidecar must still fit.
func TestLocalLongName(t *testing.T) {
	s, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := "mlog-" + strings.Repeat("7", 200) + "20210901100858-20210901100905-95b1f27097524105.zip"
	if len(key) != 255 {
		t.Fatalf("key is %d bytes", len(key))
	}
	data := storetest.Random(1000, 1)
	ctx := context.Background()
	if _, err := s.Put(ctx, key, storetest.Payload(data), store.Meta{Path: key, RunID: "r1", Size: 1000}); err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(ctx, key)
	if err != nil || h.Meta.Path != key || h.Meta.RunID != "r1" || h.Size != 1000 {
		t.Fatalf("Head = %+v, %v", h, err)
	}
	var listed []string
	s.List(ctx, "", func(o store.Object) error { listed = append(listed, o.Key); return nil })
	if len(listed) != 1 || listed[0] != key {
		t.Fatalf("List = %v", listed)
	}
}

// TestLocalListStreamsInKeyOrder: a subdirectory's keys sort as "name/",
// not as the bare name (so "a-c" and "a.zst" come before "a/b"), and a
// directory larger than what List keeps in memory is still in order.
func TestLocalListStreamsInKeyOrder(t *testing.T) {
	dir := t.TempDir()
	s, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/b", "a/b0/c", "a-c", "a.zst", "a~1", "ab", "a0/x", "big/x"}
	for i := 0; i < extsort.DefaultLimit+500; i++ {
		want = append(want, fmt.Sprintf("big/%06d", (i*7919)%(extsort.DefaultLimit+500)))
	}
	for _, k := range want {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(k), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(want)
	for _, prefix := range []string{"", "a", "big/0000"} {
		var got []string
		err := s.List(context.Background(), prefix, func(o store.Object) error {
			if o.Size != int64(len(o.Key)) {
				t.Errorf("%s: size %d", o.Key, o.Size)
			}
			got = append(got, o.Key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var exp []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix) {
				exp = append(exp, k)
			}
		}
		if !slices.Equal(got, exp) {
			t.Errorf("List(%q): got %d keys %v..., want %d keys %v...", prefix, len(got), got[:min(8, len(got))], len(exp), exp[:min(8, len(exp))])
		}
	}
}
