package report

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"go.yaml.in/yaml/v3"

	"github.com/xroad-archiver/archiver/internal/awsfake"
)

var at = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func sample() []Datum {
	d := map[string]string{"Cluster": "c1", "SecurityServer": "EE/GOV/1/ss1", "Job": "sync"}
	s := map[string]string{"Cluster": "c1", "SecurityServer": "EE/GOV/1/ss1", "Job": "snapshot"}
	return []Datum{{MetricSuccess, cwtypes.StandardUnitCount, 1, d}, {MetricBytesShipped, cwtypes.StandardUnitBytes, 1234, d}, {MetricSnapshots, cwtypes.StandardUnitCount, 2, s}}
}

func TestEMFFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := (&EMF{W: &buf}).Publish(context.Background(), at, sample()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per dimension set:\n%s", len(lines), buf.String())
	}
	var obj struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Job          string
		JobSuccess   float64
		BytesShipped float64
	}
	if err := json.Unmarshal([]byte(lines[0]), &obj); err != nil {
		t.Fatalf("line 1 is not one JSON object: %v", err)
	}
	cw := obj.AWS.CloudWatchMetrics
	if obj.AWS.Timestamp != at.UnixMilli() || len(cw) != 1 || cw[0].Namespace != DefaultNamespace ||
		strings.Join(cw[0].Dimensions[0], ",") != "Cluster,Job,SecurityServer" || len(cw[0].Metrics) != 2 ||
		obj.Job != "sync" || obj.JobSuccess != 1 || obj.BytesShipped != 1234 || cw[0].Metrics[1].Unit != "Bytes" {
		t.Fatalf("EMF object %+v\n%s", obj, lines[0])
	}
}

func TestCloudWatchSinkSendsExactly(t *testing.T) {
	fake := awsfake.New(t)
	s := &CloudWatch{API: fake.CloudWatch("eu-west-1"), BatchSize: 2}
	if err := s.Publish(context.Background(), at, sample()); err != nil {
		t.Fatal(err)
	}
	got := fake.MetricData()
	if len(got) != 3 || fake.Calls("PutMetricData") != 2 {
		t.Fatalf("%d data in %d calls, want 3 in 2 batches", len(got), fake.Calls("PutMetricData"))
	}
	if got[1].Namespace != DefaultNamespace || aws.ToString(got[1].Datum.MetricName) != MetricBytesShipped ||
		aws.ToFloat64(got[1].Datum.Value) != 1234 || len(got[1].Datum.Dimensions) != 3 || !aws.ToTime(got[1].Datum.Timestamp).Equal(at) {
		t.Fatalf("datum %+v", got[1])
	}
	fake.Inject("PutMetricData", 10, awsfake.InternalError)
	if err := s.Publish(context.Background(), at, sample()); err == nil {
		t.Fatal("a failing sink reported success")
	}
}

