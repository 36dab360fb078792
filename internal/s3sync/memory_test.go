package s3sync

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		conc int
		part int64
		want int64
	}{
		{1, 0, 5<<20 + 48<<20},         // parts are at least 5 MiB
		{4, 16 << 20, 64<<20 + 48<<20}, // the default
		{2, 8 << 20, 16<<20 + 48<<20},  // the measured run of main_test
		{64, 64 << 20, 4<<30 + 48<<20}, // the largest concurrency
	} {
		if got := MemoryLimit(tc.conc, tc.part); got != tc.want {
			t.Errorf("MemoryLimit(%d, %d) = %d, want %d", tc.conc, tc.part, got, tc.want)
		}
	}
}
