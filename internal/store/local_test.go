package store_test

import (
	"context"
	"strings"
	"testing"

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