func TestAlarmsApplyIsIdempotent(t *testing.T) {
	fake := awsfake.New(t)
	api := fake.CloudWatch("eu-west-1")
	cfg := AlarmConfig{Cluster: "c1", SecurityServer: "EE/GOV/1/ss1", Jobs: []string{"sync", "snapshot"}, Actions: []string{"arn:aws:sns:eu-west-1:123456789012:oncall"}}
	defs := Alarms(cfg)
	if len(defs) != 9 {
		t.Fatalf("%d alarms", len(defs))
	}
	plan, err := Plan(context.Background(), api, defs)
	if err != nil || plan[0].Action != "create" {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if _, err := Apply(context.Background(), api, defs); err != nil {
		t.Fatal(err)
	}
	puts := fake.Calls("PutMetricAlarm")
	changes, err := Apply(context.Background(), api, defs)
	if err != nil || fake.Calls("PutMetricAlarm") != puts {
		t.Fatalf("second apply: %v, puts %d -> %d", err, puts, fake.Calls("PutMetricAlarm"))
	}
	for _, c := range changes {
		if c.Action != "unchanged" {
			t.Errorf("second apply: %+v", c)
		}
	}
	var noSuccess cwtypes.MetricAlarm
	for _, a := range fake.Alarms("eu-west-1") {
		if strings.HasSuffix(aws.ToString(a.AlarmName), "sync-no-success") {
			noSuccess = a
		}
	}
	if aws.ToString(noSuccess.TreatMissingData) != "breaching" || aws.ToInt32(noSuccess.EvaluationPeriods) != 26 || noSuccess.ComparisonOperator != cwtypes.ComparisonOperatorLessThanThreshold {
		t.Fatalf("no-success alarm %+v", noSuccess)
	}
	cfg.NoSuccessHours = 50
	changes, _ = Apply(context.Background(), api, Alarms(cfg))
	updated := 0
	for _, c := range changes {
		if c.Action == "update" {
			updated++
		}
	}
	if updated != 2 {
		t.Errorf("changing noSuccessHours updated %d alarms, want the 2 no-success alarms: %+v", updated, changes)
	}
}

func TestRestoreTestAlarms(t *testing.T) {
	fake := awsfake.New(t)
	cfg := AlarmConfig{Cluster: "c1", SecurityServer: "ss1", Jobs: []string{"sync", "restore-test"}, MaxRestore: 45 * time.Minute}
	if _, err := Apply(context.Background(), fake.CloudWatch("eu-west-1"), Alarms(cfg)); err != nil {
		t.Fatal(err)
	}
	got := map[string]cwtypes.MetricAlarm{}
	for _, a := range fake.Alarms("eu-west-1") {
		got[strings.TrimPrefix(aws.ToString(a.AlarmName), "archiver-c1-ss1-")] = a
	}
	if len(got) != 10 {
		t.Fatalf("alarms %v", got)
	}
	// Freshness: no new archive for 8 h (X-Road archives every 6 h), a
	// sync that never shipped one or does not run at all included; a
	// source with no file at all.
	if a := got["sync-no-new-archive"]; aws.ToString(a.MetricName) != MetricNewestArchiveAge || aws.ToFloat64(a.Threshold) != 8*3600 ||
		aws.ToString(a.TreatMissingData) != "breaching" || a.ComparisonOperator != cwtypes.ComparisonOperatorGreaterThanThreshold {
		t.Errorf("sync-no-new-archive %+v", a)
	}
	if a := got["sync-source-empty"]; aws.ToString(a.MetricName) != MetricSourceEmpty || aws.ToFloat64(a.Threshold) != 1 {
		t.Errorf("sync-source-empty %+v", a)
	}
	cfg.MaxArchiveAge = 12 * time.Hour
	for _, d := range Alarms(cfg) {
		if strings.HasSuffix(aws.ToString(d.AlarmName), "sync-no-new-archive") && aws.ToFloat64(d.Threshold) != 12*3600 {
			t.Errorf("alarms.maxArchiveAge 12h: threshold %v", aws.ToFloat64(d.Threshold))
		}
	}
	// Partial: every hourly sync in three hours; any one restore test.
	if a := got["sync-partial"]; aws.ToInt32(a.Period) != 3*3600 || aws.ToFloat64(a.Threshold) != 3 || aws.ToString(a.MetricName) != MetricPartial {
		t.Errorf("sync-partial %+v", a)
	}
	if a := got["restore-test-partial"]; aws.ToInt32(a.Period) != 3600 || aws.ToFloat64(a.Threshold) != 1 {
		t.Errorf("restore-test-partial %+v", a)
	}
	// A restore test runs a few times a week: its silence window is 7 days,
	// the longest CloudWatch evaluates; sync keeps 26 hours.
	if n := aws.ToInt32(got["restore-test-no-success"].EvaluationPeriods); n != 168 {
		t.Errorf("restore-test no-success over %d hours", n)
	}
	if n := aws.ToInt32(got["sync-no-success"].EvaluationPeriods); n != 26 {
		t.Errorf("sync no-success over %d hours", n)
	}
	slow := got["restore-test-too-slow"]
	if aws.ToString(slow.MetricName) != MetricRestoreSeconds || aws.ToFloat64(slow.Threshold) != 2700 || slow.ComparisonOperator != cwtypes.ComparisonOperatorGreaterThanThreshold {
		t.Errorf("too-slow alarm %+v", slow)
	}
}

// TestCloudFormationWiresEveryAlarmToATopic: the template creates an SNS
// topic (or takes one) and every alarm notifies it, so alarms reach
// someone; it parses as YAML with the topic in every alarm's actions.
func TestCloudFormationWiresEveryAlarmToATopic(t *testing.T) {
	defs := Alarms(AlarmConfig{Cluster: "c1", SecurityServer: "ss1", Jobs: []string{"sync", "snapshot", "restore-test", "verify"}})
	var tpl struct {
		Parameters map[string]any `yaml:"Parameters"`
		Conditions map[string]any `yaml:"Conditions"`
		Resources  map[string]struct {
			Type       string         `yaml:"Type"`
			Condition  string         `yaml:"Condition"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(CloudFormation(defs)), &tpl); err != nil {
		t.Fatal(err)
	}
	if tpl.Resources["AlarmTopic"].Type != "AWS::SNS::Topic" || tpl.Resources["AlarmTopic"].Condition != "CreateTopic" ||
		tpl.Resources["AlarmEmailSubscription"].Type != "AWS::SNS::Subscription" || tpl.Parameters["AlarmTopicArn"] == nil {
		t.Fatalf("no topic: %+v", tpl.Resources)
	}
	alarms := 0
	for id, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		for _, kind := range []string{"AlarmActions", "OKActions"} {
			acts, _ := r.Properties[kind].([]any)
			b, _ := json.Marshal(acts)
			if len(acts) == 0 || !strings.Contains(string(b), `{"Fn::If":["CreateTopic",{"Ref":"AlarmTopic"},{"Ref":"AlarmTopicArn"}]}`) {
				t.Errorf("%s %s: %s", id, kind, b)
			}
		}
		if r.Properties["ActionsEnabled"] != true {
			t.Errorf("%s: actions disabled", id)
		}
	}
	if alarms != len(defs) {
		t.Errorf("%d alarms in the template, %d defined", alarms, len(defs))
	}
}

func TestChangesPrintThemselves(t *testing.T) {
	list := []Change{{Alarm: "a-failed", Action: "create"}, {Alarm: "b-stale", Action: "update", Fields: []string{"Threshold", "Period"}}, {Alarm: "c", Action: "unchanged"}}
	for _, tc := range []struct {
		name    string
		c       Changes
		want    string
		wantErr bool
	}{
		{"plan", Changes{List: list}, "would create a-failed\nwould update b-stale (Threshold, Period)\nunchanged    c\n", false},
		{"apply", Changes{List: list, Applied: true}, "created      a-failed\nupdated      b-stale (Threshold, Period)\nunchanged    c\n", false},
		{"nothing", Changes{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.c.WriteText(&b); err != nil || b.String() != tc.want {
				t.Fatalf("got %q (%v), want %q", b.String(), err, tc.want)
			}
			js, err := json.Marshal(tc.c)
			want, _ := json.Marshal(tc.c.List)
			if err != nil || string(js) != string(want) {
				t.Fatalf("JSON %s (%v), want %s", js, err, want)
			}
		})
	}
}
