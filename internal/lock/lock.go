// Package lock keeps archiver runs one at a time per volume: a Kubernetes
// Lease (coordination.k8s.io/v1) when running in a cluster, an flock(2)
// file lock otherwise. A lock whose holder died expires: the kernel drops
// a dead process's flock at once, and a Lease not renewed within its
// duration may be taken over. It does not decide what runs.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// ErrLocked means another archiver holds the lock.
var ErrLocked = errors.New("locked by another archiver")

// ErrLost means a held lock was lost (a Lease taken over or not renewed
// in time): the run must stop, another archiver may be running.
var ErrLost = errors.New("run lock lost")

// Lock is held until Release.
type Lock interface {
	// Release gives the lock up; it is safe to call more than once.
	Release(ctx context.Context) error
}

// File is an flock-based lock on path.
type File struct{ f *os.File }

// AcquireFile takes an exclusive, non-blocking flock on path (created if
// missing) and writes who holds it. It returns ErrLocked, naming the
// holder, when another process has it.
func AcquireFile(path, holder string) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 256)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			// The file names the last archiver that took the lock; another
			// program may hold it now.
			return nil, fmt.Errorf("%s: %w (another process holds it; the last archiver to take it was %s)", path, ErrLocked, string(b[:n]))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%s pid %d since %s", holder, os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	return &File{f: f}, nil
}

// Release implements Lock.
func (l *File) Release(context.Context) error {
	if l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
	return err
}
