// Command archiver keeps the data of an X-Road Security Server on
// Kubernetes safe: it ships message-log archives and configuration backups
// to KMS-encrypted S3, snapshots volumes, verifies and restores them. See
// README.md.
//
// The command layer is flag wiring, output and the exit switch: each
// command checks its flags, builds an internal Options value and calls one
// function; scheduled jobs are built by internal/jobs; root.go maps an
// error's class (internal/outcome) to the exit code in one switch. It must
// not hold logic of its own, and it reaches AWS and Kubernetes only
// through internal packages (layout_test.go enforces both the package
// docs and these rules).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}
