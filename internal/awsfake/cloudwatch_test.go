package awsfake

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreSDKInternals skips the SDK types' unexported no-serde markers.
var ignoreSDKInternals = cmpopts.IgnoreUnexported(cwtypes.MetricDatum{}, cwtypes.Dimension{},
	cwtypes.StatisticSet{}, cwtypes.MetricAlarm{}, cwtypes.MetricDataQuery{}, cwtypes.MetricStat{}, cwtypes.Metric{})

func TestPutMetricDataRecordedExactly(t *testing.T) {
	s := New(t)
	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond) // CBOR carries milliseconds
	data := []cwtypes.MetricDatum{
		{
			MetricName:        aws.String("ArchiveBytes"),
			Dimensions:        []cwtypes.Dimension{{Name: aws.String("Instance"), Value: aws.String("ss1")}, {Name: aws.String("Cluster"), Value: aws.String("prod")}},
			Timestamp:         aws.Time(ts),
			Value:             aws.Float64(1234.5),
			Unit:              cwtypes.StandardUnitBytes,
			StorageResolution: aws.Int32(60),
		},
		{
			MetricName: aws.String("SyncSeconds"),
			Values:     []float64{0.25, 1, -3},
			Counts:     []float64{2, 1, 1},
			Unit:       cwtypes.StandardUnitSeconds,
		},
		{
			MetricName:      aws.String("Latency"),
			StatisticValues: &cwtypes.StatisticSet{Maximum: aws.Float64(9), Minimum: aws.Float64(1), SampleCount: aws.Float64(3), Sum: aws.Float64(12)},
		},
	}
	_, err := s.CloudWatch(region).PutMetricData(testCtx(t), &cloudwatch.PutMetricDataInput{Namespace: aws.String("XRoad/Archiver"), MetricData: data})
	if err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
	var want []MetricRecord
	for _, d := range data {
		want = append(want, MetricRecord{Region: region, Namespace: "XRoad/Archiver", Datum: d})
	}
	if diff := cmp.Diff(want, s.MetricData(), ignoreSDKInternals); diff != "" {
		t.Errorf("MetricData (-sent +recorded):\n%s", diff)
	}
}

func TestPutMetricDataLimits(t *testing.T) {
	datums := func(n int) []cwtypes.MetricDatum {
		out := make([]cwtypes.MetricDatum, n)
		for i := range out {
			out[i] = cwtypes.MetricDatum{MetricName: aws.String(fmt.Sprintf("metric-%04d", i)), Value: aws.Float64(float64(i))}
		}
		return out
	}
	tests := []struct {
		name      string
		namespace string
		data      []cwtypes.MetricDatum
		code      string // "" = accepted
	}{
		// 1000 datums are well above the SDK's 10 KiB threshold, so this
		// request arrives gzip-compressed.
		{"1000 datums", "XRoad/Archiver", datums(1000), ""},
		{"1001 datums", "XRoad/Archiver", datums(1001), "InvalidParameterValue"},
		{"AWS/ namespace", "AWS/EC2", datums(1), "InvalidParameterValue"},
		{"Value and Values", "XRoad/Archiver", []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1), Values: []float64{1}}}, "InvalidParameterCombination"},
		{"Counts without matching Values", "XRoad/Archiver", []cwtypes.MetricDatum{{MetricName: aws.String("m"), Values: []float64{1, 2}, Counts: []float64{1}}}, "InvalidParameterValue"},
		{"timestamp three weeks old", "XRoad/Archiver", []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1), Timestamp: aws.Time(time.Now().Add(-21 * 24 * time.Hour))}}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			_, err := s.CloudWatch(region).PutMetricData(testCtx(t), &cloudwatch.PutMetricDataInput{Namespace: aws.String(tc.namespace), MetricData: tc.data})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				if n := len(s.MetricData()); n != 0 {
					t.Errorf("a rejected request recorded %d datums", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutMetricData: %v", err)
			}
			got := s.MetricData()
			if len(got) != len(tc.data) || aws.ToString(got[999].Datum.MetricName) != "metric-0999" {
				t.Errorf("recorded %d datums, want %d in order", len(got), len(tc.data))
			}
		})
	}
}

func alarmInput(name string, threshold float64) *cloudwatch.PutMetricAlarmInput {
	return &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(name),
		AlarmDescription:   aws.String("archive sync failed"),
		Namespace:          aws.String("XRoad/Archiver"),
		MetricName:         aws.String("SyncFailures"),
		Dimensions:         []cwtypes.Dimension{{Name: aws.String("Instance"), Value: aws.String("ss1")}},
		Statistic:          cwtypes.StatisticSum,
		Period:             aws.Int32(300),
		EvaluationPeriods:  aws.Int32(2),
		DatapointsToAlarm:  aws.Int32(1),
		Threshold:          aws.Float64(threshold),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		TreatMissingData:   aws.String("breaching"),
		AlarmActions:       []string{"arn:aws:sns:eu-west-1:123456789012:ops"},
	}
}

