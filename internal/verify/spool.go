package verify

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// errSpool marks a failure of the local spool (a full disk): verify
// cannot check, which says nothing about the archive.
var errSpool = errors.New("spool archive for checking")

// newSpool creates the private file an archive is checked in (mode 0600)
// and unlinks it at once: it vanishes when closed, or when the process
// dies, so a decrypted archive never outlives its check on disk.
func newSpool(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "archiver-verify-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	return f, nil
}

type spoolWriter struct{ f *os.File }

func (s spoolWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %v", errSpool, err)
	}
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
