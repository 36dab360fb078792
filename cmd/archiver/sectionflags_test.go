package main

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/xroad-archiver/archiver/internal/config"
)

// TestEverySectionProblemNamesAFlag: every key the check of a section
// (config.Sync.Check, config.Snapshot.Check, config.RestoreTest.Check,
// config.Verify.Check) can
// report maps to a flag of the command that binds that section, so no
// problem is silently dropped (only sync's kmsKeyId is left to the store's
// refusal), and every entry of the command's table is a key its check
// reports.
func TestEverySectionProblemNamesAFlag(t *testing.T) {
	for _, tc := range []struct {
		command  string
		flags    map[string]string
		check    func(yaml []byte) ([]config.Problem, error)
		sections []string
	}{
		{"sync", syncFlags, checkOf[config.Sync], []string{
			`{dest: "ftp://x", compress: lz4, concurrency: 65, prune: {freeSpacePercent: 100}}`,
			`{dest: "s3://b/p", bandwidthLimit: lots, backupQuietPeriod: soon, prune: {olderThan: soon}}`,
			`{dest: "s3://b/p", kmsKeyId: k, prune: {olderThan: 0s}, objectLock: {mode: FOREVER, retention: never}}`,
			`{dest: "file:///x", objectLock: {retention: 1d}}`,
		}},
		{"snapshot", snapshotFlags, checkOf[config.Snapshot], []string{
			`{pvcs: [], mounts: {a/b: relative}, timeout: soon, drKmsKeyId: k}`,
			`{pvcs: [nonamespace], retention: {keepLast: -1, daily: -1, weekly: -1, monthly: -1}}`,
		}},
		{"restore-test", restoreTestFlags, checkOf[config.RestoreTest], []string{
			`{pvcs: [nonamespace], archives: true, runAsUser: -1, efsPaths: {a/b: relative}, timeout: soon, gpgSecret: {name: x}}`,
		}},
		{"verify", verifyFlags, checkOf[config.Verify], []string{
			`{samplePercent: 200, maxBytes: lots, gpgSigners: [k.asc]}`,
		}},
	} {
		seen := map[string]bool{}
		for _, section := range tc.sections {
			ps, err := tc.check([]byte(section))
			if err != nil {
				t.Fatalf("%s: %v", section, err)
			}
			for _, p := range ps {
				seen[p.Key[:strings.IndexAny(p.Key+".", "[.")]], seen[p.Key] = true, true
				if err := flagProblem([]config.Problem{p}, tc.flags); (err == nil) != (tc.command == "sync" && p.Key == "kmsKeyId") {
					t.Errorf("%s: the check reports %q (%s): flag error %v", tc.command, p.Key, p.Msg, err)
				}
			}
		}
		for key := range tc.flags {
			if !seen[key] {
				t.Errorf("%s maps %q, which no case here made its section's check report", tc.command, key)
			}
		}
	}
}

// checkOf decodes a section and runs its check.
func checkOf[S interface{ Check() []config.Problem }](section []byte) ([]config.Problem, error) {
	var s S
	if err := yaml.Unmarshal(section, &s); err != nil {
		return nil, err
	}
	return s.Check(), nil
}
