// Package chaos is archiver's hardening campaign (make chaos): archiver
// killed at random moments, network faults between it and a real MinIO
// (resets, stalls, latency, SlowDown/503, InternalError, MinIO restarts),
// with an invariant checker after every cycle proving that no file was
// lost. It is test-only (the campaign runs under the `chaos` build tag)
// and prints the figures RELIABILITY.md publishes.
package chaos
