// Package doctor checks, before the first night, that what the
// configuration names is there and usable: the destination (listing,
// versioning, Object Lock, the abort-incomplete-uploads lifecycle rule and,
// when asked, an SSE-KMS round trip), the PVCs and their volume types, the
// lease rights and the restore-test namespace. It reports what it finds,
// one check at a time with a hint; it changes nothing, except the one
// probe object it writes when asked to.
package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
)

// Statuses of a check.
const (
	OK   = "ok"
	Warn = "warn" // works, but not as an operator would want it
	Fail = "fail" // the job that needs it will fail
)

// Check is one finding.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Report is every check, and the worst status among them.
type Report struct {
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
}

// S3API is the part of the S3 client the bucket checks use.
type S3API interface {
	GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	GetBucketLifecycleConfiguration(context.Context, *s3.GetBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Options say what to check; zero values skip a check.
type Options struct {
	Store    store.Store // the destination
	StoreErr error       // opening it failed (reported as the destination check)
	S3       S3API       // its bucket's client (nil for a local directory)
	Bucket   string
	WantLock bool // the configuration sets Object Lock on every object
	// Probe writes one small object under .archiver/doctor/ with the
	// configured key and reads it back (needs a writable Store).
	Probe bool

	Kube           kubernetes.Interface
	KubeErr        error    // connecting failed (reported as the kubernetes check)
	PVCs           []string // NAMESPACE/NAME to snapshot
	LeaseNamespace string   // where the run lock's Lease lives
	Scratch        string   // the restore-test namespace
	Now            func() time.Time
}

// Run runs the checks.
func Run(ctx context.Context, o Options) *Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Report{Checks: []Check{}}
	add := func(name, status, format string, a ...any) {
		r.Checks = append(r.Checks, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, a...)})
	}
	switch {
	case o.StoreErr != nil:
		add("destination", Fail, "%v", o.StoreErr)
	case o.Store != nil:
		o.destination(ctx, add)
	}
	switch {
	case o.KubeErr != nil:
		add("kubernetes", Fail, "%v", o.KubeErr)
	case o.Kube != nil:
		o.kubernetes(ctx, add)
	}
	r.Status = OK
	for _, c := range r.Checks {
		if c.Status == Fail || c.Status == Warn && r.Status == OK {
			r.Status = c.Status
		}
	}
	return r
}

type addFunc func(name, status, format string, a ...any)

func (o *Options) destination(ctx context.Context, add addFunc) {
	if err := o.Store.Check(ctx); err != nil {
		add("destination", Fail, "%s: %v", o.Store.URL(), err)
		return // nothing else can be checked
	}
	add("destination", OK, "%s is reachable and its prefix can be listed", o.Store.URL())
	if o.S3 != nil {
		o.bucket(ctx, add)
	}
	if o.Probe {
		o.probe(ctx, add)
	}
}

// denied turns an access error into the permission a check needs.
func denied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "Forbidden")
}

func (o *Options) bucket(ctx context.Context, add addFunc) {
	b := &o.Bucket
	v, err := o.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	switch {
	case denied(err):
		add("versioning", Warn, "cannot check: the role lacks s3:GetBucketVersioning (fine for running archiver)")
	case err != nil:
		add("versioning", Warn, "cannot check: %v", err)
	case v.Status != types.BucketVersioningStatusEnabled:
		add("versioning", Warn, "bucket %s has versioning %q: enable it, so an overwritten or deleted object can be recovered", o.Bucket, v.Status)
	default:
		add("versioning", OK, "enabled on bucket %s", o.Bucket)
	}

	l, err := o.S3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	hasLock := err == nil && l.ObjectLockConfiguration != nil && l.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled
	switch {
	case hasLock:
		add("object-lock", OK, "Object Lock is enabled on bucket %s", o.Bucket)
	case denied(err):
		st := Warn
		if o.WantLock {
			st = Fail // prune cannot prove retention either
		}
		add("object-lock", st, "cannot check: the role lacks s3:GetBucketObjectLockConfiguration")
	case o.WantLock:
		add("object-lock", Fail, "the configuration sets Object Lock, but bucket %s has none (it can only be enabled when the bucket is created, or by AWS support): every upload would fail", o.Bucket)
	default:
		add("object-lock", Warn, "bucket %s has no Object Lock: archives can be deleted by anyone with s3:DeleteObject; for legal evidence use a bucket with Object Lock and set sync.objectLock", o.Bucket)
	}

	lc, err := o.S3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	abort := false
	if err == nil {
		for _, rule := range lc.Rules {
			if rule.Status == types.ExpirationStatusEnabled && rule.AbortIncompleteMultipartUpload != nil {
				abort = true
			}
		}
	}
	switch {
	case abort:
		add("lifecycle", OK, "a lifecycle rule aborts incomplete multipart uploads")
	case denied(err):
		add("lifecycle", Warn, "cannot check: the role lacks s3:GetLifecycleConfiguration")
	default:
		add("lifecycle", Warn, "no enabled lifecycle rule with AbortIncompleteMultipartUpload on bucket %s: uploads of files that vanish before the next run stay billed (add one, e.g. 7 days)", o.Bucket)
	}
}

