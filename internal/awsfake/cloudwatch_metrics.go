package awsfake

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// CloudWatch PutMetricData limits the fake enforces, as documented.
const (
	maxDatums     = 1000
	maxDimensions = 30
	maxValues     = 150
	maxPast       = 14 * 24 * time.Hour
	maxFuture     = 2 * time.Hour
)

// MetricRecord is one datum PutMetricData accepted, with where it went.
type MetricRecord struct {
	Region    string
	Namespace string
	Datum     cwtypes.MetricDatum
}

// MetricData returns every datum PutMetricData accepted, in arrival order
// (rejected requests record nothing).
func (s *Server) MetricData() []MetricRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MetricRecord(nil), s.metrics...)
}

// MetricValue is the value of the last datum named name in namespace
// with the dimension Job=job, and whether there was one.
func (s *Server) MetricValue(namespace, job, name string) (float64, bool) {
	v, ok := 0.0, false
	for _, m := range s.MetricData() {
		if aws.ToString(m.Datum.MetricName) != name || m.Namespace != namespace {
			continue
		}
		for _, d := range m.Datum.Dimensions {
			if aws.ToString(d.Name) == "Job" && aws.ToString(d.Value) == job {
				v, ok = aws.ToFloat64(m.Datum.Value), true
			}
		}
	}
	return v, ok
}

// putMetricData validates the request against CloudWatch's limits and
// records every datum; a request that breaks one records nothing.
func (s *Server) putMetricData(region string, in *cloudwatch.PutMetricDataInput) (any, *apiError) {
	ns := aws.ToString(in.Namespace)
	if strings.HasPrefix(ns, "AWS/") {
		return nil, cwError("InvalidParameterValue",
			fmt.Sprintf("The value %s for parameter Namespace is invalid.", ns))
	}
	if len(in.MetricData) > maxDatums {
		return nil, cwError("InvalidParameterValue", fmt.Sprintf(
			"The collection MetricData must not have a size greater than %d.", maxDatums))
	}
	now := time.Now()
	for i, d := range in.MetricData {
		if aerr := checkDatum(i+1, d, now); aerr != nil {
			return nil, aerr
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range in.MetricData {
		s.metrics = append(s.metrics, MetricRecord{Region: region, Namespace: ns, Datum: d})
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// checkDatum applies the per-datum rules; n is the datum's 1-based index,
// as CloudWatch names it in messages (MetricData.member.n).
func checkDatum(n int, d cwtypes.MetricDatum, now time.Time) *apiError {
	member := fmt.Sprintf("MetricData.member.%d", n)
	set := 0
	for _, b := range []bool{d.Value != nil, d.StatisticValues != nil, d.Values != nil} {
		if b {
			set++
		}
	}
	switch {
	case set > 1:
		return cwError("InvalidParameterCombination", fmt.Sprintf(
			"The parameters %s.Value, %[1]s.StatisticValues and %[1]s.Values are mutually exclusive and you have specified more than one.", member))
	case len(d.Dimensions) > maxDimensions:
		return cwError("InvalidParameterValue", fmt.Sprintf(
			"The collection %s.Dimensions must not have a size greater than %d.", member, maxDimensions))
	case len(d.Values) > maxValues:
		return cwError("InvalidParameterValue", fmt.Sprintf(
			"The collection %s.Values must not have a size greater than %d.", member, maxValues))
	case d.Counts != nil && len(d.Counts) != len(d.Values):
		return cwError("InvalidParameterValue", fmt.Sprintf(
			"The parameters %s.Values and %[1]s.Counts must be of the same size.", member))
	case d.Timestamp != nil && (d.Timestamp.Before(now.Add(-maxPast)) || d.Timestamp.After(now.Add(maxFuture))):
		return cwError("InvalidParameterValue", fmt.Sprintf(
			"The parameter %s.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.", member))
	}
	return nil
}
