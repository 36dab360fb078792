package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoSuchJob means a job asked for by name is not among the runner's.
var ErrNoSuchJob = errors.New("not an enabled job")

// Select keeps only the named jobs, in the configured order (all when
// names is empty). A name that is not one of r.Jobs is an ErrNoSuchJob
// naming the enabled ones, not silently nothing; r is then unchanged.
func (r *Runner) Select(names []string) error {
	if len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	var enabled []string
	for _, j := range r.Jobs {
		enabled = append(enabled, j.Name)
	}
	for _, n := range names {
		if !slices.Contains(enabled, n) {
			return fmt.Errorf("%s: %w (enabled: %s)", n, ErrNoSuchJob, strings.Join(enabled, ", "))
		}
		want[n] = true
	}
	var keep []Job
	for _, j := range r.Jobs {
		if want[j.Name] {
			keep = append(keep, j)
		}
	}
	r.Jobs = keep
	return nil
}
