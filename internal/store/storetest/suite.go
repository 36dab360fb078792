// Package storetest is the conformance suite every store.Store must pass:
// the local directory and S3 (MinIO) run the same tests (round trips,
// never overwriting, errors, List's order and callback errors,
// cancellation, concurrent Puts). It is test support: it must not be
// imported by code that ships in the binary, nor test one implementation
// only.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
)

// Payload returns an At payload for data with its checksums.
func Payload(data []byte) store.Payload {
	sum := sha256.Sum256(data)
	return store.Payload{At: bytes.NewReader(data), Size: int64(len(data)),
		CRC32C: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)), SHA256: hex.EncodeToString(sum[:])}
}

// Random returns n deterministic pseudo-random bytes.
func Random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func meta(data []byte, path string) store.Meta {
	sum := sha256.Sum256(data)
	return store.Meta{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), MTime: time.Date(2026, 11, 20, 3, 15, 0, 123456789, time.UTC), Path: path, RunID: "run-1"}
}

func read(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// Run runs the suite. newStore returns an empty store; large says how big a
// payload must be to take the multipart path (0: no such path).
func Run(t *testing.T, newStore func(t *testing.T) store.Store, large int) {
	tests := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"PutHeadGetRoundTrip", testPutHeadGetRoundTrip},
		{"NeverOverwrites", testNeverOverwrites},
		{"NotFound", testNotFound},
		{"ChangedContentIsRejected", testChangedContentIsRejected},
		{"BeforeCommitErrorLeavesNothing", testBeforeCommitErrorLeavesNothing},
		{"Stream", func(t *testing.T, s store.Store) { testStream(t, s, large) }},
		{"LargeAt", func(t *testing.T, s store.Store) { testLargeAt(t, s, large) }},
		{"ListIsSortedAndFiltered", testListIsSortedAndFiltered},
		{"ListStopsAtTheCallbacksError", testListStopsAtTheCallbacksError},
		{"CanceledContextWritesNothing", testCanceledContextWritesNothing},
		{"ConcurrentPuts", testConcurrentPuts},
		{"RejectsBadKeys", testRejectsBadKeys},
	}
	for _, tc := range tests {
		if tc.name == "LargeAt" && large == 0 {
			continue // no multipart path
		}
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore(t)) })
	}
}

// testPutHeadGetRoundTrip: what is put reads back with its metadata and a CRC32C.
func testPutHeadGetRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		key  string
		data []byte
	}{
		{"mlog-20261120000000-20261120000100-0123456789abcdef.zip", Random(1000, 1)},
		{"backup/ss-automatic-backup-2026_11_20_031500.gpg", Random(70_000, 2)},
		{"dir with space/ünï.zip", []byte("x")},
		{"empty", nil},
	} {
		m := meta(tc.data, tc.key)
		obj, err := s.Put(ctx, tc.key, Payload(tc.data), m)
		if err != nil {
			t.Fatalf("Put(%s): %v", tc.key, err)
		}
		if obj.Size != int64(len(tc.data)) {
			t.Errorf("Put(%s) size = %d, want %d", tc.key, obj.Size, len(tc.data))
		}
		h, err := s.Head(ctx, tc.key)
		if err != nil {
			t.Fatalf("Head(%s): %v", tc.key, err)
		}
		if !h.Meta.MTime.Equal(m.MTime) || h.Meta.SHA256 != m.SHA256 || h.Meta.Size != m.Size || h.Meta.Path != m.Path || h.Meta.RunID != m.RunID {
			t.Errorf("Head(%s) meta = %+v, want %+v", tc.key, h.Meta, m)
		}
		if h.CRC32C == "" {
			t.Errorf("Head(%s): no CRC32C reported", tc.key)
		}
		if got := read(t, s, tc.key); !bytes.Equal(got, tc.data) {
			t.Errorf("Get(%s) returned %d bytes that differ from the %d put", tc.key, len(got), len(tc.data))
		}
	}
}

// testNeverOverwrites: a second Put of a key is ErrExists and changes nothing.
func testNeverOverwrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := Random(2000, 3)
	if _, err := s.Put(ctx, "k.zip", Payload(first), meta(first, "k.zip")); err != nil {
		t.Fatal(err)
	}
	second := Random(2000, 4)
	_, err := s.Put(ctx, "k.zip", Payload(second), meta(second, "k.zip"))
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Put error = %v, want ErrExists", err)
	}
	if got := read(t, s, "k.zip"); !bytes.Equal(got, first) {
		t.Fatal("second Put changed the object")
	}
}

// testNotFound: Head and Get of a missing key are ErrNotFound; Delete of one is done.
func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Head(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head(missing) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

// testChangedContentIsRejected: bytes that differ from the payload's CRC32C are never stored.
func testChangedContentIsRejected(t *testing.T, s store.Store) {
	ctx := context.Background()
	data := Random(4000, 5)
	p := Payload(data)
	p.CRC32C ^= 1 // the caller hashed other bytes than the store reads
	p.SHA256 = ""
	if _, err := s.Put(ctx, "changed.zip", p, meta(data, "changed.zip")); err == nil {
		t.Fatal("Put with a wrong CRC32C succeeded")
	}
	if _, err := s.Head(ctx, "changed.zip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a rejected Put, Head = %v, want ErrNotFound", err)
	}
}

