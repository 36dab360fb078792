package restoretest

import (
	"context"
	"errors"
	"fmt"

	"github.com/xroad-archiver/archiver/internal/snapshot"
)

// Selection is which backup of which PVC a restore test restores.
type Selection struct {
	// PVC is NAMESPACE/NAME. With SnapshotID it may be empty: the
	// snapshot's tags then say which PVC it is of (the source PVC may be
	// gone: the disaster a real recovery is for).
	PVC           string
	SnapshotID    string // an EBS snapshot; "" with RecoveryPoint "": the newest
	RecoveryPoint string // an AWS Backup recovery point ARN (EFS)
	// StorageClass of the restored PVC; needed when the source PVC is gone.
	StorageClass string
}

// ErrSelection marks a selection that does not fit the volume (a
// recovery point for an EBS volume, a gone PVC without a storage class).
// Its text names the values, not the flags or keys they came from.
var ErrSelection = errors.New("backup selection")

type selectionError struct{ msg string }

func (e *selectionError) Error() string        { return e.msg }
func (e *selectionError) Is(target error) bool { return target == ErrSelection }

// Select resolves the source PVC and the backup to restore into
// o.Source and o.Backup, through o.Kube and the EBS and EFS clients.
func Select(ctx context.Context, o *Options, sel Selection, ebs *snapshot.EBS, efs *snapshot.EFS) error {
	if sel.PVC == "" {
		return fromSnapshotTags(ctx, o, sel, ebs)
	}
	ns, name, err := snapshot.ParseRef(sel.PVC)
	if err != nil {
		return err
	}
	v, err := snapshot.Resolve(ctx, o.Kube, ns, name)
	if err != nil {
		if sel.SnapshotID != "" && errors.Is(err, snapshot.ErrNoClaim) {
			return fromSnapshotTags(ctx, o, sel, ebs)
		}
		return err
	}
	o.Source = v
	var arts []snapshot.Artifact
	switch v.Kind {
	case snapshot.KindEBS:
		if sel.RecoveryPoint != "" {
			return &selectionError{fmt.Sprintf("PVC %s is an EBS volume: restore a snapshot, not a recovery point", v.Ref())}
		}
		arts, err = ebs.List(ctx, v)
	case snapshot.KindEFS:
		if sel.SnapshotID != "" {
			return &selectionError{fmt.Sprintf("PVC %s is on EFS: restore a recovery point, not a snapshot", v.Ref())}
		}
		if efs.Account == "" {
			efs.Account = snapshot.AccountFromARN(sel.RecoveryPoint)
		}
		arts, err = efs.List(ctx, v)
	default:
		return fmt.Errorf("PVC %s is a %s volume: restore tests cover EBS and EFS (restore hostPath tars with archiver restore)", v.Ref(), v.Kind)
	}
	if err != nil {
		return err
	}
	switch id := sel.SnapshotID + sel.RecoveryPoint; id {
	case "":
		o.Backup, err = Latest(arts, ebs.Region)
	default:
		o.Backup, err = Find(arts, id)
	}
	return err
}

// fromSnapshotTags describes the source PVC from the tags archiver put
// on the snapshot.
func fromSnapshotTags(ctx context.Context, o *Options, sel Selection, ebs *snapshot.EBS) error {
	v, a, err := ebs.Describe(ctx, sel.SnapshotID)
	if err != nil {
		return fmt.Errorf("%w (the content manifest is found through the PVC: name it)", err)
	}
	if sel.StorageClass == "" {
		return &selectionError{fmt.Sprintf("the source PVC %s is gone: the restored PVC needs a storage class", v.Ref())}
	}
	o.Source = v
	o.Backup, err = Find([]snapshot.Artifact{a}, sel.SnapshotID)
	return err
}
