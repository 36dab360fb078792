package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/verify"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// testClients reach the test MinIO, the test API server and the AWS fake.
func testClients(s3 testenv.S3Env, kube testenv.KubeEnv, fake *awsfake.Server) jobs.Clients {
	withS3 := func(o store.OpenOptions) store.OpenOptions {
		o.EndpointURL, o.Region, o.Credentials = s3.Endpoint, "us-east-1", s3.Credentials()
		return o
	}
	return jobs.Clients{
		OpenStore: func(ctx context.Context, loc store.Location, o store.OpenOptions) (store.Store, error) {
			return store.Open(ctx, loc, withS3(o))
		},
		OpenReader: func(ctx context.Context, loc store.Location, o store.OpenOptions) (store.Reader, error) {
			return store.OpenReader(ctx, loc, withS3(o))
		},
		Kube: func() (*rest.Config, error) { return rest.CopyConfig(kube.Config), nil },
		AWS: func(ctx context.Context, region string) (aws.Config, error) {
			if region == "" {
				region = "eu-west-1"
			}
			return aws.Config{Region: region, BaseEndpoint: aws.String(fake.URL()), HTTPClient: awshttp.NewBuildableClient(),
				Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, nil
		},
	}
}

// TestCatalogueRunsInProcess builds the runner from a configuration file
// and runs sync (to MinIO with SSE-KMS), snapshot (an EBS-backed PVC on
// the API server, through the real EC2 client to the AWS fake) and verify
// (re-reading what sync shipped), then checks each job's result and the
// metrics the run published.
func TestCatalogueRunsInProcess(t *testing.T) {
	s3env := testenv.S3(t)
	kube := testenv.Kube(t)
	fake := awsfake.New(t)
	ctx := context.Background()

	ns := kube.Namespace(t)
	fake.AddVolume("eu-west-1", "vol-0aaaaaaaaaaaaaaa1", 10, "eu-west-1a")
	kube.BoundClaim(t, ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0aaaaaaaaaaaaaaa1"}}}})
	src := t.TempDir()
	files, err := xroadgen.Generate(xroadgen.Demo(src))
	if err != nil {
		t.Fatal(err)
	}
	bucket := s3env.Bucket(t, false)
	yaml := fmt.Sprintf(`cluster: test
securityServer: EE/GOV/70000310/ss1
primary: {override: true}
lock: {file: %s/archiver.lock}
metrics: {sink: emf}
sync:
  enabled: true
  source: %s
  dest: s3://%s/xroad/ss1
  kmsKeyId: %s
  backupQuietPeriod: 0s
  bandwidthLimit: 100MiB
snapshot:
  enabled: true
  region: eu-west-1
  pvcs: [%s/data]
  timeout: 1m
verify:
  enabled: true
  samplePercent: 100
`, t.TempDir(), src, bucket, s3env.KMSKey, ns)
	cfg, err := config.Parse(strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var emf bytes.Buffer
	var beforeSync []int64
	r, err := jobs.Build(ctx, cfg, jobs.Env{Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)), Clients: testClients(s3env, kube, fake),
		MetricsOut: &emf, BeforeSync: func(conc int, part int64) { beforeSync = append(beforeSync, int64(conc), part) }})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range r.Jobs {
		names = append(names, j.Name)
	}
	if got := strings.Join(names, ","); got != "sync,snapshot,verify" {
		t.Fatalf("jobs %s, want sync,snapshot,verify", got)
	}
	rep, err := r.Run(ctx, "20261130T000000Z-abcdef", nil)
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, rep)
	}
	if rep.Status != outcome.StatusOK || len(rep.Jobs) != 3 {
		t.Fatalf("run %+v", rep)
	}
	sr, ok := rep.Jobs[0].Result.(*s3sync.Result)
	if !ok || sr.Status != outcome.StatusOK || sr.Uploaded.Files == 0 {
		t.Fatalf("sync %+v", rep.Jobs[0])
	}
	if beforeSync[0] != s3sync.DefaultConcurrency || beforeSync[1] != store.DefaultPartSize {
		t.Errorf("sync tuning %v, want the defaults %d and %d", beforeSync, s3sync.DefaultConcurrency, store.DefaultPartSize)
	}
	if snr, ok := rep.Jobs[1].Result.(*snapshot.Result); !ok || snr.Status != outcome.StatusOK || snr.Volumes[0].Artifacts[0].State != "completed" {
		t.Fatalf("snapshot %+v", rep.Jobs[1])
	}
	vr, ok := rep.Jobs[2].Result.(*verify.Report)
	if !ok || vr.Status != outcome.StatusVerified || vr.Reread.Files != sr.Uploaded.Files {
		t.Fatalf("verify %+v (sync shipped %d of %d generated files)", rep.Jobs[2], sr.Uploaded.Files, len(files))
	}
	// The metrics went out with the dimensions the alarms watch.
	alarms := report.Alarms(report.AlarmConfigFrom(cfg))
	published := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(emf.String()), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		if doc["JobSuccess"] == 1.0 {
			published[fmt.Sprint(doc["Cluster"], "/", doc["SecurityServer"], "/", doc["Job"])] = true
		}
	}
	for _, job := range []string{"sync", "snapshot", "verify"} {
		d := report.JobDims("test", "EE/GOV/70000310/ss1", job)
		if !published[d["Cluster"]+"/"+d["SecurityServer"]+"/"+d["Job"]] {
			t.Errorf("no JobSuccess=1 for %s in the EMF output:\n%s", job, emf.String())
		}
	}
	if len(alarms) == 0 {
		t.Fatal("no alarms for the configuration")
	}
}

