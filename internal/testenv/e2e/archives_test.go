package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// TestRestoreTestOfTheS3ArchivesOnARealNode: the S3 variant of the
// restore test on the real node. The primary's archives are shipped to a
// real MinIO with SSE-KMS; the verifier pod, our image run by kubelet,
// restores them into a generic ephemeral volume the real provisioner
// creates from the node's storage class and re-reads them there; the
// volume goes with the pod. An object replaced in the bucket fails the
// test, named.
//
// The drill is run through restoretest.Run with the options
// archiver restore-test --archives assembles (jobs.RestoreTestOptions);
// Options.Admit then plays the two mutating webhooks an EKS cluster has
// and this node lacks: Pod Identity's AWS credentials (static MinIO keys
// here) and host networking, since every connection a test makes stays on
// 127.0.0.1 where MinIO listens. archiver never sets Admit: production
// pods are as restoretest builds them.
func TestRestoreTestOfTheS3ArchivesOnARealNode(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	freshNamespace(t, n)
	startPrimary(t, n)
	volume := volumeDir(t, n, "pvc-data-sidecar")
	bucket := s3env.Bucket(t, false)
	dest := "s3://" + bucket + "/ss1"
	if r := cli(t, s3env.Environ(), "sync", "--source", volume, "--dest", dest, "--kms-key-id", s3env.KMSKey); r.code != 0 {
		t.Fatalf("sync: exit %d: %s", r.code, r.stderr)
	}
	m := checkShipped(t, s3env, bucket, "ss1", volume)
	shipped := len(manifest.Current(m.Entries))
	ctx := context.Background()
	drill := func() (*restoretest.Result, error) {
		t.Helper()
		o, err := jobs.RestoreTestOptions(ctx, jobs.RestoreTestSpec{Archives: true, Dest: dest, EndpointURL: s3env.Endpoint, Region: "us-east-1",
			Namespace: ns, Selection: restoretest.Selection{StorageClass: n.StorageClass}, Image: n.ArchiverImage,
			Timeout: 4 * time.Minute, Poll: time.Second},
			jobs.Clients{
				OpenReader: func(ctx context.Context, loc store.Location, o store.OpenOptions) (store.Reader, error) {
					o.Credentials = s3env.Credentials()
					return store.OpenReader(ctx, loc, o)
				},
				Kube: func() (*rest.Config, error) { return rest.CopyConfig(n.Config), nil },
			})
		if err != nil {
			t.Fatalf("options: %v", err)
		}
		o.Admit = func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			c := &p.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", Value: s3env.AccessKey},
				corev1.EnvVar{Name: "AWS_SECRET_ACCESS_KEY", Value: s3env.SecretKey}, corev1.EnvVar{Name: "AWS_EC2_METADATA_DISABLED", Value: "true"})
		}
		return restoretest.Run(ctx, o)
	}
	e := &snapshotEnv{n: n}
	res, err := drill()
	if err != nil || res.Status != "ok" || res.Check == nil {
		t.Fatalf("drill: %v %+v", err, res)
	}
	if res.Kind != restoretest.KindArchives || res.Check.Verified != shipped || res.Check.Expected != shipped || res.Check.Archives == 0 || res.Backup.RunID != m.RunID {
		t.Fatalf("result %+v check %+v, want all %d shipped files of run %s", res, res.Check, shipped, m.RunID)
	}
	t.Logf("S3 drill on the real node: %d files restored in %.1fs and verified in %.1fs, total %.1fs", res.Check.Verified, res.RestoreSec, res.VerifySec, res.TotalSec)
	// The pod and its ephemeral claim go; the CSI volume behind it too.
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
	eventually(t, 2*time.Minute, func() string {
		pvcs, err := n.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(pvcs.Items) != 2 {
			return fmt.Sprintf("claims (want the primary's 2): %v %d", err, len(pvcs.Items))
		}
		return ""
	})

	// Replace one archive in the bucket with other bytes: the restore in
	// the pod refuses it (SHA-256), the check names it.
	cl := s3env.Client(t)
	var victim string
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("ss1/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), ".zip") {
			victim = aws.ToString(o.Key)
			break
		}
	}
	if victim == "" {
		t.Fatal("no .zip archive in the bucket")
	}
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(victim), Body: strings.NewReader("not the archive"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(s3env.KMSKey)}); err != nil {
		t.Fatal(err)
	}
	res, err = drill()
	if !errors.Is(err, dircheck.ErrFailed) || res.Status != "failed" || res.Check == nil || len(res.Check.Problems) != 1 {
		t.Fatalf("altered object: %v %+v", err, res)
	}
	if p := res.Check.Problems[0]; !strings.HasSuffix(victim, p.Path) || !strings.Contains(res.Error, p.Path) {
		t.Fatalf("problem %+v, error %q, altered %s", p, res.Error, victim)
	}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}
