package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// DefaultNamespace is where archiver's metrics go.
const DefaultNamespace = "XRoad/Archiver"

// Metric names (also used by the alarms).
const (
	MetricSuccess       = "JobSuccess"
	MetricFailure       = "JobFailure"
	MetricPartial       = "JobPartial"
	MetricDuration      = "JobDurationSeconds"
	MetricBytesShipped  = "BytesShipped"
	MetricFilesShipped  = "FilesShipped"
	MetricFilesFailed   = "FilesFailed"
	MetricBacklogFiles  = "BacklogFiles"
	MetricBacklogBytes  = "BacklogBytes"
	MetricBacklogAge    = "BacklogOldestAgeSeconds"
	MetricSnapshots     = "SnapshotsCreated"
	MetricLastBackupAge = "LastBackupAgeSeconds"
	// Freshness: the age of the newest message-log archive in the
	// destination (not sent before the first), and 1 when the source
	// holds no file at all.
	MetricNewestArchiveAge = "NewestArchiveAgeSeconds"
	MetricSourceEmpty      = "SourceEmpty"
	MetricPublishErrors    = "MetricsPublishErrors"
	// Restore tests: the slowest restore-to-verified time of the run (the
	// measured recovery time), files verified, and drills that failed.
	MetricRestoreSeconds     = "RestoreTestSeconds"
	MetricRestoreVerified    = "RestoreTestFilesVerified"
	MetricRestoreTestsFailed = "RestoreTestsFailed"
	// Verify: problems found, and what was re-read this run.
	MetricVerifyProblems    = "VerifyProblems"
	MetricVerifyFilesReread = "VerifyFilesReread"
	MetricVerifyBytesReread = "VerifyBytesReread"
)

// Datum is one data point.
type Datum struct {
	Name  string
	Unit  cwtypes.StandardUnit
	Value float64
	Dims  map[string]string
}

// Sink publishes data points.
type Sink interface {
	Publish(ctx context.Context, at time.Time, data []Datum) error
}

// CloudWatchAPI is the part of the CloudWatch client the sink uses.
type CloudWatchAPI interface {
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ CloudWatchAPI = (*cloudwatch.Client)(nil)

// CloudWatch sends PutMetricData requests of at most BatchSize data points
// (the API allows 1000 per request and 1 MB); the SDK retries throttling.
type CloudWatch struct {
	API       CloudWatchAPI
	Namespace string
	BatchSize int // default 500
}

// Publish implements Sink.
func (c *CloudWatch) Publish(ctx context.Context, at time.Time, data []Datum) error {
	n := c.BatchSize
	if n <= 0 || n > 1000 {
		n = 500
	}
	ns := c.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	for start := 0; start < len(data); start += n {
		var md []cwtypes.MetricDatum
		for _, d := range data[start:min(start+n, len(data))] {
			md = append(md, cwtypes.MetricDatum{MetricName: aws.String(d.Name), Unit: d.Unit, Value: aws.Float64(d.Value),
				Timestamp: aws.Time(at), Dimensions: dims(d.Dims)})
		}
		if _, err := c.API.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: md}); err != nil {
			return fmt.Errorf("put metric data: %w", err)
		}
	}
	return nil
}

func dims(m map[string]string) []cwtypes.Dimension {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []cwtypes.Dimension
	for _, k := range keys {
		out = append(out, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// EMF writes one Embedded Metric Format JSON object per line: the
// CloudWatch agent or Container Insights turns them into metrics.
type EMF struct {
	W         io.Writer
	Namespace string
}

// Publish implements Sink. Data points with the same dimensions share one
// line (one object per dimension set).
func (e *EMF) Publish(ctx context.Context, at time.Time, data []Datum) error {
	ns := e.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	type group struct {
		dims map[string]string
		data []Datum
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, d := range data {
		k := strings.Join(dimStrings(dims(d.Dims)), ",")
		g := byKey[k]
		if g == nil {
			g = &group{dims: d.Dims}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.data = append(g.data, d)
	}
	for _, g := range groups {
		obj := map[string]any{}
		var names []string
		for k, v := range g.dims {
			obj[k] = v
			names = append(names, k)
		}
		sort.Strings(names)
		var metrics []map[string]any
		for _, d := range g.data {
			obj[d.Name] = d.Value
			metrics = append(metrics, map[string]any{"Name": d.Name, "Unit": string(d.Unit)})
		}
		obj["_aws"] = map[string]any{
			"Timestamp":         at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{"Namespace": ns, "Dimensions": [][]string{names}, "Metrics": metrics}},
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := e.W.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
