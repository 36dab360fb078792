package restore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest/manifesttest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// history builds a local destination whose format 2 state holds n
// archives (one a minute from 2026-01-01, at the top level) and n
// backups (backup/NNNNN.tar), committed in runs of perRun: a checkpoint
// of several leaves plus deltas. Objects are written beside.
func history(t *testing.T, n, perRun int) store.Store {
	t.Helper()
	ctx := context.Background()
	h, err := manifesttest.NewHistory(t.TempDir(), perRun)
	if err != nil {
		t.Fatal(err)
	}
	h.RunID = func(seq int) string { return fmt.Sprintf("h%d", seq) }
	add := func(p, kind string, mtime time.Time, body []byte) {
		e := manifesttest.Entry(p, kind, mtime, body)
		e.RunID = "h"
		if err := h.Add(ctx, e, body); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		x := start.Add(time.Duration(i) * time.Minute)
		name := fmt.Sprintf("mlog-EE_GOV_70000310-%s-%s-%016x.zip", x.Format("20060102150405"), x.Add(30*time.Second).Format("20060102150405"), i)
		add(name, "archive", x, []byte(fmt.Sprintf("archive %d\n", i)))
		add(fmt.Sprintf("backup/%05d.tar", i), "backup", x, []byte(fmt.Sprintf("backup %d\n", i)))
	}
	if err := h.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return h.Store
}

// TestRestoreOfOneFileOrOneDayFromALargeState: one exact path is looked
// up in the leaf it falls in (a fraction of the record read), one day
// streams the state and keeps only the day's files; both restore exactly
// what they name.
func TestRestoreOfOneFileOrOneDayFromALargeState(t *testing.T) {
	const n = 4000           // 8,000 entries: a checkpoint of 8 leaves
	s := history(t, n, 4000) // two runs, each writing a checkpoint
	ctx := context.Background()
	all, err := Run(ctx, Options{Store: s, To: t.TempDir(), Include: []string{"*"}, DryRun: true})
	if err != nil || all.Selected.Files != 2*n {
		t.Fatalf("everything: %v, %d files selected", err, all.Selected.Files)
	}
	to := t.TempDir()
	one, err := Run(ctx, Options{Store: s, To: to, Include: []string{"backup/01234.tar"}})
	if err != nil || one.Restored.Files != 1 || string(read(t, filepath.Join(to, "backup", "01234.tar"))) != "backup 1234\n" {
		t.Fatalf("one file: %v, %+v", err, one.Restored)
	}
	if one.Bookkeeping.BytesRead*3 > all.Bookkeeping.BytesRead {
		t.Errorf("one file read %d bytes of record, the whole state is %d: it should read one leaf", one.Bookkeeping.BytesRead, all.Bookkeeping.BytesRead)
	}
	// A bare name may match in any directory: the state streams, and the
	// leaves that do not hold the name are not decoded.
	x := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(1234 * time.Minute)
	name := fmt.Sprintf("mlog-EE_GOV_70000310-%s-%s-%016x.zip", x.Format("20060102150405"), x.Add(30*time.Second).Format("20060102150405"), 1234)
	byName, err := Run(ctx, Options{Store: s, To: to, Include: []string{name}})
	if err != nil || byName.Restored.Files != 1 || string(read(t, filepath.Join(to, name))) != "archive 1234\n" {
		t.Fatalf("one name: %v, %+v", err, byName.Restored)
	}
	missing, err := Run(ctx, Options{Store: s, To: t.TempDir(), Include: []string{"backup/nosuch.tar"}})
	if err == nil || missing.Selected.Files != 0 {
		t.Fatalf("a path not recorded: %v, %+v", err, missing.Selected)
	}
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	res, err := Run(ctx, Options{Store: s, To: t.TempDir(), Since: day, Until: day.Add(24*time.Hour - time.Second), DryRun: true})
	// Minutes 1440..2879: the day's archives, and the backups by mtime.
	if err != nil || res.Selected.Files != 2*1440 {
		t.Fatalf("one day: %v, %d files selected, want %d", err, res.Selected.Files, 2*1440)
	}
}
