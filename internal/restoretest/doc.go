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
//
// It owns the orchestration of restore tests too: which backup of which
// PVC to restore (Select), a scheduled run over several PVCs (RunAll), and
// the S3 copy's restore-and-check that the verifier pod runs
// (RestoreAndCheck). Its errors name values, not the flags or YAML keys
// that set them, and it must not verify files itself outside the
// verifier's code path (dircheck does) nor write to the backup store.
package restoretest
