// Package schedule runs archiver's jobs: one run (archiver run) of the
// selected jobs (Runner.Select) under a lock, on the primary node only, jobs in order, each job's outcome
// reported; and the long-running scheduler (archiver serve): cron
// schedules with time zones and jitter, never two runs of a job at once,
// health endpoints and metrics, graceful shutdown.
//
// It knows jobs only as functions; it must not import the AWS SDK.
package schedule
