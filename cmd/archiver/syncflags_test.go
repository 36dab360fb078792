package main

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/xroad-archiver/archiver/internal/config"
)

// TestEverySyncProblemNamesAFlag: every key config.Sync.Check can report
// maps to a flag of archiver sync, so no problem is silently dropped
// (only kmsKeyId is left to the store's refusal), and every entry of the
// table is a key Check reports.
func TestEverySyncProblemNamesAFlag(t *testing.T) {
	seen := map[string]bool{}
	for _, section := range []string{
		`{dest: "ftp://x", compress: lz4, concurrency: 65, prune: {freeSpacePercent: 100}}`,
		`{dest: "s3://b/p", bandwidthLimit: lots, backupQuietPeriod: soon, prune: {olderThan: soon}}`,
		`{dest: "s3://b/p", kmsKeyId: k, prune: {olderThan: 0s}, objectLock: {mode: FOREVER, retention: never}}`,
		`{dest: "file:///x", objectLock: {retention: 1d}}`,
	} {
		var s config.Sync
		if err := yaml.Unmarshal([]byte(section), &s); err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		for _, p := range s.Check() {
			seen[p.Key] = true
			if _, ok := syncFlags[p.Key]; !ok && p.Key != "kmsKeyId" {
				t.Errorf("config.Sync.Check reports %q (%s), which no flag of archiver sync names", p.Key, p.Msg)
			}
		}
	}
	for key := range syncFlags {
		if !seen[key] {
			t.Errorf("syncFlags maps %q, which no case here made config.Sync.Check report", key)
		}
	}
}
