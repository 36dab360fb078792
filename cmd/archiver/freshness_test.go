package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/report"
)

// TestEmptySourceIsAWarningAndAMetric: a sync of an empty (unmounted or
// never-written) source is no silent success: the report warns, and
// SourceEmpty=1 reaches CloudWatch (the real SDK against the wire-level
// fake); once archives exist, NewestArchiveAgeSeconds is their age, which
// the sync-no-new-archive alarm compares with alarms.maxArchiveAge.
func TestEmptySourceIsAWarningAndAMetric(t *testing.T) {
	fake := awsfake.New(t)
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=t", "AWS_SECRET_ACCESS_KEY=t", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}
	cfg := func(src string) string {
		return writeConfig(t, fmt.Sprintf(`cluster: c1
securityServer: ss1
sync: {enabled: true, source: %s, dest: 'file://%s'}
lock: {file: %s}
primary: {confDir: %s}
metrics: {sink: cloudwatch, namespace: XRoad/Test, region: eu-west-1}
`, src, t.TempDir(), filepath.Join(t.TempDir(), "lock"), t.TempDir()))
	}
	empty := t.TempDir()
	r := cli(t, env, "run", "-c", cfg(empty), "--job", "sync", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"source_empty":true`) || !strings.Contains(r.stdout, "is empty: is X-Road's archive volume mounted there") ||
		!strings.Contains(r.stdout, "no message-log archive has been shipped yet") {
		t.Fatalf("empty source: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v, ok := metricValue(fake, "sync", report.MetricSourceEmpty); !ok || v != 1 {
		t.Fatalf("SourceEmpty = %v (sent %v), want 1", v, ok)
	}
	if _, ok := metricValue(fake, "sync", report.MetricNewestArchiveAge); ok {
		t.Fatal("an archive age was published although none was ever shipped (the alarm treats missing data as breaching)")
	}

	src := demoTree(t)
	newest := time.Time{}
	files, _ := filepath.Glob(filepath.Join(src, "mlog-*"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	r = cli(t, env, "run", "-c", cfg(src), "--job", "sync", "-o", "json")
	if r.code != 0 || strings.Contains(r.stdout, "warnings") {
		t.Fatalf("demo source: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	v, ok := metricValue(fake, "sync", report.MetricNewestArchiveAge)
	if age := time.Since(newest).Seconds(); !ok || v < age-60 || v > age+60 {
		t.Fatalf("NewestArchiveAgeSeconds = %v (sent %v), want about %v", v, ok, age)
	}
	if v, _ := metricValue(fake, "sync", report.MetricSourceEmpty); v != 0 {
		t.Fatalf("SourceEmpty = %v after a sync of archives", v)
	}
}
