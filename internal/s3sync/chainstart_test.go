package s3sync

import (
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
)

func TestChainStarts(t *testing.T) {
	const (
		p = "mlog-G-20260101000000-20260101000100-00000000000000aa.zip"
		a = "mlog-G-20260102000000-20260102000100-00000000000000bb.zip"
		b = "mlog-G-20260103000000-20260103000100-00000000000000cc.zip"
		x = "mlog-G-20260104000000-20260104000100-00000000000000dd.zip"
	)
	entry := func(name, prev string) manifest.Entry {
		e := manifest.Entry{Path: name, Key: name, Kind: "archive", Chain: &manifest.Chain{Algorithm: "SHA-512", LastDigest: "ff"}}
		if prev != "" {
			e.Chain.PrevArchive, e.Chain.PrevDigest = prev, "ee"
		}
		return e
	}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		known   []manifest.ChainStart
		entries []manifest.Entry
		local   []string
		want    []string // archives recorded
	}{
		{"predecessor never here", nil, []manifest.Entry{entry(a, p), entry(b, a)}, []string{a, b}, []string{a}},
		{"predecessor on the volume, not yet shipped", nil, []manifest.Entry{entry(a, p), entry(b, a)}, []string{p, a, b}, nil},
		{"predecessor archived", nil, []manifest.Entry{entry(p, ""), entry(a, p)}, nil, nil},
		{"first archive of the server", nil, []manifest.Entry{entry(a, ""), entry(b, a)}, nil, nil},
		{"gap after the start is not a start", nil, []manifest.Entry{entry(a, p), entry(x, b)}, nil, []string{a}},
		{"already recorded", []manifest.ChainStart{{Archive: a, PrevArchive: p, PrevDigest: "ee", RunID: "r0"}}, []manifest.Entry{entry(a, p)}, nil, []string{a}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var local []File
			for _, l := range tc.local {
				local = append(local, File{Rel: l})
			}
			got := chainStarts(tc.known, tc.entries, local, "r1", now)
			if len(got) != len(tc.want) {
				t.Fatalf("chainStarts = %+v, want %v", got, tc.want)
			}
			for i, c := range got {
				if c.Archive != tc.want[i] || c.Group != "G" && c.RunID == "r1" {
					t.Errorf("start %d = %+v, want %s", i, c, tc.want[i])
				}
			}
		})
	}
}
