package config

import (
	"errors"
	"strings"
	"testing"
)

const good = `cluster: prod
securityServer: EE/GOV/70000310/ss1
timeZone: Europe/Tallinn
sync:
  enabled: true
  schedule: "15 * * * *"
  source: /var/lib/xroad
  dest: s3://bucket/xroad/ss1
  kmsKeyId: alias/xroad
  prune:
    olderThan: 30d
  objectLock:
    mode: GOVERNANCE
    retention: 7y
snapshot:
  enabled: true
  schedule: "@daily"
  pvcs: [xroad/xroad-data]
  retention: {daily: 7, weekly: 4}
restoreTest:
  enabled: true
  schedule: "30 4 * * 1,4"
  namespace: xroad-restore-test
  storageClass: gp3
  timeout: 30m
  efsPaths: {xroad/archive-efs: /xroad}
`

func TestGoodConfig(t *testing.T) {
	c, err := Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.Dest != "s3://bucket/xroad/ss1" || c.Snapshot.Retention.Weekly != 4 || c.Sync.ObjectLock.Retention.String() != "7y" ||
		c.RestoreTest.Namespace != "xroad-restore-test" || c.RestoreTest.EFSPaths["xroad/archive-efs"] != "/xroad" {
		t.Errorf("parsed %+v", c)
	}
}

