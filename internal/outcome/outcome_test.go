package outcome

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelsWrapTheirClassAndKeepTheirText(t *testing.T) {
	partial := Partial("some files were not shipped")
	failed := VerificationFailed("verification failed")
	for _, tc := range []struct {
		name     string
		err      error
		class    error
		notClass error
		wantText string
		sentinel error
	}{
		{"partial", fmt.Errorf("2 of 5 files failed: %w", partial), ErrPartial, ErrVerification, "2 of 5 files failed: some files were not shipped", partial},
		{"verification", fmt.Errorf("3 problems found: %w", failed), ErrVerification, ErrPartial, "3 problems found: verification failed", failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.class) || !errors.Is(tc.err, tc.sentinel) {
				t.Errorf("%v: not of class %v or its sentinel", tc.err, tc.class)
			}
			if errors.Is(tc.err, tc.notClass) {
				t.Errorf("%v: of class %v too", tc.err, tc.notClass)
			}
			if got := tc.err.Error(); got != tc.wantText {
				t.Errorf("text %q, want %q", got, tc.wantText)
			}
		})
	}
	if errors.Is(Partial("a"), Partial("a")) {
		t.Error("two sentinels with one text are one error; each package's must be its own")
	}
}
