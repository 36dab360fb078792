// Package restore brings archived files back from a destination into a
// local directory, safely: it selects entries from a manifest (latest or as
// of a run), streams and decodes each object, checks its SHA-256 before an
// atomic rename into place, never leaves a partial file, never writes
// outside the target directory (all file operations go through os.Root,
// so "..", absolute paths and symlinks out of the target are refused), and
// never overwrites an existing file unless forced.
//
// It trusts no object key or manifest path.
package restore
