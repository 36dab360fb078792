// Command archiver keeps the data of an X-Road Security Server on
// Kubernetes safe: it ships message-log archives and configuration backups
// to KMS-encrypted S3, snapshots volumes, verifies and restores them. See
// README.md.
//
// The command layer is flag wiring, output and the exit switch: each
// command checks its flags, builds an internal Options value and calls one
// function; scheduled jobs are built by internal/jobs; main.go maps an
// error's class (internal/outcome) to the exit code in one switch. It must
// not hold logic of its own, and it reaches AWS and Kubernetes only
// through internal packages (layout_test.go enforces both the package
// docs and these rules).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // a minimal image has no /usr/share/zoneinfo; timeZone and --time-zone must still load

	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/primary"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// Exit codes, documented in README.md and in each command's help.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitPartial     = 3
	exitVerifyFail  = 4
	exitLocked      = 11
	exitSecondary   = 12
	exitNoPrimary   = 13
	exitInterrupted = 130
)

// exitCode maps an error to the process exit code: the only place that does.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, errUsage), isCobraUsage(err):
		return exitUsage
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	case errors.Is(err, schedule.ErrSecondary):
		return exitSecondary
	case errors.Is(err, primary.ErrUnconfirmed):
		return exitNoPrimary
	case errors.Is(err, outcome.ErrPartial):
		return exitPartial
	case errors.Is(err, outcome.ErrVerification):
		return exitVerifyFail
	}
	return exitError
}

// isCobraUsage recognises cobra's own argument errors.
func isCobraUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown command") || strings.HasPrefix(m, "unknown flag") ||
		strings.HasPrefix(m, "unknown shorthand flag") || strings.Contains(m, "accepts ") && strings.Contains(m, "arg(s)")
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, s streams) int {
	root := newRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	if err != nil && !listedInOutput(err) {
		fmt.Fprintf(s.err, "archiver: %s\n", oneLine(err))
	}
	return exitCode(err)
}

// listedInOutput reports whether the command's own output already names
// every failure err stands for, so no one-line error goes to stderr: a
// partial run lists its failed items, verify its findings. A restore
// test's or verify-dir's verification failure is still printed: its
// one line names the damaged files where a log pipeline sees it.
func listedInOutput(err error) bool {
	return errors.Is(err, outcome.ErrPartial) || errors.Is(err, verify.ErrFailed)
}

// oneLine flattens an error for the one-line message operators see.
func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if errors.Is(err, store.ErrKMSKey) {
		msg += " (check --kms-key-id and that the role may use the key: kms:GenerateDataKey and kms:Decrypt)"
	}
	return msg
}
