// Package content owns the content-manifest format: what a volume held
// when it was backed up (every file with its size, mtime and SHA-256), the
// record a restore is checked against. snapshot writes it, dircheck and
// restoretest read it.
//
// It is only the format: it depends on nothing of archiver's and must not
// read volumes, stores or clusters, so the verifier pod's dircheck needs
// neither the AWS SDK nor client-go to read it.
package content

import "time"

// Version is the manifest version this archiver writes and reads.
const Version = 1

// Manifest records what a volume held when it was backed up, so a
// restore can be checked against it: every file with its size and mtime,
// and the SHA-256 of X-Road archives and backups.
type Manifest struct {
	Version   int       `json:"version"`
	RunID     string    `json:"run_id"`
	Namespace string    `json:"namespace"`
	PVC       string    `json:"pvc"`
	PV        string    `json:"pv"`
	Kind      string    `json:"kind"`
	Created   time.Time `json:"created"`
	Files     []File    `json:"files"`
	// Tar describes the streamed tar of a hostPath volume.
	Tar *TarInfo `json:"tar,omitempty"`
	// Skipped lists what archiver's user may not read (a root-only
	// lost+found): not in Files, so a restore is not checked for it.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Skipped is an entry the scan could not read.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// File is one file of a volume.
type File struct {
	Path   string    `json:"path"` // slash path relative to the volume root
	Size   int64     `json:"size"`
	MTime  time.Time `json:"mtime"`
	Kind   string    `json:"kind,omitempty"`   // archive, encrypted-archive, backup (when the volume is an archive-path)
	SHA256 string    `json:"sha256,omitempty"` // of every file (manifests before 0.2: archives and backups only)
}

// TarInfo is the stored tar of a hostPath volume.
type TarInfo struct {
	Key        string `json:"key"`
	SHA256     string `json:"sha256"` // of the uncompressed tar
	Size       int64  `json:"size"`   // uncompressed
	StoredSize int64  `json:"stored_size"`
}
