// Package report publishes what runs did: metric data points to CloudWatch
// (PutMetricData, batched within the API's limits) or as Embedded Metric
// Format lines for the CloudWatch agent, and the CloudWatch alarms that
// page someone when a job fails or silently stops running, kept in sync
// with a CloudFormation rendering of the same definitions; what a plan or
// apply found prints itself (Changes).
//
// It reports outcomes; it never decides them. A failure to publish is
// returned to the caller to log and count, and must not change a run's
// exit code.
package report
