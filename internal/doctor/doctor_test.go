package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func statuses(r *Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.Name] = c.Status
	}
	return m
}

func TestBucketChecksOnMinIO(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	client := env.Client(t)

	t.Run("plain bucket", func(t *testing.T) {
		bucket := env.Bucket(t, false)
		st := storetest.NewS3(t, env, bucket, nil)
		r := Run(ctx, Options{Store: st, S3: client, Bucket: bucket, Prefix: "xroad/ss1", OpenProbe: func() (store.Store, error) { return st, nil }})
		got := statuses(r)
		want := map[string]string{"destination": OK, "versioning": Warn, "object-lock": Warn, "lifecycle": Warn, "probe": OK}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q (%+v)", k, got[k], v, r.Checks)
			}
		}
		if r.Status != Warn {
			t.Errorf("status %s", r.Status)
		}
		// The probe is the only thing doctor wrote.
		l, _ := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		if len(l.Contents) != 1 || !strings.Contains(aws.ToString(l.Contents[0].Key), ".archiver/doctor/") {
			t.Errorf("objects after doctor: %+v", l.Contents)
		}
	})

	t.Run("without --probe nothing is written", func(t *testing.T) {
		bucket := env.Bucket(t, false)
		Run(ctx, Options{Store: storetest.NewS3(t, env, bucket, nil), S3: client, Bucket: bucket})
		if l, _ := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket}); len(l.Contents) != 0 {
			t.Errorf("doctor wrote %d objects", len(l.Contents))
		}
	})

	t.Run("object lock bucket", func(t *testing.T) {
		bucket := env.Bucket(t, true)
		if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &bucket,
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("abort"), Status: types.ExpirationStatusEnabled,
				Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(3650)}}}}}); err != nil {
			t.Fatal(err)
		}
		// MinIO keeps the expiration but drops AbortIncompleteMultipartUpload:
		// a lifecycle rule that does not abort uploads does not count.
		r := Run(ctx, Options{Store: storetest.NewS3(t, env, bucket, nil), S3: client, Bucket: bucket, WantLock: true})
		if got := statuses(r); got["object-lock"] != OK || got["versioning"] != OK || got["lifecycle"] != Warn || r.Status != Warn {
			t.Errorf("%+v", r.Checks)
		}
	})

	t.Run("lock wanted on a bucket without it", func(t *testing.T) {
		bucket := env.Bucket(t, false)
		r := Run(ctx, Options{Store: storetest.NewS3(t, env, bucket, nil), S3: client, Bucket: bucket, WantLock: true})
		if statuses(r)["object-lock"] != Fail || r.Status != Fail {
			t.Errorf("%+v", r.Checks)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		st := storetest.NewS3(t, env, "no-such-bucket-doctor", nil)
		r := Run(ctx, Options{Store: st, S3: client, Bucket: "no-such-bucket-doctor", OpenProbe: func() (store.Store, error) { return st, nil }})
		if len(r.Checks) != 1 || r.Checks[0].Status != Fail || !strings.Contains(r.Checks[0].Detail, "no-such-bucket-doctor") {
			t.Errorf("%+v", r.Checks)
		}
	})

	t.Run("unknown KMS key", func(t *testing.T) {
		bucket := env.Bucket(t, false)
		s := storetest.NewS3(t, env, bucket, func(o *store.S3Options) { o.KMSKeyID = "no-such-key" })
		r := Run(ctx, Options{Store: s, S3: client, Bucket: bucket, OpenProbe: func() (store.Store, error) { return s, nil }})
		if got := statuses(r); got["probe"] != Fail || r.Status != Fail {
			t.Errorf("%+v", r.Checks)
		}
	})
}

func TestKubernetesChecks(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	k.BoundClaim(t, ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "doctor-" + ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0123456789abcdef0"}}}})
	r := Run(ctx, Options{Kube: k.Client, PVCs: []string{ns + "/data", ns + "/missing", "no-namespace"}, LeaseNamespace: ns, Scratch: ns})
	got := statuses(r)
	want := map[string]string{"pvc " + ns + "/data": OK, "pvc " + ns + "/missing": Fail, "pvc no-namespace": Fail, "lease": OK, "scratch namespace": Warn}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s = %q, want %q", name, got[name], st)
		}
	}
	for _, c := range r.Checks {
		if c.Name == "pvc "+ns+"/data" && !strings.Contains(c.Detail, "vol-0123456789abcdef0") {
			t.Errorf("the bound volume is not named: %s", c.Detail)
		}
	}
	// A namespace that enforces restricted is fine; one that is missing fails.
	nsObj, _ := k.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := k.Client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(Run(ctx, Options{Kube: k.Client, Scratch: ns})); got["scratch namespace"] != OK {
		t.Errorf("restricted namespace: %v", got)
	}
	if got := statuses(Run(ctx, Options{Kube: k.Client, Scratch: "no-such-namespace-doctor"})); got["scratch namespace"] != Fail {
		t.Errorf("missing namespace: %v", got)
	}
	// An identity without the lease rights is told so.
	if _, err := k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// It may update leases but not get or create them: the lock would fail.
	if _, err := k.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "update-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"update"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "update-only"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "update-only"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "nobody", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := k.ServiceAccountConfig(t, ns, "nobody")
	testenv.WaitAllowed(t, cfg, authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"})
	r = Run(ctx, Options{Kube: kubernetes.NewForConfigOrDie(cfg), LeaseNamespace: ns, Scratch: ns})
	got = statuses(r)
	if got["lease"] != Fail || r.Status != Fail {
		t.Errorf("update-only rights: %+v", r.Checks)
	}
	for _, c := range r.Checks {
		if c.Name == "lease" && !strings.Contains(c.Detail, "get, create") {
			t.Errorf("the missing verbs are not named: %s", c.Detail)
		}
	}
	// It may not read namespaces: that is "cannot check", not a failure.
	if got["scratch namespace"] != Warn {
		t.Errorf("scratch namespace without read rights: %+v", r.Checks)
	}
}

func TestLifecycleRuleMustCoverTheDestination(t *testing.T) {
	rule := func(f *types.LifecycleRuleFilter) types.LifecycleRule { return types.LifecycleRule{Filter: f} }
	tests := []struct {
		name   string
		rule   types.LifecycleRule
		prefix string
		want   bool
	}{
		{"whole bucket", rule(&types.LifecycleRuleFilter{Prefix: aws.String("")}), "xroad/ss1", true},
		{"no filter", types.LifecycleRule{}, "xroad/ss1", true},
		{"parent prefix", rule(&types.LifecycleRuleFilter{Prefix: aws.String("xroad/")}), "xroad/ss1", true},
		{"exactly the prefix", rule(&types.LifecycleRuleFilter{Prefix: aws.String("xroad/ss1/")}), "xroad/ss1", true},
		{"another prefix", rule(&types.LifecycleRuleFilter{Prefix: aws.String("logs/")}), "xroad/ss1", false},
		{"narrower prefix", rule(&types.LifecycleRuleFilter{Prefix: aws.String("xroad/ss1/backup/")}), "xroad/ss1", false},
		{"tag filter", rule(&types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("k"), Value: aws.String("v")}}), "xroad/ss1", false},
		{"and with prefix", rule(&types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("xroad")}}), "xroad/ss1", true},
		//lint:ignore SA1019 old buckets still return rules with the deprecated Prefix
		{"legacy prefix", types.LifecycleRule{Prefix: aws.String("other/")}, "xroad/ss1", false},
	}
	for _, tc := range tests {
		if got := covers(tc.rule, tc.prefix); got != tc.want {
			t.Errorf("%s: covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
