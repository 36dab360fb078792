package restoretest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/snapshot"
)

// RestoreAPI is the part of the AWS Backup client an EFS restore uses;
// *backup.Client satisfies it.
type RestoreAPI interface {
	GetRecoveryPointRestoreMetadata(context.Context, *backup.GetRecoveryPointRestoreMetadataInput, ...func(*backup.Options)) (*backup.GetRecoveryPointRestoreMetadataOutput, error)
	StartRestoreJob(context.Context, *backup.StartRestoreJobInput, ...func(*backup.Options)) (*backup.StartRestoreJobOutput, error)
	DescribeRestoreJob(context.Context, *backup.DescribeRestoreJobInput, ...func(*backup.Options)) (*backup.DescribeRestoreJobOutput, error)
}

var _ RestoreAPI = (*backup.Client)(nil)

// EFSRestore restores EFS recovery points with AWS Backup.
type EFSRestore struct {
	API     RestoreAPI
	Vault   string
	IAMRole string // role AWS Backup assumes to restore
}

// efsItemPath is the volume's directory inside the file system, which an
// item-level restore brings back (AWS Backup paths are relative to the
// file-system root, not to an access point).
func (d *drill) efsItemPath() (string, error) {
	p := d.o.EFSPath
	if p == "" {
		p = d.src.SubPath
	}
	if p == "" && d.src.AccessPoint != "" {
		return "", fmt.Errorf("PVC %s mounts EFS access point %s: pass --efs-path with the access point's root directory (aws efs describe-access-points)", d.src.Ref(), d.src.AccessPoint)
	}
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return "", fmt.Errorf("EFS path %q: want a clean absolute path such as /xroad", p)
	}
	return p, nil
}

// restoreEFS runs an item-level restore of the volume's directory into the
// same file system (AWS Backup writes it to a new aws-backup-restore_*
// directory and never overwrites), waits for it, and mounts the file
// system read-only through a static PV and a claim.
func (d *drill) restoreEFS(ctx context.Context) error {
	e := d.o.EFS
	md, err := e.API.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{
		BackupVaultName: aws.String(e.Vault), RecoveryPointArn: aws.String(d.backup.ID)})
	if err != nil {
		return fmt.Errorf("restore metadata of %s: %w", d.backup.ID, err)
	}
	meta := map[string]string{}
	for k, v := range md.RestoreMetadata {
		meta[k] = v
	}
	token := sha256.Sum256([]byte(d.o.RunID + "\x00" + d.backup.ID))
	meta["newFileSystem"] = "false"
	meta["file-system-id"] = d.src.FileSystemID
	meta["CreationToken"] = "archiver-" + hex.EncodeToString(token[:12])
	if d.efsPath != "/" {
		items, _ := json.Marshal([]string{d.efsPath})
		meta["ItemsToRestore"] = string(items)
	}
	out, err := e.API.StartRestoreJob(ctx, &backup.StartRestoreJobInput{
		RecoveryPointArn: aws.String(d.backup.ID), IamRoleArn: aws.String(e.IAMRole), ResourceType: aws.String("EFS"),
		IdempotencyToken: aws.String(meta["CreationToken"]), Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("start restore job of %s: %w", d.backup.ID, err)
	}
	job := aws.ToString(out.RestoreJobId)
	d.efsJobStart = d.o.Now()
	d.res.LeftOnEFS = d.src.FileSystemID + ": an aws-backup-restore_* directory written by restore job " + job
	d.o.Log.Info("restore job started", "job", job, "recovery_point", d.backup.ID, "items", meta["ItemsToRestore"])
	fs := d.src.FileSystemID
	err = d.poll(ctx, "restore job "+job, func(ctx context.Context) (bool, string, error) {
		j, err := e.API.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(job)})
		if err != nil {
			return false, "", err
		}
		if j.CreationDate != nil {
			d.efsJobStart = *j.CreationDate
		}
		switch j.Status {
		case backuptypes.RestoreJobStatusCompleted:
			if arn := aws.ToString(j.CreatedResourceArn); strings.Contains(arn, ":file-system/") {
				fs = arn[strings.LastIndex(arn, "/")+1:]
			}
			return true, "", nil
		case backuptypes.RestoreJobStatusAborted, backuptypes.RestoreJobStatusFailed:
			return false, "", terminalError{fmt.Errorf("restore job %s ended %s: %s", job, j.Status, aws.ToString(j.StatusMessage))}
		}
		return false, fmt.Sprintf("restore job %s %s %s%%", job, j.Status, aws.ToString(j.PercentDone)), nil
	})
	if err != nil {
		return err
	}
	kube := d.o.Kube.CoreV1()
	// Kept recoveries on this file system are in use: their directories'
	// mtimes move, so the verifier must not take one for this job's.
	kept, err := kube.PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelComponent + "=" + ComponentRestored})
	if err != nil {
		return fmt.Errorf("list kept recoveries: %w", err)
	}
	for _, pv := range kept.Items {
		if c := pv.Spec.CSI; c != nil && c.Driver == snapshot.DriverEFS && strings.HasPrefix(c.VolumeHandle, fs+":/") {
			top, _, _ := strings.Cut(strings.TrimPrefix(c.VolumeHandle, fs+":/"), "/")
			d.efsKept = append(d.efsKept, top)
		}
	}
	if _, err := kube.PersistentVolumes().Create(ctx, d.efsVolume(d.meta(d.n.pv, ""), fs, d.ns, d.n.base, true), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create PV %s: %w", d.n.pv, err)
	}
	d.track("PersistentVolume", "", d.n.pv, false)
	if _, err := kube.PersistentVolumeClaims(d.ns).Create(ctx, d.efsClaim(d.meta(d.n.base, d.ns), d.n.pv), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create PVC %s/%s: %w", d.ns, d.n.base, err)
	}
	d.track("PersistentVolumeClaim", d.ns, d.n.base, false)
	d.efsFS = fs
	return nil
}

