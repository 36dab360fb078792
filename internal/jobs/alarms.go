package jobs

import (
	"cmp"
	"context"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/report"
)

// Alarms compares the CloudWatch alarms the configuration describes
// (report.Alarms) with those in region ("": metrics.region, then the
// SDK's) and, with apply, creates or updates them. It returns nil changes
// when no CloudWatch client could be built (no region is an ErrConfig).
func Alarms(ctx context.Context, c *config.Config, cl Clients, region string, apply bool) (*report.Changes, error) {
	api, err := cl.withDefaults().CloudWatch(ctx, cmp.Or(region, c.Metrics.Region))
	if err != nil {
		return nil, err
	}
	defs := report.Alarms(report.AlarmConfigFrom(c))
	ch := &report.Changes{Applied: apply}
	if apply {
		ch.List, err = report.Apply(ctx, api, defs)
	} else {
		ch.List, err = report.Plan(ctx, api, defs)
	}
	return ch, err
}
