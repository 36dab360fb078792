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
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	Store    store.Reader // the destination, opened to read
	StoreErr error        // opening it failed (reported as the destination check)
	S3       S3API        // its bucket's client (nil for a local directory)
	S3Err    error        // building that client failed (the bucket checks cannot run)
	Bucket   string
	Prefix   string // the destination's key prefix in Bucket
	WantLock bool   // the configuration sets Object Lock on every object
	// OpenProbe, when set, opens the destination for writing: one small
	// object is written under .archiver/doctor/ with the configured key and
	// read back. It is called only after the destination check passed on
	// Store, so a mistyped destination is never created.
	OpenProbe func() (store.Store, error)

	Kube           kubernetes.Interface
	KubeErr        error    // connecting failed (reported as the kubernetes check)
	PVCs           []string // NAMESPACE/NAME to snapshot
	LeaseNamespace string   // where the run lock's Lease lives
	// PrimarySelector (key=value,...), when set, finds the X-Road primary
	// pod in each claim's namespace: it must mount every claim, and a
	// claim in Mounts at that path.
	PrimarySelector string
	Mounts          map[string]string // NAMESPACE/NAME -> path X-Road writes it at
	Scratch         string            // the restore-test namespace
	Now             func() time.Time
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
	switch {
	case o.S3Err != nil:
		add("bucket settings", Warn, "cannot check: %v", o.S3Err)
	case o.S3 != nil:
		o.bucket(ctx, add)
	}
	if o.OpenProbe != nil {
		w, err := o.OpenProbe()
		if err != nil {
			add("probe", Fail, "open the destination for writing: %v", err)
			return
		}
		o.probe(ctx, w, add)
	}
}

// denied reports an access error (the role lacks the permission).
func denied(err error) bool { return store.IsCode(err, "AccessDenied", "Forbidden") }

func (o *Options) bucket(ctx context.Context, add addFunc) {
	b := &o.Bucket
	v, err := o.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	switch {
	case denied(err):
		add("versioning", Warn, "cannot check: the role lacks s3:GetBucketVersioning (fine for running archiver)")
	case err != nil:
		add("versioning", Warn, "cannot check: %v", err)
	case v.Status != types.BucketVersioningStatusEnabled:
		state := string(v.Status)
		if state == "" {
			state = "never enabled"
		}
		add("versioning", Warn, "bucket %s: versioning %s; enable it, so an overwritten or deleted object can be recovered", o.Bucket, state)
	default:
		add("versioning", OK, "enabled on bucket %s", o.Bucket)
	}

	l, err := o.S3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	none := store.IsCode(err, "ObjectLockConfigurationNotFoundError") ||
		err == nil && (l.ObjectLockConfiguration == nil || l.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled)
	switch {
	case err == nil && !none:
		add("object-lock", OK, "Object Lock is enabled on bucket %s", o.Bucket)
	case denied(err):
		add("object-lock", Warn, "cannot check: the role lacks s3:GetBucketObjectLockConfiguration (fine for running archiver)")
	case !none:
		add("object-lock", Warn, "cannot check: %v", err)
	case o.WantLock:
		add("object-lock", Fail, "the configuration sets Object Lock, but bucket %s has none (it can only be enabled when the bucket is created, or by AWS support): every upload would fail", o.Bucket)
	default:
		add("object-lock", Warn, "bucket %s has no Object Lock: archives can be deleted by anyone with s3:DeleteObject; for legal evidence use a bucket with Object Lock and set sync.objectLock", o.Bucket)
	}

	lc, err := o.S3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	abort := false
	if err == nil {
		for _, rule := range lc.Rules {
			if rule.Status == types.ExpirationStatusEnabled && rule.AbortIncompleteMultipartUpload != nil && covers(rule, o.Prefix) {
				abort = true
			}
		}
	}
	switch {
	case abort:
		add("lifecycle", OK, "a lifecycle rule aborts incomplete multipart uploads under the destination")
	case denied(err):
		add("lifecycle", Warn, "cannot check: the role lacks s3:GetLifecycleConfiguration")
	case err != nil && !store.IsCode(err, "NoSuchLifecycleConfiguration"):
		add("lifecycle", Warn, "cannot check: %v", err)
	default:
		add("lifecycle", Warn, "no enabled lifecycle rule with AbortIncompleteMultipartUpload covers %s/%s: uploads of files that vanish before the next run stay billed (add one, e.g. 7 days)", o.Bucket, o.Prefix)
	}
}

