// Package snapshot backs up the volumes behind PersistentVolumeClaims, the
// way the Sidecar guide prescribes per volume type: EBS volumes with EC2
// snapshots (tagged at creation, waited for, optionally copied to a
// disaster-recovery region), EFS file systems with AWS Backup jobs (polled
// until terminal), and hostPath/local volumes as a streamed tar.zst in the
// destination store. It resolves PVC -> PV through the Kubernetes API,
// records a content manifest of mounted volumes, and applies GFS retention
// to what it created (by tag), never to anything else.
//
// It does not create pods or PVCs (the restore drill does) and declares the
// few EC2 and AWS Backup calls it makes as its own small interfaces.
package snapshot
