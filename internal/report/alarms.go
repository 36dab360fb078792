package report

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/xroad-archiver/archiver/internal/config"
)

// AlarmAPI is the part of the CloudWatch client alarms use.
type AlarmAPI interface {
	PutMetricAlarm(context.Context, *cloudwatch.PutMetricAlarmInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ AlarmAPI = (*cloudwatch.Client)(nil)

// AlarmConfig says which alarms to define.
type AlarmConfig struct {
	Namespace      string
	Cluster        string
	SecurityServer string
	Jobs           []string // e.g. sync, snapshot
	Actions        []string // SNS topic ARNs for ALARM and OK
	NoSuccessHours int      // page when a job has not succeeded for this long; default 26, at most 168
	BacklogMaxAge  time.Duration
	// MaxArchiveAge: page when no new message-log archive was shipped for
	// this long (default 8h, above X-Road's 6-hour archive interval).
	MaxArchiveAge time.Duration
	// RestoreTestNoSuccessHours replaces NoSuccessHours for the
	// restore-test job, which runs a few times a week (default 168).
	RestoreTestNoSuccessHours int
	// MaxRestore: alarm when a restore test took longer (default 1h).
	MaxRestore time.Duration
}

// AlarmConfigFrom derives the alarm inputs from archiver's configuration:
// one set of alarms per enabled job.
func AlarmConfigFrom(c *config.Config) AlarmConfig {
	ac := AlarmConfig{Namespace: c.Metrics.Namespace, Cluster: c.Cluster, SecurityServer: c.SecurityServer,
		Actions: c.Alarms.Actions, NoSuccessHours: c.Alarms.NoSuccessHours, RestoreTestNoSuccessHours: c.Alarms.RestoreTestNoSuccessHours,
		MaxRestore:    time.Duration(c.Alarms.MaxRestoreMinutes) * time.Minute,
		BacklogMaxAge: c.Alarms.BacklogMaxAge.Value(), MaxArchiveAge: c.Alarms.MaxArchiveAge.Value()}
	if c.Sync.Enabled {
		ac.Jobs = append(ac.Jobs, "sync")
	}
	if c.Snapshot.Enabled {
		ac.Jobs = append(ac.Jobs, "snapshot")
	}
	if c.RestoreTest.Enabled {
		ac.Jobs = append(ac.Jobs, "restore-test")
	}
	if c.Verify.Enabled {
		ac.Jobs = append(ac.Jobs, "verify")
	}
	return ac
}

// Dims are the dimensions of a job's metrics, as JobDims builds them.
func (c AlarmConfig) Dims(job string) map[string]string {
	return JobDims(c.Cluster, c.SecurityServer, job)
}

// JobDims are the dimensions of every metric of a job: the one place
// they are built, for the data points a run publishes and for the alarms
// that watch them.
func JobDims(cluster, securityServer, job string) map[string]string {
	return map[string]string{"Cluster": cluster, "SecurityServer": securityServer, "Job": job}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// Alarms returns the alarm definitions.
func Alarms(c AlarmConfig) []*cloudwatch.PutMetricAlarmInput {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.NoSuccessHours <= 0 {
		c.NoSuccessHours = 26
	}
	if c.NoSuccessHours > 168 {
		c.NoSuccessHours = 168 // CloudWatch: period x evaluation periods <= 7 days
	}
	if c.BacklogMaxAge <= 0 {
		c.BacklogMaxAge = 48 * time.Hour
	}
	if c.MaxArchiveAge <= 0 {
		c.MaxArchiveAge = 8 * time.Hour
	}
	if c.RestoreTestNoSuccessHours <= 0 || c.RestoreTestNoSuccessHours > 168 {
		c.RestoreTestNoSuccessHours = 168
	}
	if c.MaxRestore <= 0 {
		c.MaxRestore = time.Hour
	}
	prefix := "archiver-" + sanitize(c.Cluster) + "-" + sanitize(c.SecurityServer)
	base := func(name, desc, metric string, stat cwtypes.Statistic, period, evals int32, threshold float64, op cwtypes.ComparisonOperator, missing, job string) *cloudwatch.PutMetricAlarmInput {
		return &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(prefix + "-" + name), AlarmDescription: aws.String(desc),
			Namespace: aws.String(c.Namespace), MetricName: aws.String(metric), Dimensions: dims(c.Dims(job)),
			Statistic: stat, Period: aws.Int32(period), EvaluationPeriods: aws.Int32(evals), DatapointsToAlarm: aws.Int32(evals),
			Threshold: aws.Float64(threshold), ComparisonOperator: op, TreatMissingData: aws.String(missing),
			ActionsEnabled: aws.Bool(len(c.Actions) > 0), AlarmActions: c.Actions, OKActions: c.Actions,
		}
	}
	var out []*cloudwatch.PutMetricAlarmInput
	for _, job := range c.Jobs {
		hours := c.NoSuccessHours
		if job == "restore-test" {
			hours = c.RestoreTestNoSuccessHours
		}
		out = append(out,
			base(job+"-failed", fmt.Sprintf("archiver %s job failed on %s (%s).", job, c.SecurityServer, c.Cluster),
				MetricFailure, cwtypes.StatisticSum, 300, 1, 1, cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, "notBreaching", job),
			base(job+"-no-success", fmt.Sprintf("archiver %s job has not succeeded for %d hours on %s (%s): failing, or not running at all (suspended CronJob, image pull error, lost credentials).", job, hours, c.SecurityServer, c.Cluster),
				MetricSuccess, cwtypes.StatisticSum, 3600, int32(hours), 1, cwtypes.ComparisonOperatorLessThanThreshold, "breaching", job),
		)
		// Partial: some files or volumes did not make it. The hourly sync
		// retries them next run, so only every run in three hours being
		// partial pages; one partial snapshot or restore test is a volume
		// not backed up or not proven, and pages at once.
		partialPeriod, partialRuns := int32(3600), 1.0
		if job == "sync" {
			partialPeriod, partialRuns = 3*3600, 3
		}
		if job != "verify" { // verify is verified or failed, never partial
			out = append(out, base(job+"-partial", fmt.Sprintf("archiver %s job on %s (%s) completed only partly (%v run(s) within %d hours): some files or volumes were not done; see the job's report and Events.",
				job, c.SecurityServer, c.Cluster, partialRuns, partialPeriod/3600),
				MetricPartial, cwtypes.StatisticSum, partialPeriod, 1, partialRuns, cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, "notBreaching", job))
		}
		if job == "restore-test" {
			out = append(out, base("restore-test-too-slow", fmt.Sprintf("A restore test on %s (%s) took more than %s from the first restore call to a verified volume: the recovery time objective is at risk.", c.SecurityServer, c.Cluster, c.MaxRestore),
				MetricRestoreSeconds, cwtypes.StatisticMaximum, 3600, 1, c.MaxRestore.Seconds(), cwtypes.ComparisonOperatorGreaterThanThreshold, "notBreaching", job))
		}
		if job == "sync" {
			out = append(out, base("sync-backlog-too-old", fmt.Sprintf("Archives or backups on %s (%s) have waited more than %s to be shipped.", c.SecurityServer, c.Cluster, c.BacklogMaxAge),
				MetricBacklogAge, cwtypes.StatisticMaximum, 3600, 1, c.BacklogMaxAge.Seconds(), cwtypes.ComparisonOperatorGreaterThanThreshold, "notBreaching", job),
				// Green runs on an empty volume are not archiving: the age of
				// the newest archive shipped is what proves X-Road's
				// evidence arrives. Missing data (nothing ever shipped, or
				// no sync running) is breaching.
				base("sync-no-new-archive", fmt.Sprintf("No new message-log archive from %s (%s) has been shipped for more than %s (X-Road archives every 6 hours): is the archive volume mounted where X-Road writes, and is the primary archiving?", c.SecurityServer, c.Cluster, c.MaxArchiveAge),
					MetricNewestArchiveAge, cwtypes.StatisticMinimum, 3600, 1, c.MaxArchiveAge.Seconds(), cwtypes.ComparisonOperatorGreaterThanThreshold, "breaching", job),
				base("sync-source-empty", fmt.Sprintf("The sync source on %s (%s) holds no file at all: the archive volume is not mounted or X-Road never wrote to it.", c.SecurityServer, c.Cluster),
					MetricSourceEmpty, cwtypes.StatisticMaximum, 3600, 1, 1, cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, "notBreaching", job))
		}
	}
	return out
}

// Change is what applying one alarm does.
type Change struct {
	Alarm  string   `json:"alarm"`
	Action string   `json:"action"` // create, update, unchanged
	Fields []string `json:"fields,omitempty"`
}

// Plan compares the definitions with the alarms in CloudWatch.
func Plan(ctx context.Context, api AlarmAPI, defs []*cloudwatch.PutMetricAlarmInput) ([]Change, error) {
	var names []string
	for _, d := range defs {
		names = append(names, aws.ToString(d.AlarmName))
	}
	existing := map[string]cwtypes.MetricAlarm{}
	for start := 0; start < len(names); start += 100 {
		in := &cloudwatch.DescribeAlarmsInput{AlarmNames: names[start:min(start+100, len(names))], AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}}
		p := cloudwatch.NewDescribeAlarmsPaginator(api, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe alarms: %w", err)
			}
			for _, a := range page.MetricAlarms {
				existing[aws.ToString(a.AlarmName)] = a
			}
		}
	}
	var out []Change
	for _, d := range defs {
		name := aws.ToString(d.AlarmName)
		cur, ok := existing[name]
		if !ok {
			out = append(out, Change{Alarm: name, Action: "create"})
			continue
		}
		if f := differences(d, cur); len(f) > 0 {
			out = append(out, Change{Alarm: name, Action: "update", Fields: f})
		} else {
			out = append(out, Change{Alarm: name, Action: "unchanged"})
		}
	}
	return out, nil
}