// keepEFS creates the named PV and claim of a real recovery, pointing at
// the recovery directory the verifier checked.
func (d *drill) keepEFS(ctx context.Context, dir string, meta metav1.ObjectMeta) error {
	pvName := "archiver-restored-" + d.n.base[len("archiver-rt-"):]
	handle := d.efsFS + ":/" + strings.TrimPrefix(dir, "/")
	pvMeta := meta
	pvMeta.Name, pvMeta.Namespace = pvName, ""
	kube := d.o.Kube.CoreV1()
	if _, err := kube.PersistentVolumes().Create(ctx, d.efsVolume(pvMeta, handle, d.ns, d.o.Keep, false), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create PV %s: %w", pvName, err)
	}
	d.track("PersistentVolume", "", pvName, true)
	if _, err := kube.PersistentVolumeClaims(d.ns).Create(ctx, d.efsClaim(meta, pvName), metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("PVC %s/%s already exists: choose another name (nothing is overwritten)", d.ns, d.o.Keep)
		}
		return fmt.Errorf("create PVC %s/%s: %w", d.ns, d.o.Keep, err)
	}
	d.track("PersistentVolumeClaim", d.ns, d.o.Keep, true)
	d.o.Log.Info("restored EFS volume kept", "pvc", d.ns+"/"+d.o.Keep, "pv", pvName, "volume_handle", handle)
	err := d.poll(ctx, "PVC "+d.ns+"/"+d.o.Keep+" to bind", func(ctx context.Context) (bool, string, error) {
		pvc, err := kube.PersistentVolumeClaims(d.ns).Get(ctx, d.o.Keep, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return pvc.Status.Phase == corev1.ClaimBound, "PVC " + string(pvc.Status.Phase), nil
	})
	if err == nil {
		d.res.LeftOnEFS = "" // it is the kept volume now
	}
	return err
}
