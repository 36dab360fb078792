package restoretest

import (
	"context"

	"github.com/xroad-archiver/archiver/internal/outcome"
)

// RunAll is a scheduled run of restore tests: one per target, in order
// ("" is the S3 copy at dest), going on after a failure until ctx ends.
// one runs a single test; a test that ended without a result (it could
// not start) is recorded as an error naming why.
func RunAll(ctx context.Context, targets []string, runID, dest string, one func(ctx context.Context, target string) (*Result, error)) *Batch {
	b := &Batch{}
	for _, t := range targets {
		res, err := one(ctx, t)
		if res == nil {
			res = &Result{RunID: runID, Source: t, Status: outcome.StatusError}
			if t == "" {
				res.Source = dest
			}
		}
		if err != nil && res.Error == "" {
			res.Error = err.Error()
		}
		if err != nil && res.Status == outcome.StatusOK {
			res.Status = outcome.StatusError
		}
		b.Add(res)
		if ctx.Err() != nil {
			break
		}
	}
	return b
}
