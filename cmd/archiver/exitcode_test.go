package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/primary"
	"github.com/xroad-archiver/archiver/internal/restore"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/verify"
)

// TestEveryPackagesOutcomeMapsToItsExitCode: each package's partial and
// verification sentinels reach the exit switch through their class, so
// no list of packages can leave one out (restoretest.ErrPartial once was).
func TestEveryPackagesOutcomeMapsToItsExitCode(t *testing.T) {
	tests := []struct {
		err    error
		code   int
		listed bool // the command's output already names the failures
	}{
		{s3sync.ErrPartial, exitPartial, true},
		{restore.ErrPartial, exitPartial, true},
		{snapshot.ErrPartial, exitPartial, true},
		{schedule.ErrPartial, exitPartial, true},
		{restoretest.ErrPartial, exitPartial, true},
		{verify.ErrFailed, exitVerifyFail, true},
		{dircheck.ErrFailed, exitVerifyFail, false},
		{schedule.ErrFailed, exitError, false},
		{lock.ErrLocked, exitLocked, false},
		{schedule.ErrSecondary, exitSecondary, false},
		{primary.ErrUnconfirmed, exitNoPrimary, false},
		{usageErrorf("--output %q", "yaml"), exitUsage, false},
		{context.Canceled, exitInterrupted, false},
		{errors.New("bucket gone"), exitError, false},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			err := fmt.Errorf("job: %w", tc.err)
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit %d, want %d", got, tc.code)
			}
			if got := listedInOutput(err); got != tc.listed {
				t.Errorf("listed in output %v, want %v", got, tc.listed)
			}
		})
	}
	if exitCode(nil) != exitOK {
		t.Error("nil is not exit 0")
	}
}
