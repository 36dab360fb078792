// Package restoretest proves that a backup can be restored. It restores an EBS
// snapshot (through a pre-provisioned VolumeSnapshotContent and a
// VolumeSnapshot) or an AWS Backup EFS recovery point (through a restore
// job and a static PersistentVolume) into a scratch PVC, runs a short-lived
// verifier pod (archiver verify-dir, with the PVC mounted read-only and the
// restricted security profile) that compares the restored files with the
// content manifest recorded at backup time, measures how long the restore
// took, and deletes everything it created.
//
// Every object it creates carries archiver's labels, the drill's run id and
// a deadline annotation; a later drill deletes the objects of any drill
// whose deadline has passed, so a crashed run leaves nothing behind for
// long. The same machinery, with Keep set, is a real recovery: the
// restored, verified PVC is left in place under the name asked for.
package restoretest