// probe writes a small object with the configured key and reads it back:
// the write needs kms:GenerateDataKey, the read kms:Decrypt.
func (o *Options) probe(ctx context.Context, add addFunc) {
	var rb [6]byte
	rand.Read(rb[:])
	key := ".archiver/doctor/" + o.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rb[:])
	body := []byte("archiver doctor probe\n")
	crc := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	if _, err := o.Store.Put(ctx, key, store.Payload{At: bytes.NewReader(body), Size: int64(len(body)), CRC32C: crc},
		store.Meta{Size: int64(len(body)), MTime: o.Now()}); err != nil {
		add("probe", Fail, "writing %s: %v", key, err)
		return
	}
	rc, obj, err := o.Store.Get(ctx, key)
	if err != nil {
		add("probe", Fail, "reading back %s: %v", key, err)
		return
	}
	got, err := io.ReadAll(io.LimitReader(rc, 1024))
	rc.Close()
	switch {
	case err != nil:
		add("probe", Fail, "reading back %s: %v", key, err)
	case !bytes.Equal(got, body):
		add("probe", Fail, "%s read back different bytes", key)
	case o.S3 != nil && obj.Encryption != string(types.ServerSideEncryptionAwsKms):
		add("probe", Fail, "%s is stored with encryption %q, not SSE-KMS", key, obj.Encryption)
	default:
		add("probe", OK, "wrote and read back %s (%s)", key, describeKey(obj))
	}
}

func describeKey(obj store.Object) string {
	if obj.KMSKeyID == "" {
		return "no server-side encryption: a local directory"
	}
	return "SSE-KMS with key " + store.Redact(obj.KMSKeyID)
}

func (o *Options) kubernetes(ctx context.Context, add addFunc) {
	for _, ref := range o.PVCs {
		ns, name, err := snapshot.ParseRef(ref)
		if err != nil {
			add("pvc "+ref, Fail, "%v", err)
			continue
		}
		v, err := snapshot.Resolve(ctx, o.Kube, ns, name)
		switch {
		case err != nil:
			add("pvc "+ref, Fail, "%v", err)
		default:
			add("pvc "+ref, OK, "bound to %s (%s%s%s)", v.PV, v.Kind, prefixed(" ", v.VolumeID), prefixed(" ", v.FileSystemID))
		}
	}
	if o.LeaseNamespace != "" {
		o.allowed(ctx, add, "lease", authorizationv1.ResourceAttributes{Namespace: o.LeaseNamespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
			"the run lock (a Lease in %s)", o.LeaseNamespace)
	}
	if o.Scratch != "" {
		nsObj, err := o.Kube.CoreV1().Namespaces().Get(ctx, o.Scratch, metav1.GetOptions{})
		switch {
		case err != nil:
			add("scratch namespace", Fail, "%s: %v (apply deploy/restore-test.yaml)", o.Scratch, err)
		case nsObj.Labels["pod-security.kubernetes.io/enforce"] != "restricted":
			add("scratch namespace", Warn, "%s does not enforce Pod Security \"restricted\": the verifier pods would run, but nothing stops other pods there", o.Scratch)
		default:
			add("scratch namespace", OK, "%s exists and enforces Pod Security \"restricted\"", o.Scratch)
		}
	}
}

// allowed asks the API server whether this identity may do ra.
func (o *Options) allowed(ctx context.Context, add addFunc, name string, ra authorizationv1.ResourceAttributes, what string, a ...any) {
	r, err := o.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
		&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}}, metav1.CreateOptions{})
	desc := fmt.Sprintf(what, a...)
	switch {
	case err != nil:
		add(name, Warn, "cannot check %s: %v", desc, err)
	case !r.Status.Allowed:
		add(name, Fail, "this identity may not %s %s in %q: %s (apply deploy/rbac.yaml)", ra.Verb, ra.Resource, ra.Namespace, desc)
	default:
		add(name, OK, "this identity may %s %s: %s", ra.Verb, ra.Resource, desc)
	}
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