func TestPutMetricAlarmReplaces(t *testing.T) {
	s := New(t)
	c := s.CloudWatch(region)
	if _, err := c.PutMetricAlarm(testCtx(t), alarmInput("sync-failed", 1)); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	first := s.Alarms(region)[0]
	time.Sleep(2 * time.Millisecond)
	if _, err := c.PutMetricAlarm(testCtx(t), alarmInput("sync-failed", 3)); err != nil {
		t.Fatalf("PutMetricAlarm again: %v", err)
	}
	alarms := s.Alarms(region)
	if len(alarms) != 1 {
		t.Fatalf("got %d alarms, want 1 (replaced by name)", len(alarms))
	}
	a := alarms[0]
	if aws.ToFloat64(a.Threshold) != 3 {
		t.Errorf("Threshold = %v, want the replacement's 3", aws.ToFloat64(a.Threshold))
	}
	if a.StateValue != cwtypes.StateValueInsufficientData || !a.StateUpdatedTimestamp.Equal(*first.StateUpdatedTimestamp) {
		t.Errorf("state %s at %v, want the first alarm's %s at %v kept", a.StateValue, a.StateUpdatedTimestamp, first.StateValue, first.StateUpdatedTimestamp)
	}
	if !a.AlarmConfigurationUpdatedTimestamp.After(*first.AlarmConfigurationUpdatedTimestamp) {
		t.Errorf("AlarmConfigurationUpdatedTimestamp did not move on replace")
	}

	// DescribeAlarms returns what was stored, through CBOR and back.
	out, err := c.DescribeAlarms(testCtx(t), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"sync-failed"}})
	if err != nil {
		t.Fatalf("DescribeAlarms: %v", err)
	}
	if diff := cmp.Diff([]cwtypes.MetricAlarm{a}, out.MetricAlarms, ignoreSDKInternals,
		cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("DescribeAlarms (-stored +described):\n%s", diff)
	}

	bad := alarmInput("bad", 1)
	bad.ExtendedStatistic = aws.String("p99")
	_, err = c.PutMetricAlarm(testCtx(t), bad)
	wantCode(t, err, "InvalidParameterCombination")
	bad = alarmInput("bad", 1)
	bad.Period = aws.Int32(45)
	_, err = c.PutMetricAlarm(testCtx(t), bad)
	wantCode(t, err, "InvalidParameterValue")
}

func TestDescribeAlarms(t *testing.T) {
	s := New(t)
	c := s.CloudWatch(region)
	for _, n := range []string{"xroad-b", "xroad-a", "other", "xroad-c"} {
		if _, err := c.PutMetricAlarm(testCtx(t), alarmInput(n, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CloudWatch(otherRegion).PutMetricAlarm(testCtx(t), alarmInput("xroad-elsewhere", 1)); err != nil {
		t.Fatal(err)
	}
	names := func(in *cloudwatch.DescribeAlarmsInput) ([]string, int, error) {
		var got []string
		pages := 0
		p := cloudwatch.NewDescribeAlarmsPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(testCtx(t))
			if err != nil {
				return nil, pages, err
			}
			pages++
			for _, a := range out.MetricAlarms {
				got = append(got, aws.ToString(a.AlarmName))
			}
		}
		return got, pages, nil
	}
	tests := []struct {
		name      string
		in        cloudwatch.DescribeAlarmsInput
		want      []string
		wantPages int
		code      string
	}{
		{"all, sorted", cloudwatch.DescribeAlarmsInput{}, []string{"other", "xroad-a", "xroad-b", "xroad-c"}, 1, ""},
		{"by name", cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"xroad-c", "missing", "other"}}, []string{"other", "xroad-c"}, 1, ""},
		{"by prefix, paged", cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("xroad-"), MaxRecords: aws.Int32(2)}, []string{"xroad-a", "xroad-b", "xroad-c"}, 2, ""},
		{"by state", cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm}, nil, 1, ""},
		{"by action prefix", cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String("arn:aws:sns:eu-west-1:123456789012:op"), AlarmNamePrefix: aws.String("oth")}, []string{"other"}, 1, ""},
		{"composite only", cloudwatch.DescribeAlarmsInput{AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeCompositeAlarm}}, nil, 1, ""},
		{"names and prefix", cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"x"}, AlarmNamePrefix: aws.String("x")}, nil, 0, "InvalidParameterCombination"},
		{"MaxRecords too big", cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(101)}, nil, 0, "InvalidParameterValue"},
		{"foreign token", cloudwatch.DescribeAlarmsInput{NextToken: aws.String("bogus")}, nil, 0, "InvalidNextToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages, err := names(&tc.in)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(got, tc.want, cmpopts.EquateEmpty()) || pages != tc.wantPages {
				t.Errorf("got %v in %d pages, want %v in %d", got, pages, tc.want, tc.wantPages)
			}
		})
	}
}

func TestDeleteAlarms(t *testing.T) {
	s := New(t)
	c := s.CloudWatch(region)
	for _, n := range []string{"a", "b"} {
		if _, err := c.PutMetricAlarm(testCtx(t), alarmInput(n, 1)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.DeleteAlarms(testCtx(t), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"a", "missing"}})
	wantCode(t, err, "ResourceNotFound")
	if n := len(s.Alarms(region)); n != 2 {
		t.Fatalf("a failed DeleteAlarms left %d alarms, want 2 (all or nothing)", n)
	}
	if _, err := c.DeleteAlarms(testCtx(t), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"a"}}); err != nil {
		t.Fatalf("DeleteAlarms: %v", err)
	}
	if got := s.Alarms(region); len(got) != 1 || aws.ToString(got[0].AlarmName) != "b" {
		t.Errorf("after delete: %+v, want only b", got)
	}
}