// covers reports whether rule applies to every key under prefix (its
// filter prefix, if any, is a prefix of it; tag filters are not).
func covers(rule types.LifecycleRule, prefix string) bool {
	//lint:ignore SA1019 buckets configured before Filter existed still return rules with Prefix
	p := aws.ToString(rule.Prefix)
	if f := rule.Filter; f != nil {
		if f.Tag != nil || f.ObjectSizeGreaterThan != nil || f.ObjectSizeLessThan != nil {
			return false
		}
		p = aws.ToString(f.Prefix)
		if a := f.And; a != nil {
			if len(a.Tags) > 0 || a.ObjectSizeGreaterThan != nil || a.ObjectSizeLessThan != nil {
				return false
			}
			p = aws.ToString(a.Prefix)
		}
	}
	return strings.HasPrefix(prefix, p) || strings.HasPrefix(prefix+"/", p)
}

// probe writes a small object with the configured key and reads it back:
// the write needs kms:GenerateDataKey, the read kms:Decrypt.
func (o *Options) probe(ctx context.Context, w store.Store, add addFunc) {
	var rb [6]byte
	rand.Read(rb[:])
	key := ".archiver/doctor/" + o.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rb[:])
	body := []byte("archiver doctor probe\n")
	crc := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	if _, err := w.Put(ctx, key, store.Payload{At: bytes.NewReader(body), Size: int64(len(body)), CRC32C: crc},
		store.Meta{Size: int64(len(body)), MTime: o.Now()}); err != nil {
		add("probe", Fail, "writing %s: %v", key, err)
		return
	}
	rc, obj, err := w.Get(ctx, key)
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
	if o.PrimarySelector != "" && len(o.PVCs) > 0 {
		o.primaryMounts(ctx, add)
	}
	if o.LeaseNamespace != "" {
		o.leaseRights(ctx, add)
	}
	if o.Scratch != "" {
		nsObj, err := o.Kube.CoreV1().Namespaces().Get(ctx, o.Scratch, metav1.GetOptions{})
		switch {
		case apierrors.IsForbidden(err):
			add("scratch namespace", Warn, "cannot check %s: this identity may not read namespaces (fine for running archiver)", o.Scratch)
		case err != nil:
			add("scratch namespace", Fail, "%s: %v (apply deploy/restore-test.yaml)", o.Scratch, err)
		case nsObj.Labels["pod-security.kubernetes.io/enforce"] != "restricted":
			add("scratch namespace", Warn, "%s does not enforce Pod Security \"restricted\": the verifier pods would run, but nothing stops other pods there", o.Scratch)
		default:
			add("scratch namespace", OK, "%s exists and enforces Pod Security \"restricted\"", o.Scratch)
		}
	}
}

// leaseRights asks the API server whether this identity may get, create
// and update the run lock's Lease: the lock needs all three.
func (o *Options) leaseRights(ctx context.Context, add addFunc) {
	var missing []string
	for _, verb := range []string{"get", "create", "update"} {
		ra := authorizationv1.ResourceAttributes{Namespace: o.LeaseNamespace, Verb: verb, Group: "coordination.k8s.io", Resource: "leases"}
		r, err := o.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}}, metav1.CreateOptions{})
		if err != nil {
			add("lease", Warn, "cannot check the run lock's rights in %s: %v", o.LeaseNamespace, err)
			return
		}
		if !r.Status.Allowed {
			missing = append(missing, verb)
		}
	}
	if len(missing) > 0 {
		add("lease", Fail, "this identity may not %s leases in %s, which the run lock needs (apply deploy/rbac.yaml)", strings.Join(missing, ", "), o.LeaseNamespace)
		return
	}
	add("lease", OK, "this identity may get, create and update the run lock's Lease in %s", o.LeaseNamespace)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
