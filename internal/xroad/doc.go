// Package xroad knows the X-Road Security Server file formats that archiver
// handles: message-log archive names (mlog-[GROUP-]X-Y-Z.zip[.gpg]),
// configuration backup names, the working files that must never be shipped,
// and the linkinginfo hash chain that ties the archives of a group together.
//
// It does no I/O beyond the io.Reader and io.ReaderAt values it is given and
// knows nothing of S3 or Kubernetes. The facts it encodes are documented in
// the project's reference notes (X-Road 7.8.0, LogArchiveWriter,
// LinkingInfoBuilder, the backup scripts).
package xroad
