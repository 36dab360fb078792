package awsfake

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// cwRegion is the CloudWatch state of one region: metric alarms by name.
type cwRegion struct {
	alarms map[string]cwtypes.MetricAlarm
}

func (s *Server) cwRegionLocked(region string) *cwRegion {
	r, ok := s.cw[region]
	if !ok {
		r = &cwRegion{alarms: map[string]cwtypes.MetricAlarm{}}
		s.cw[region] = r
	}
	return r
}

// Alarms returns the metric alarms of region, by name.
func (s *Server) Alarms(region string) []cwtypes.MetricAlarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cwRegionLocked(region)
	out := make([]cwtypes.MetricAlarm, 0, len(r.alarms))
	for _, name := range slices.Sorted(maps.Keys(r.alarms)) {
		a := r.alarms[name]
		a.AlarmActions, a.OKActions = slices.Clone(a.AlarmActions), slices.Clone(a.OKActions)
		a.InsufficientDataActions = slices.Clone(a.InsufficientDataActions)
		a.Dimensions, a.Metrics = slices.Clone(a.Dimensions), slices.Clone(a.Metrics)
		out = append(out, a)
	}
	return out
}

// putMetricAlarm creates the alarm or replaces its whole configuration; as
// in CloudWatch, a replaced alarm keeps its state. Tags are accepted and
// not kept.
func (s *Server) putMetricAlarm(region string, in *cloudwatch.PutMetricAlarmInput) (any, *apiError) {
	if aerr := checkAlarm(in); aerr != nil {
		return nil, aerr
	}
	name := aws.ToString(in.AlarmName)
	now := time.Now().UTC()
	a := cwtypes.MetricAlarm{
		ActionsEnabled:                     aws.Bool(in.ActionsEnabled == nil || *in.ActionsEnabled),
		AlarmActions:                       in.AlarmActions,
		AlarmArn:                           aws.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, AccountID, name)),
		AlarmConfigurationUpdatedTimestamp: aws.Time(now),
		AlarmDescription:                   in.AlarmDescription,
		AlarmName:                          aws.String(name),
		ComparisonOperator:                 in.ComparisonOperator,
		DatapointsToAlarm:                  in.DatapointsToAlarm,
		Dimensions:                         in.Dimensions,
		EvaluateLowSampleCountPercentile:   in.EvaluateLowSampleCountPercentile,
		EvaluationPeriods:                  in.EvaluationPeriods,
		ExtendedStatistic:                  in.ExtendedStatistic,
		InsufficientDataActions:            in.InsufficientDataActions,
		MetricName:                         in.MetricName,
		Metrics:                            in.Metrics,
		Namespace:                          in.Namespace,
		OKActions:                          in.OKActions,
		Period:                             in.Period,
		StateReason:                        aws.String("Unchecked: Initial alarm creation"),
		StateUpdatedTimestamp:              aws.Time(now),
		StateValue:                         cwtypes.StateValueInsufficientData,
		Statistic:                          in.Statistic,
		Threshold:                          in.Threshold,
		ThresholdMetricId:                  in.ThresholdMetricId,
		TreatMissingData:                   in.TreatMissingData,
		Unit:                               in.Unit,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cwRegionLocked(region)
	if old, ok := r.alarms[name]; ok {
		a.StateValue, a.StateReason, a.StateReasonData = old.StateValue, old.StateReason, old.StateReasonData
		a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = old.StateUpdatedTimestamp, old.StateTransitionedTimestamp
	}
	r.alarms[name] = a
	return &cloudwatch.PutMetricAlarmOutput{}, nil
}

