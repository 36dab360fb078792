package s3sync

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the soft heap limit a sync of concurrency files at once
// with partSize parts needs: the streaming buffers (used only with
// compression; a part is at least 5 MiB) plus headroom.
func MemoryLimit(concurrency int, partSize int64) int64 {
	return int64(concurrency)*max(partSize, 5<<20) + 48<<20
}

// LimitMemory sets MemoryLimit as the process's soft heap limit unless
// GOMEMLIMIT is set, so the garbage collector keeps the resident size
// near what the buffers need instead of twice that.
func LimitMemory(concurrency int, partSize int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(MemoryLimit(concurrency, partSize))
}
