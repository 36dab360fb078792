// Package jobs is the catalogue of archiver's scheduled work: Build turns
// the configuration file into a schedule.Runner whose jobs (sync,
// snapshot, restore-test, verify) are built from the typed configuration,
// with the run lock, the primary check and the after-run hooks (metrics
// for CloudWatch, EMF or Prometheus, and Kubernetes Events). Every client
// (stores, the API server, AWS) comes from a factory in Env, so the
// catalogue runs in process against MinIO, the API server and the AWS
// fake in tests, and against the real services in the binary.
//
// It owns how a configuration becomes jobs and which dimensions their
// metrics carry, and the same builders serve the commands, whose flags
// fill the same structures (SyncOptions, SnapshotOptions,
// RestoreTestOptions), besides doctor's options, the alarms' plan/apply
// (Alarms) and the scheduler (Server). It must not parse flags, print, or
// decide exit codes (cmd/archiver does), and it does no archiving itself:
// each job calls one function of s3sync, snapshot, restoretest or verify.
// It is the top of the dependency graph: only cmd/archiver imports it.
package jobs
