// Command archiver keeps the data of an X-Road Security Server on
// Kubernetes safe: it ships message-log archives and configuration backups
// to KMS-encrypted S3, and (in later commands) snapshots, verifies and
// restores them. See README.md.
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
