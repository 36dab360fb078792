package snapshot

import (
	"sort"
	"time"
)

// Tags archiver puts on every snapshot, copy and recovery point it
// creates. Retention and reruns act only on resources carrying them.
const (
	TagManagedBy = "archiver:managed-by"
	ManagedBy    = "archiver"
	TagRunID     = "archiver:run-id"
	TagCluster   = "archiver:cluster"
	TagNamespace = "archiver:namespace"
	TagPVC       = "archiver:pvc"
	TagPV        = "archiver:pv"
	TagSource    = "archiver:source-snapshot" // on disaster-recovery copies
	TagManifest  = "archiver:manifest"        // key of the content manifest
)

// tagsFor returns the tags of a backup of v in run runID.
func tagsFor(v Volume, cluster, runID, manifestKey string) map[string]string {
	t := map[string]string{TagManagedBy: ManagedBy, TagRunID: runID, TagNamespace: v.Namespace, TagPVC: v.PVC, TagPV: v.PV}
	if cluster != "" {
		t[TagCluster] = cluster
	}
	if manifestKey != "" {
		t[TagManifest] = manifestKey
	}
	return t
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Artifact is one backup archiver made or found: an EBS snapshot (or its
// disaster-recovery copy), an AWS Backup recovery point, or a tar in the
// destination store.
type Artifact struct {
	Kind      string     `json:"kind"` // ebs-snapshot, ebs-copy, recovery-point, tar
	ID        string     `json:"id"`
	Region    string     `json:"region,omitempty"`
	State     string     `json:"state"`
	Message   string     `json:"message,omitempty"`
	SizeBytes int64      `json:"size_bytes,omitempty"`
	Started   time.Time  `json:"started"`
	RunID     string     `json:"run_id,omitempty"`
	Reused    bool       `json:"reused,omitempty"` // found from an earlier attempt of the same run
	Copies    []Artifact `json:"copies,omitempty"`
}

// Completed reports whether the backup finished: EC2 says "completed",
// AWS Backup "COMPLETED".
func (a Artifact) Completed() bool { return a.State == "completed" || a.State == "COMPLETED" }