func TestErrorsNameLineAndField(t *testing.T) {
	tests := []struct {
		name, edit, want string
	}{
		{"unknown key", strings.Replace(good, "  source:", "  sorce:", 1), "line 7: field sorce not found"},
		{"bad cron", strings.Replace(good, `"15 * * * *"`, `"15 * *"`, 1), "line 6: sync.schedule: cron schedule"},
		{"missing kms", strings.Replace(good, "  kmsKeyId: alias/xroad\n", "", 1), "sync.kmsKeyId: required for an s3:// destination"},
		{"bad dest", strings.Replace(good, "s3://bucket/xroad/ss1", "ftp://x", 1), "line 8: sync.dest"},
		{"bad duration", strings.Replace(good, "olderThan: 30d", "olderThan: soon", 1), "line 11: sync.prune.olderThan"},
		{"bad lock mode", strings.Replace(good, "GOVERNANCE", "FOREVER", 1), `line 13: sync.objectLock.mode: "FOREVER": want GOVERNANCE or COMPLIANCE`},
		{"lower-case lock mode", strings.Replace(good, "GOVERNANCE", "governance", 1), "sync.objectLock.mode"},
		{"lock without mode", strings.Replace(good, "    mode: GOVERNANCE\n", "", 1), `sync.objectLock.mode: "": want GOVERNANCE or COMPLIANCE`},
		{"lock mode not a scalar", strings.Replace(good, "mode: GOVERNANCE", "mode: [GOVERNANCE]", 1), "sync.objectLock.mode: want GOVERNANCE or COMPLIANCE"},
		{"zero prune age", strings.Replace(good, "olderThan: 30d", "olderThan: 0s", 1), "sync.prune.olderThan: must be a positive age"},
		{"object lock on a directory", strings.Replace(good, "dest: s3://bucket/xroad/ss1", "dest: file:///srv/archive", 1), "sync.objectLock.mode: needs an s3:// destination"},
		{"lock without retention", strings.Replace(good, "    retention: 7y\n", "", 1), "sync.objectLock.retention: required: mode and retention go together"},
		{"bad compress", strings.Replace(good, "  source:", "  compress: lz4\n  source:", 1), `sync.compress: compression "lz4"`},
		{"too much concurrency", strings.Replace(good, "  source:", "  concurrency: 65\n  source:", 1), "sync.concurrency: 65: want 1 to 64"},
		{"bad zone", strings.Replace(good, "Europe/Tallinn", "Mars/Olympus", 1), "line 3: timeZone"},
		{"bad archive zone", good + "archiveZone: Mars/Olympus\n", "archiveZone"},
		{"bad pvc", strings.Replace(good, "[xroad/xroad-data]", "[xroad-data]", 1), "snapshot.pvcs[0]"},
		{"negative retention", strings.Replace(good, "daily: 7", "daily: -1", 1), "line 19: snapshot.retention.daily: -1: counts must not be negative"},
		{"dr key without a dr region", strings.Replace(good, "  pvcs: [xroad/xroad-data]\n", "  pvcs: [xroad/xroad-data]\n  drKmsKeyId: arn:aws:kms:x\n", 1), "line 19: snapshot.drKmsKeyId: needs a disaster-recovery region"},
		{"relative mount", strings.Replace(good, "  pvcs: [xroad/xroad-data]\n", "  pvcs: [xroad/xroad-data]\n  mounts: {xroad/xroad-data: data}\n", 1), "snapshot.mounts.xroad/xroad-data"},
		{"archives without a namespace", strings.Replace(good, "  namespace: xroad-restore-test\n", "  archives: true\n", 1), "restoreTest.namespace: required to restore the archives"},
		{"root verifier", strings.Replace(good, "  namespace: xroad-restore-test\n", "  namespace: xroad-restore-test\n  runAsUser: -1\n", 1), "restoreTest.runAsUser: -1"},
		{"nothing enabled", strings.ReplaceAll(good, "enabled: true", "enabled: false"), "no job is enabled"},
		{"not yaml", "sync: [", "invalid configuration"},
		{"bad restore-test cron", strings.Replace(good, `"30 4 * * 1,4"`, `"30 4 * *"`, 1), "line 22: restoreTest.schedule"},
		{"bad restore-test timeout", strings.Replace(good, "timeout: 30m", "timeout: long", 1), "line 25: restoreTest.timeout"},
		{"relative efs path", strings.Replace(good, "archive-efs: /xroad", "archive-efs: xroad", 1), "restoreTest.efsPaths.xroad/archive-efs"},
		{"restore test without pvcs", strings.Replace(good, "  pvcs: [xroad/xroad-data]\n", "", 1), "restoreTest.pvcs"},
		{"restore test without a store", strings.Replace(strings.Replace(good, "  dest: s3://bucket/xroad/ss1\n", "", 1), "sync:\n  enabled: true", "sync:\n  enabled: false", 1), "needs sync.dest"},
		{"gpg secret without keys", strings.Replace(good, "  namespace: xroad-restore-test\n", "  namespace: xroad-restore-test\n  gpgSecret: {name: archiver-gpg}\n", 1), "restoreTest.gpgSecret"},
		{"too many hours", good + "alarms: {restoreTestNoSuccessHours: 200}\n", "alarms.restoreTestNoSuccessHours"},
		{"verify sample above 100", good + "verify: {enabled: true, samplePercent: 200}\n", "verify.samplePercent"},
		{"verify max bytes", good + "verify: {enabled: true, maxBytes: lots}\n", "verify.maxBytes"},
		{"verify signers without a key", good + "verify: {enabled: true, gpgSigners: [/keys/ss1.pub.asc]}\n", "verify.gpgSigners"},
		{"verify cron", good + "verify: {enabled: true, schedule: \"5 *\"}\n", "verify.schedule"},
		{"wrong type", strings.Replace(good, "daily: 7", "daily: seven", 1), "line 19: cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit == good {
				t.Fatal("edit changed nothing")
			}
			_, err := Parse(strings.NewReader(tc.edit))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEveryProblemIsListedAtOnce(t *testing.T) {
	bad := strings.Replace(strings.Replace(good, "  source:", "  sorce:", 1), "Europe/Tallinn", "Mars/Olympus", 1)
	_, err := Parse(strings.NewReader(bad))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "field sorce not found") || !strings.Contains(err.Error(), "line 3: timeZone") {
		t.Fatalf("err = %v, want both the unknown field and the time zone", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("sync: {enabled: true, dest: 'file:///x'}")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err != nil {
			// Every refusal is a configuration error (exit 2), never a
			// panic or an error of another kind.
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
		// What Parse accepts, validating it again accepts too, and it runs
		// at least one job.
		if errs := c.Validate(map[string]int{}); len(errs) > 0 {
			t.Fatalf("%q: accepted, then refused: %v", s, errs)
		}
		if !c.Sync.Enabled && !c.Snapshot.Enabled && !c.RestoreTest.Enabled && !c.Verify.Enabled {
			t.Fatalf("%q: accepted with no job enabled", s)
		}
	})
}

func TestArchiveLocation(t *testing.T) {
	for _, tc := range []struct{ archive, tz, want string }{
		{"", "", "UTC"},
		{"", "Europe/Tallinn", "Europe/Tallinn"},
		{"Europe/Helsinki", "Europe/Tallinn", "Europe/Helsinki"},
	} {
		c := &Config{ArchiveZone: tc.archive, TimeZone: tc.tz}
		loc, err := c.ArchiveLocation()
		if err != nil || loc.String() != tc.want {
			t.Errorf("ArchiveLocation(%q, %q) = %v, %v; want %s", tc.archive, tc.tz, loc, err, tc.want)
		}
	}
}

// TestSyncCheckKeys pins the keys Sync.Check names, which archiver sync
// maps to its flags; 0 workers is the file's default, not a problem.
func TestSyncCheckKeys(t *testing.T) {
	bad := Sync{Dest: "ftp://x", Compress: "lz4", Concurrency: 65, Prune: Prune{FreeSpacePercent: 100}}
	var keys []string
	for _, p := range bad.Check() {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "dest compress concurrency prune.freeSpacePercent"; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
	if ps := (Sync{Dest: "file:///srv/a"}).Check(); len(ps) != 0 {
		t.Errorf("defaults: %v, want no problem", ps)
	}
}