// Apply creates or updates the alarms that differ; unchanged ones are not
// touched, so applying twice changes nothing.
func Apply(ctx context.Context, api AlarmAPI, defs []*cloudwatch.PutMetricAlarmInput) ([]Change, error) {
	plan, err := Plan(ctx, api, defs)
	if err != nil {
		return nil, err
	}
	for i, c := range plan {
		if c.Action == "unchanged" {
			continue
		}
		if _, err := api.PutMetricAlarm(ctx, defs[i]); err != nil {
			return plan, fmt.Errorf("put alarm %s: %w", c.Alarm, err)
		}
	}
	return plan, nil
}

func differences(d *cloudwatch.PutMetricAlarmInput, a cwtypes.MetricAlarm) []string {
	var f []string
	cmp := func(name string, want, got any) {
		if !reflect.DeepEqual(want, got) {
			f = append(f, name)
		}
	}
	cmp("AlarmDescription", aws.ToString(d.AlarmDescription), aws.ToString(a.AlarmDescription))
	cmp("Namespace", aws.ToString(d.Namespace), aws.ToString(a.Namespace))
	cmp("MetricName", aws.ToString(d.MetricName), aws.ToString(a.MetricName))
	cmp("Dimensions", dimStrings(d.Dimensions), dimStrings(a.Dimensions))
	cmp("Statistic", d.Statistic, a.Statistic)
	cmp("Period", aws.ToInt32(d.Period), aws.ToInt32(a.Period))
	cmp("EvaluationPeriods", aws.ToInt32(d.EvaluationPeriods), aws.ToInt32(a.EvaluationPeriods))
	cmp("DatapointsToAlarm", aws.ToInt32(d.DatapointsToAlarm), aws.ToInt32(a.DatapointsToAlarm))
	cmp("Threshold", aws.ToFloat64(d.Threshold), aws.ToFloat64(a.Threshold))
	cmp("ComparisonOperator", d.ComparisonOperator, a.ComparisonOperator)
	cmp("TreatMissingData", aws.ToString(d.TreatMissingData), aws.ToString(a.TreatMissingData))
	cmp("AlarmActions", sorted(d.AlarmActions), sorted(a.AlarmActions))
	cmp("OKActions", sorted(d.OKActions), sorted(a.OKActions))
	return f
}

func dimStrings(ds []cwtypes.Dimension) []string {
	var out []string
	for _, d := range ds {
		out = append(out, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
