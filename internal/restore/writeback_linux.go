package restore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing f's bytes [off, off+n)
// to disk now, without waiting (sync_file_range SYNC_FILE_RANGE_WRITE).
// Disk writes then overlap the download, and the fsync before a file gets
// its name finds little left to flush. It is a hint only: durability still
// comes from that fsync, which also reports any write error, so an error
// here is ignored.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
