// Package outcome owns the vocabulary every run and check reports its end
// in: the status words of the JSON results (ok, partial, failed, ...) and
// the two error classes a command maps to an exit code of its own,
// ErrPartial (3) and ErrVerification (4). Each package declares its
// sentinels with Partial or VerificationFailed, so they wrap one of these
// classes and a caller tests the class with errors.Is, never a list of
// packages' sentinels.
//
// It depends on nothing of archiver's and must not: every package may
// import it. It must not decide what a command prints or which code it
// exits with; cmd/archiver's exit switch does, from these classes.
package outcome

import "errors"

// The error classes. Wrap them through Partial and VerificationFailed.
var (
	// ErrPartial: the run finished and committed what it did, but some of
	// its items (files, volumes, jobs, restore tests) failed, each named in
	// its result; the next run retries them.
	ErrPartial = errors.New("partial")
	// ErrVerification: the check ran to its end and the evidence does not
	// match what was recorded (a file missing, changed or unreadable), each
	// problem named in its result.
	ErrVerification = errors.New("verification failed")
)

// classError is a package's sentinel: its own message, one class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// Partial returns a new sentinel of class ErrPartial whose message is msg:
// errors.Is(err, ErrPartial) holds for it and for every error wrapping it,
// while its own text stays msg.
func Partial(msg string) error { return &classError{msg: msg, class: ErrPartial} }

// VerificationFailed returns a new sentinel of class ErrVerification whose
// message is msg.
func VerificationFailed(msg string) error { return &classError{msg: msg, class: ErrVerification} }

// Status is the one word a result's "status" field holds. The JSON
// values are part of the output contract (scripts, metrics, the restore
// test's verifier pod read them); they never change.
type Status string

// The statuses. A work run (sync, restore, snapshot, a scheduled run or
// job) ends StatusOK, StatusPartial or StatusFailed, where Failed means it could not do its
// work. A check (verify, verify-dir, a restore test) ends StatusOK (verify says
// StatusVerified), StatusFailed or StatusError, where StatusFailed means the check ran and the
// evidence did not verify (ErrVerification), and StatusError means the check
// could not run to its end.
const (
	StatusOK       Status = "ok"
	StatusPartial  Status = "partial"
	StatusFailed   Status = "failed"
	StatusError    Status = "error"
	StatusVerified Status = "verified"
	StatusSkipped  Status = "skipped" // a scheduled job that did not start (its previous run still going)
	StatusPlanned  Status = "planned" // a dry run: what would be done
)
