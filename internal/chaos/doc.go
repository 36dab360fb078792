// Package chaos is archiver's hardening campaign (make chaos): archiver
// sync, verify, restore, snapshot and restore drills killed at random
// moments, network faults between archiver and a real MinIO (resets,
// stalls, latency, SlowDown/503, InternalError, conditional PUTs refused by
// a reset mid-body, MinIO restarts), full disks and a clock that jumped
// back, with invariant checks after every step proving that no file was
// lost, nothing was pruned without proof and the first clean run after the
// faults succeeds. It is test-only: the campaign runs under the `chaos`
// build tag and prints the figures RELIABILITY.md publishes; the
// regression tests of faults it found (adopt_test.go) run in make test.
package chaos