// checkAlarm: a single metric (MetricName) or a math expression (Metrics),
// not both; a single metric needs Namespace, Period and exactly one of
// Statistic and ExtendedStatistic; Period is 10, 20, 30 or a multiple of 60.
func checkAlarm(in *cloudwatch.PutMetricAlarmInput) *apiError {
	single := in.MetricName != nil
	switch {
	case single == (len(in.Metrics) > 0):
		return cwError("InvalidParameterCombination", "Exactly one of MetricName and Metrics must be specified.")
	case single && (in.Namespace == nil || in.Period == nil):
		return cwError("MissingParameter", "Namespace and Period are required with MetricName.")
	case single && (in.Statistic == "") == (in.ExtendedStatistic == nil):
		return cwError("InvalidParameterCombination", "Exactly one of Statistic and ExtendedStatistic must be specified.")
	case in.Threshold == nil && in.ThresholdMetricId == nil:
		return cwError("MissingParameter", "Threshold or ThresholdMetricId is required.")
	}
	if p := aws.ToInt32(in.Period); in.Period != nil && p != 10 && p != 20 && p != 30 && (p <= 0 || p%60 != 0) {
		return cwError("InvalidParameterValue", fmt.Sprintf(
			"The parameter Period must be 10, 20, 30 or a multiple of 60, not %d.", p))
	}
	return nil
}

// describeAlarms supports AlarmNames or AlarmNamePrefix (not both),
// StateValue, ActionPrefix, AlarmTypes and MaxRecords (1..100) with
// NextToken; alarms come back sorted by name.
func (s *Server) describeAlarms(region string, in *cloudwatch.DescribeAlarmsInput) (any, *apiError) {
	switch max := aws.ToInt32(in.MaxRecords); {
	case len(in.AlarmNames) > 0 && in.AlarmNamePrefix != nil:
		return nil, cwError("InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be used together.")
	case len(in.AlarmNames) > 100:
		return nil, cwError("InvalidParameterValue", "The collection AlarmNames must not have a size greater than 100.")
	case in.MaxRecords != nil && (max < 1 || max > 100):
		return nil, cwError("InvalidParameterValue", "The parameter MaxRecords must be between 1 and 100.")
	case in.ChildrenOfAlarmName != nil || in.ParentsOfAlarmName != nil:
		return nil, s.outsideModel(svcCloudWatch, "DescribeAlarms with composite alarm relations")
	}
	wantMetric := len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, cwtypes.AlarmTypeMetricAlarm)
	var matched []cwtypes.MetricAlarm
	for _, a := range s.Alarms(region) {
		name := aws.ToString(a.AlarmName)
		switch {
		case !wantMetric,
			len(in.AlarmNames) > 0 && !slices.Contains(in.AlarmNames, name),
			in.AlarmNamePrefix != nil && !strings.HasPrefix(name, *in.AlarmNamePrefix),
			in.StateValue != "" && a.StateValue != in.StateValue,
			in.ActionPrefix != nil && !slices.ContainsFunc(a.AlarmActions, func(act string) bool {
				return strings.HasPrefix(act, *in.ActionPrefix)
			}):
			continue
		}
		matched = append(matched, a)
	}
	pg, next, ok := page(matched, int(aws.ToInt32(in.MaxRecords)), aws.ToString(in.NextToken))
	if !ok {
		return nil, cwError("InvalidNextToken", "The service returned an invalid token.")
	}
	out := &cloudwatch.DescribeAlarmsOutput{MetricAlarms: pg}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

// deleteAlarms deletes all named alarms, or none when one does not exist
// (ResourceNotFound, HTTP 404).
func (s *Server) deleteAlarms(region string, in *cloudwatch.DeleteAlarmsInput) (any, *apiError) {
	if len(in.AlarmNames) > 100 {
		return nil, cwError("InvalidParameterValue", "The collection AlarmNames must not have a size greater than 100.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cwRegionLocked(region)
	var missing []string
	for _, n := range in.AlarmNames {
		if _, ok := r.alarms[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, cwError("ResourceNotFound", "Alarms not found: "+strings.Join(missing, ", "))
	}
	for _, n := range in.AlarmNames {
		delete(r.alarms, n)
	}
	return &cloudwatch.DeleteAlarmsOutput{}, nil
}
