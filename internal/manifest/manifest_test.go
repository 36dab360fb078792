package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xroad-archiver/archiver/internal/store"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func sample(run string) *Manifest {
	return &Manifest{Version: VersionFull, Seq: 1, RunID: run, Created: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC),
		Entries: []Entry{{Path: "mlog-a.zip", Key: "mlog-a.zip", Kind: "archive", Size: 10, SHA256: sha, StoredSize: 10, RunID: run}}}
}

func TestCommitLatestChain(t *testing.T) {
	ctx := context.Background()
	s, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if m, _, err := Latest(ctx, s); m != nil || err != nil {
		t.Fatalf("Latest on empty store = %v, %v", m, err)
	}
	r1, err := Commit(ctx, s, sample("20261122T010203Z-aaaaaa"))
	if err != nil {
		t.Fatal(err)
	}
	// The second run's id sorts before the first's (another host's clock):
	// the sequence number still makes it the latest.
	m2 := sample("20261122T000000Z-bbbbbb")
	m2.Seq, m2.Previous = 2, r1
	if _, err := Commit(ctx, s, m2); err != nil {
		t.Fatal(err)
	}
	got, ref, err := Latest(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m2, got); d != "" {
		t.Errorf("Latest (-want +got):\n%s", d)
	}
	if ref.Key != Key(2, m2.RunID) || got.Previous.SHA256 != r1.SHA256 {
		t.Errorf("ref = %+v, previous = %+v", ref, got.Previous)
	}
	if _, err := Commit(ctx, s, m2); !errors.Is(err, ErrConcurrent) {
		t.Errorf("recommit = %v, want ErrConcurrent", err)
	}
	// A concurrent run that also started from r1 cannot commit seq 2.
	rival := sample("20261122T000001Z-cccccc")
	rival.Seq, rival.Previous = 2, r1
	if _, err := Commit(ctx, s, rival); !errors.Is(err, ErrConcurrent) {
		t.Errorf("rival commit = %v, want ErrConcurrent", err)
	}
	if m, _, err := LoadRun(ctx, s, "20261122T010203Z-aaaaaa"); err != nil || m.Seq != 1 {
		t.Errorf("LoadRun(first) = %v, %v", m, err)
	}
	if _, _, err := LoadRun(ctx, s, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LoadRun(nope) = %v, want ErrNotFound", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := sample("r1").Encode()
	tests := map[string]string{
		"not json":      "{",
		"wrong version": strings.Replace(string(good), `"version": 1`, `"version": 9`, 1),
		"hostile key":   strings.Replace(string(good), `"key": "mlog-a.zip"`, `"key": "../../etc/passwd"`, 1),
		"absolute path": strings.Replace(string(good), `"path": "mlog-a.zip"`, `"path": "/etc/passwd"`, 1),
		"bad sha":       strings.Replace(string(good), sha, "xyz", 1),
		"run id slash":  strings.Replace(string(good), `"run_id": "r1",`, `"run_id": "a/b",`, 1),
		"no seq":        strings.Replace(string(good), `"seq": 1,`, `"seq": 0,`, 1),
	}
	if _, err := Decode(bytes.NewReader(good)); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if in == string(good) {
				t.Fatal("test input did not change")
			}
			if _, err := Decode(strings.NewReader(in)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	ix := NewIndex([]Entry{{Path: "p", Key: "p", SHA256: "a"}, {Path: "p", Key: "p~b", SHA256: "b"}})
	if e, _ := ix.Latest("p"); e.Key != "p~b" {
		t.Errorf("Latest = %+v", e)
	}
	if e, ok := ix.WithSHA("p", "a"); !ok || e.Key != "p" {
		t.Errorf("WithSHA = %+v %v", e, ok)
	}
	if _, ok := ix.Latest("q"); ok {
		t.Error("Latest(q) found something")
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := sample("r1").Encode()
	f.Add(good)
	f.Add([]byte(`{"version":1,"seq":1,"run_id":"x","entries":[{"key":"a/../b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range m.Entries {
			if store.CheckKey(e.Key) != nil || store.CheckKey(e.Path) != nil {
				t.Fatalf("accepted hostile entry %+v", e)
			}
		}
	})
}

func TestCurrentIsTheNewestVersionOfEveryPath(t *testing.T) {
	got := Current([]Entry{{Path: "b", Key: "b"}, {Path: "a", Key: "a"}, {Path: "b", Key: "b~2"}})
	if len(got) != 2 || got[0].Key != "a" || got[1].Key != "b~2" {
		t.Fatalf("%+v", got)
	}
}

func TestCommitStepsOverManyOrphanedClaimsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// 150 runs died after claiming (say, OOM-killed every hour for a week).
	for i := 1; i <= 150; i++ {
		if err := claim(ctx, s, &Manifest{Seq: int64(i), RunID: fmt.Sprintf("dead-%d", i), Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	m := sample("alive")
	m.Created = time.Now().Add(time.Hour)
	ref, err := Commit(ctx, s, m)
	if err != nil || m.Seq != 151 || ref.Key != Key(151, "alive") {
		t.Fatalf("commit = %v, seq %d", err, m.Seq)
	}
	got, _, err := Latest(ctx, s)
	if err != nil || got.Seq != 151 {
		t.Fatalf("latest = %+v, %v", got, err)
	}
	// A claim made moments ago may be a live run: refuse, naming it.
	claim(ctx, s, &Manifest{Seq: 152, RunID: "committing", Created: time.Now()})
	m2 := sample("second")
	m2.Seq, m2.Created = 152, time.Now()
	if _, err := Commit(ctx, s, m2); !errors.Is(err, ErrConcurrent) || !strings.Contains(err.Error(), "run committing claimed number 152") {
		t.Fatalf("young claim: %v", err)
	}
	// A run id too long for the old claim limit is still seen.
	long := strings.Repeat("x", 300)
	claim(ctx, s, &Manifest{Seq: 153, RunID: long, Created: time.Now()})
	cs, err := Claims(ctx, s, 153)
	if err != nil || len(cs) != 1 || cs[0].RunID != long {
		t.Fatalf("claims %+v %v", cs, err)
	}
}

// failAfter returns b and then err: a body cut off mid-read.
type failAfter struct {
	b   []byte
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, f.err
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

func TestDecodeTellsAReadErrorFromAnInvalidManifest(t *testing.T) {
	good, _ := sample("r1").Encode()
	_, err := Decode(&failAfter{b: good[:len(good)/2], err: context.Canceled})
	if errors.Is(err, ErrInvalid) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cut-off body = %v, want the read error, not ErrInvalid", err)
	}
	_, err = Decode(bytes.NewReader(good[:len(good)/2]))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("truncated manifest = %v, want ErrInvalid", err)
	}
}

// claimBy writes a claim of seq whose holder line is holder.
func claimBy(t *testing.T, s store.Store, seq int64, run, holder string) {
	t.Helper()
	b := []byte(run + "\n" + holder + "\n")
	if _, err := s.Put(context.Background(), claimKey(seq), store.Payload{At: bytes.NewReader(b), Size: int64(len(b)),
		CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))}, store.Meta{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
}

// A run SIGKILLed between its claim and its manifest must not block the
// next run on the same host for ClaimTimeout (issue 17's campaign hit it
// in 2 of 400 kills): its claim names a process that is gone.
func TestYoungClaimOfAProcessThatIsGoneIsSkipped(t *testing.T) {
	me := holderLine()
	if me == "" {
		testenv.Skip(t, "no /proc: holders cannot be described here")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	replace := func(line, key, val string) string {
		f := strings.Fields(line)
		for i, kv := range f {
			if strings.HasPrefix(kv, key+"=") {
				f[i] = key + "=" + val
			}
		}
		return strings.Join(f, " ")
	}
	start, _ := startTime(os.Getpid())
	for _, tc := range []struct {
		name    string
		holder  string
		skipped bool
	}{
		{"the holder's pid is free", replace(me, "pid", fmt.Sprint(gone.Process.Pid)), true},
		{"the holder's pid belongs to a later process", replace(me, "start", start+"0"), true},
		{"the holder is alive (this process)", me, false},
		{"another host", replace(replace(me, "host", "other-node"), "pid", fmt.Sprint(gone.Process.Pid)), false},
		{"another pid namespace", replace(replace(me, "pidns", "pid:[1]"), "pid", fmt.Sprint(gone.Process.Pid)), false},
		{"another boot", replace(replace(me, "boot", "00000000-0000-0000-0000-000000000000"), "pid", fmt.Sprint(gone.Process.Pid)), false},
		{"no holder (an older archiver)", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			claimBy(t, s, 1, "killed", tc.holder)
			m := sample("next")
			m.Created = time.Now()
			_, err = Commit(context.Background(), s, m)
			switch {
			case tc.skipped && (err != nil || m.Seq != 2):
				t.Fatalf("commit: %v, seq %d; want the claim skipped and seq 2", err, m.Seq)
			case !tc.skipped && (!errors.Is(err, ErrConcurrent) || !strings.Contains(err.Error(), "run killed claimed number 1")):
				t.Fatalf("commit: %v; want ErrConcurrent naming the claim", err)
			}
			cs, err := Claims(context.Background(), s, 1)
			if err != nil || len(cs) == 0 || cs[0].RunID != "killed" || cs[0].Holder != tc.holder {
				t.Fatalf("claims %+v, %v", cs, err)
			}
		})
	}
}
