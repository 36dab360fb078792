package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRunnerSelect(t *testing.T) {
	all := []string{"sync", "snapshot", "restore-test", "verify"}
	for _, tc := range []struct {
		name    string
		names   []string
		want    []string
		wantErr string
	}{
		{"all by default", nil, all, ""},
		{"one", []string{"verify"}, []string{"verify"}, ""},
		{"configured order kept", []string{"verify", "sync"}, []string{"sync", "verify"}, ""},
		{"twice is once", []string{"sync", "sync"}, []string{"sync"}, ""},
		{"not enabled", []string{"sync", "syncc"}, all, "syncc: not an enabled job (enabled: sync, snapshot, restore-test, verify)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runner{}
			for _, n := range all {
				r.Jobs = append(r.Jobs, Job{Name: n})
			}
			err := r.Select(tc.names)
			var got []string
			for _, j := range r.Jobs {
				got = append(got, j.Name)
			}
			if tc.wantErr != "" && (!errors.Is(err, ErrNoSuchJob) || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr == "" && err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