// TestMetricDimensionsMatchTheAlarms: every alarm watches a metric that
// a run of its job publishes, with the same dimensions.
func TestMetricDimensionsMatchTheAlarms(t *testing.T) {
	cfg := &config.Config{Cluster: "prod", SecurityServer: "EE/GOV/70000310/ss1",
		Sync: config.Sync{Enabled: true}, Snapshot: config.Snapshot{Enabled: true}, RestoreTest: config.RestoreTest{Enabled: true}, Verify: config.Verify{Enabled: true}}
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	rep := &schedule.Report{RunID: "r", Jobs: []schedule.JobReport{
		{Name: "sync", Status: outcome.StatusOK, Result: &s3sync.Result{Status: outcome.StatusOK, LastCommit: now.Add(-time.Hour), NewestArchive: now.Add(-2 * time.Hour)}},
		{Name: "snapshot", Status: outcome.StatusOK, Result: &snapshot.Result{Status: outcome.StatusOK}},
		{Name: "restore-test", Status: outcome.StatusOK, Result: &restoretest.Batch{Status: outcome.StatusOK, Drills: []*restoretest.Result{{Status: outcome.StatusOK, TotalSec: 60}}}},
		{Name: "verify", Status: outcome.StatusOK, Result: &verify.Report{Status: outcome.StatusVerified}},
	}}
	key := func(metric string, dims map[string]string) string {
		var kv []string
		for k, v := range dims {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		return metric + "{" + strings.Join(kv, ",") + "}"
	}
	published := map[string]bool{}
	for _, d := range jobs.RunMetrics(cfg, rep, now) {
		published[key(d.Name, d.Dims)] = true
	}
	alarms := report.Alarms(report.AlarmConfigFrom(cfg))
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for _, a := range alarms {
		dims := map[string]string{}
		for _, d := range a.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		if k := key(aws.ToString(a.MetricName), dims); !published[k] {
			t.Errorf("alarm %s watches %s, which no run publishes", aws.ToString(a.AlarmName), k)
		}
	}
}

// TestRestoreTestBatch: the restore-test job runs every PVC (and the S3
// copy first with archives: true), keeps going after a failure, and ends
// partial when some passed.
func TestRestoreTestBatch(t *testing.T) {
	cfg := &config.Config{Primary: config.Primary{Override: true}, Sync: config.Sync{Dest: "s3://b/p"},
		Snapshot:    config.Snapshot{PVCs: []string{"ns/a", "ns/b"}},
		RestoreTest: config.RestoreTest{Enabled: true, Archives: true}}
	var ran []string
	env := jobs.Env{NoLock: true, RestoreTest: func(ctx context.Context, c *config.Config, pvc, runID string, _ *slog.Logger) (*restoretest.Result, error) {
		ran = append(ran, pvc)
		if pvc == "ns/b" {
			return nil, errors.New("no snapshot of ns/b")
		}
		return &restoretest.Result{RunID: runID, Source: pvc, Status: outcome.StatusOK}, nil
	}}
	r, err := jobs.Build(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), "run-1", nil)
	if !errors.Is(err, outcome.ErrPartial) || rep.Jobs[0].Status != outcome.StatusPartial {
		t.Fatalf("run %v, %+v; want partial", err, rep)
	}
	if got := strings.Join(ran, ","); got != ",ns/a,ns/b" {
		t.Errorf("ran %q, want the S3 copy, ns/a, ns/b", got)
	}
	b := rep.Jobs[0].Result.(*restoretest.Batch)
	if b.Drills[2].Status != outcome.StatusError || b.Drills[2].Error != "no snapshot of ns/b" {
		t.Errorf("batch %+v %+v %+v", b.Drills[0], b.Drills[1], b.Drills[2])
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