// testBeforeCommitErrorLeavesNothing: an error of the payload's BeforeCommit leaves no object.
func testBeforeCommitErrorLeavesNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	data := Random(3000, 6)
	p := Payload(data)
	boom := errors.New("source changed")
	p.BeforeCommit = func() error { return boom }
	if _, err := s.Put(ctx, "bc.zip", p, meta(data, "bc.zip")); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the BeforeCommit error", err)
	}
	if _, err := s.Head(ctx, "bc.zip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head = %v, want ErrNotFound", err)
	}
}

// testStream: streamed payloads of every size (multipart beyond large) round-trip with their encoding.
func testStream(t *testing.T, s store.Store, large int) {
	ctx := context.Background()
	sizes := []int{0, 10, 100_000}
	if large > 0 {
		sizes = append(sizes, large+12345)
	}
	for i, n := range sizes {
		data := Random(n, uint64(10+i))
		key := "stream/" + string(rune('a'+i))
		m := meta(data, key)
		m.Encoding = "zstd"
		if _, err := s.Put(ctx, key, store.Payload{Stream: bytes.NewReader(data), Size: int64(n)}, m); err != nil {
			t.Fatalf("Put stream of %d bytes: %v", n, err)
		}
		h, err := s.Head(ctx, key)
		if err != nil || h.Size != int64(n) || h.Meta.Encoding != "zstd" {
			t.Fatalf("Head after stream of %d: %+v, %v", n, h, err)
		}
		if got := read(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("stream of %d bytes did not round-trip", n)
		}
	}
}

// testLargeAt: a payload above large (the multipart path) round-trips.
func testLargeAt(t *testing.T, s store.Store, large int) {
	ctx := context.Background()
	data := Random(large+777, 20)
	if _, err := s.Put(ctx, "large.bin", Payload(data), meta(data, "large.bin")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "large.bin"); !bytes.Equal(got, data) {
		t.Fatal("large object did not round-trip")
	}
}

// testListIsSortedAndFiltered: List returns the keys below a prefix in order.
func testListIsSortedAndFiltered(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range []string{"b/2", "a", "b/1", "c/3", ".archiver/manifests/r1.json"} {
		if _, err := s.Put(ctx, k, Payload([]byte(k)), meta([]byte(k), k)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.List(ctx, "b/", func(o store.Object) error { got = append(got, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "b/1" || got[1] != "b/2" {
		t.Errorf("List(b/) = %v, want [b/1 b/2]", got)
	}
	got = nil
	if err := s.List(ctx, "", func(o store.Object) error { got = append(got, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0] != ".archiver/manifests/r1.json" || got[4] != "c/3" {
		t.Errorf("List() = %v", got)
	}
}

// testListStopsAtTheCallbacksError: List stops at and returns its callback's error.
func testListStopsAtTheCallbacksError(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Put(ctx, k, Payload([]byte(k)), meta([]byte(k), k)); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("enough")
	var got []string
	err := s.List(ctx, "", func(o store.Object) error {
		got = append(got, o.Key)
		if o.Key == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(got) != 2 {
		t.Errorf("List = %v after %v, want the callback's error after [a b]", err, got)
	}
}

// testCanceledContextWritesNothing: a canceled context writes nothing and lists nothing.
func testCanceledContextWritesNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	data := Random(5000, 30)
	if _, err := s.Put(cctx, "canceled.zip", Payload(data), meta(data, "canceled.zip")); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	if _, err := s.Head(ctx, "canceled.zip"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a canceled Put, Head = %v, want ErrNotFound", err)
	}
	if err := s.List(cctx, "", func(store.Object) error { return nil }); err == nil {
		t.Error("List with a canceled context succeeded")
	}
}

// testConcurrentPuts: concurrent puts of different keys all land; of one key exactly one wins.
func testConcurrentPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	data := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		data[i] = Random(20_000+i, uint64(40+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("concurrent/%d.zip", i)
			_, errs[i] = s.Put(ctx, key, Payload(data[i]), meta(data[i], key))
		}()
	}
	// Two writers racing for one key: exactly one wins, the other
	// gets ErrExists, and the object is the winner's whole content.
	race := [2][]byte{Random(30_000, 50), Random(30_000, 51)}
	var raceErrs [2]error
	for i := range race {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, raceErrs[i] = s.Put(ctx, "concurrent/same.zip", Payload(race[i]), meta(race[i], "concurrent/same.zip"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		} else if got := read(t, s, fmt.Sprintf("concurrent/%d.zip", i)); !bytes.Equal(got, data[i]) {
			t.Errorf("object %d does not hold what was put", i)
		}
	}
	won := -1
	for i, err := range raceErrs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Error("both writers of one key succeeded")
		case !errors.Is(err, store.ErrExists):
			t.Errorf("losing writer: %v, want ErrExists", err)
		}
	}
	if won < 0 {
		t.Fatal("no writer of the contested key succeeded")
	}
	if got := read(t, s, "concurrent/same.zip"); !bytes.Equal(got, race[won]) {
		t.Error("the contested key does not hold the winner's content")
	}
}

// testRejectsBadKeys: keys that are not clean relative paths are refused.
func testRejectsBadKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, k := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a/./b", "./a", "a\\b"} {
		if _, err := s.Put(ctx, k, Payload([]byte("x")), meta([]byte("x"), k)); err == nil {
			t.Errorf("Put(%q) succeeded, want an invalid-key error", k)
		}
	}
}
