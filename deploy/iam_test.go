package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/restore"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/verify"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// s3Policy returns the S3 statements of iam-policy.json for bucket and
// prefix, with the KMS key placeholder replaced by kmsKey: what MinIO's
// policy engine can evaluate (it knows no EC2, Backup or CloudWatch).
func s3Policy(t *testing.T, bucket, prefix, kmsKey string) string {
	t.Helper()
	b, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"), []byte(kmsKey))
	b = bytes.ReplaceAll(b, []byte("BUCKET"), []byte(bucket))
	b = bytes.ReplaceAll(b, []byte("PREFIX"), []byte(prefix))
	// MinIO has no ...IfExists operators. Its StringNotEquals also holds
	// when the key is absent, so the Deny statements keep their meaning
	// for the single-part uploads of this test (UploadPart, which carries
	// no encryption header, is why AWS needs IfExists).
	b = bytes.ReplaceAll(b, []byte("StringNotEqualsIfExists"), []byte("StringNotEquals"))
	var p struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	var keep []map[string]any
	for _, s := range p.Statement {
		actions, _ := s["Action"].([]any)
		if a, ok := s["Action"].(string); ok {
			actions = []any{a}
		}
		all := len(actions) > 0
		for _, a := range actions {
			all = all && strings.HasPrefix(a.(string), "s3:")
		}
		if all {
			keep = append(keep, s)
		}
	}
	p.Statement = keep
	out, _ := json.Marshal(p)
	return string(out)
}

// assumeRole returns credentials limited to policy (an STS session policy
// on MinIO's root user, whose own policy allows everything).
func assumeRole(t *testing.T, env testenv.S3Env, policy string) aws.CredentialsProvider {
	t.Helper()
	c := sts.New(sts.Options{Region: "us-east-1", Credentials: env.Credentials(), BaseEndpoint: aws.String(env.Endpoint)})
	out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/archiver"),
		RoleSessionName: aws.String("archiver"), Policy: aws.String(policy)})
	if err != nil {
		t.Fatalf("assume role with the shipped policy: %v", err)
	}
	cr := out.Credentials
	return credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
}

// TestIAMPolicyLetsArchiverWorkAndNoMore runs sync (with prune), verify
// and restore as the shipped policy allows, on a real policy engine: a
// missing permission (listing only the prefix breaks HeadBucket; reading
// Object Lock retention needs s3:GetObjectRetention) fails here, not on
// the first night in production.
func TestIAMPolicyLetsArchiverWorkAndNoMore(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	for _, lock := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "object-lock"}[lock], func(t *testing.T) {
			bucket := env.Bucket(t, lock)
			o := env.ClientOptions()
			o.Credentials = assumeRole(t, env, s3Policy(t, bucket, "xroad", env.KMSKey))
			c, err := store.NewS3Client(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			so := store.S3Options{Bucket: bucket, Prefix: "xroad", KMSKeyID: env.KMSKey}
			prune := s3sync.PruneOptions{MinAge: time.Nanosecond, Encrypted: true}
			if lock {
				so.LockMode, so.LockRetention, prune.LockMode = "GOVERNANCE", time.Hour, "GOVERNANCE"
			}
			s, err := store.NewS3(c, so)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "xroad")
			files, err := xroadgen.Generate(xroadgen.Demo(dir))
			if err != nil {
				t.Fatal(err)
			}
			res, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1", Prune: prune, BackupQuiet: time.Nanosecond})
			if err != nil {
				t.Fatalf("sync as the policy allows: %v %+v", err, res.Failed)
			}
			if res.Uploaded.Files == 0 || res.Pruned.Files == 0 {
				t.Fatalf("uploaded %+v, pruned %+v (of %d files)", res.Uploaded, res.Pruned, len(files))
			}
			rep, err := verify.Run(ctx, verify.Options{Store: s, RequireEncryption: true})
			if err != nil || rep.Status != "verified" {
				t.Fatalf("verify as the policy allows: %v", err)
			}
			rres, err := restore.Run(ctx, restore.Options{Store: s, To: t.TempDir()})
			if err != nil || rres.Restored.Files != res.Uploaded.Files {
				t.Fatalf("restore as the policy allows: %v (%+v)", err, rres)
			}

			// doctor can read the bucket settings it reports on, and its
			// probe round-trips through the key.
			dr := doctor.Run(ctx, doctor.Options{Store: s, S3: c, Bucket: bucket, Prefix: "xroad", WantLock: lock, OpenProbe: func() (store.Store, error) { return s, nil }})
			for _, ch := range dr.Checks {
				if ch.Status == doctor.Fail || strings.Contains(ch.Detail, "cannot check") {
					t.Errorf("doctor as the policy allows: %s %s: %s", ch.Name, ch.Status, ch.Detail)
				}
			}

			// No more: another prefix, and an upload without SSE-KMS.
			other, _ := store.NewS3(c, store.S3Options{Bucket: bucket, Prefix: "other", KMSKeyID: env.KMSKey})
			if err := other.Check(ctx); !errors.Is(err, store.ErrAccessDenied) {
				t.Errorf("listing another prefix = %v, want access denied", err)
			}
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("xroad/plain"), Body: strings.NewReader("x")})
			if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
				t.Errorf("an upload without SSE-KMS = %v, want AccessDenied", err)
			}
		})
	}
}

type policyDoc struct {
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func readPolicy(t *testing.T, path string) policyDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p policyDoc
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, s := range x {
			out = append(out, s.(string))
		}
		return out
	}
	return nil
}

// TestIAMPoliciesSplitAndGrantSemantics: kms:GrantIsForAWSResource is
// present only on grant requests, so it may condition kms:CreateGrant
// alone (on Decrypt it would deny every DR copy); both the source volumes'
// key and the DR key are covered; deleting recovery points is limited to
// archiver's; alarms are the operator role's, not the runtime's; the
// trust policies name both ServiceAccounts (IRSA) or EKS Pod Identity.
func TestIAMPoliciesSplitAndGrantSemantics(t *testing.T) {
	runtime := readPolicy(t, "iam-policy.json")
	keys := map[string]bool{}
	for _, s := range runtime.Statement {
		acts := list(s.Action)
		for op, kv := range s.Condition {
			if _, ok := kv["kms:GrantIsForAWSResource"]; ok && (len(acts) != 1 || acts[0] != "kms:CreateGrant" || op != "Bool") {
				t.Errorf("%s: kms:GrantIsForAWSResource on %v: only grant requests carry it", s.Sid, acts)
			}
		}
		for _, a := range acts {
			if strings.HasPrefix(a, "cloudwatch:") && a != "cloudwatch:PutMetricData" || strings.HasPrefix(a, "sns:") || strings.HasPrefix(a, "cloudformation:") {
				t.Errorf("%s: %s belongs to the operator role, not the runtime role", s.Sid, a)
			}
			if a == "backup:DeleteRecoveryPoint" && (list(s.Resource)[0] == "*" || s.Condition["StringEquals"]["aws:ResourceTag/archiver:managed-by"] != "archiver") {
				t.Errorf("%s: DeleteRecoveryPoint on %v without archiver's tag", s.Sid, s.Resource)
			}
			if a == "kms:Decrypt" || a == "kms:CreateGrant" {
				for _, r := range list(s.Resource) {
					keys[a+" "+r] = true
				}
			}
		}
	}
	for _, k := range []string{"EBS-KEY-ID", "DR-KEY-ID"} {
		for _, a := range []string{"kms:Decrypt", "kms:CreateGrant"} {
			if !keys[a+" arn:aws:kms:"+map[string]string{"EBS-KEY-ID": "REGION", "DR-KEY-ID": "DR-REGION"}[k]+":ACCOUNT:key/"+k] {
				t.Errorf("no %s on %s", a, k)
			}
		}
	}
	op := readPolicy(t, "iam-operator-policy.json")
	var opActs []string
	for _, s := range op.Statement {
		opActs = append(opActs, list(s.Action)...)
	}
	if a := strings.Join(opActs, " "); !strings.Contains(a, "cloudwatch:PutMetricAlarm") || !strings.Contains(a, "sns:CreateTopic") || !strings.Contains(a, "sns:Subscribe") {
		t.Errorf("operator policy %v", opActs)
	}
	s := settings(t, "settings.env")
	irsa := readPolicy(t, "iam-trust-irsa.json").Statement[0]
	b, _ := json.Marshal(irsa.Condition)
	for _, sa := range []string{"archiver", "archiver-restore-test"} {
		if !strings.Contains(string(b), "system:serviceaccount:"+s["ARCHIVER_NAMESPACE"]+":"+sa) {
			t.Errorf("IRSA trust does not name %s in %s: %s", sa, s["ARCHIVER_NAMESPACE"], b)
		}
	}
	if list(irsa.Action)[0] != "sts:AssumeRoleWithWebIdentity" || !strings.Contains(string(b), `:aud":"sts.amazonaws.com"`) {
		t.Errorf("IRSA trust %+v", irsa)
	}
	pid := readPolicy(t, "iam-trust-pod-identity.json").Statement[0]
	if pid.Principal["Service"] != "pods.eks.amazonaws.com" || strings.Join(list(pid.Action), ",") != "sts:AssumeRole,sts:TagSession" {
		t.Errorf("Pod Identity trust %+v", pid)
	}
}

// TestSampleRegionsAgree: the sample key, alarm topic and AWS_REGION are
// in one region.
func TestSampleRegionsAgree(t *testing.T) {
	s := settings(t, "settings.env")
	setEnv(t, s)
	for _, o := range testenv.Objects(t, "configmap.yaml") {
		data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
		c, err := config.Parse(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, arn := range append([]string{c.Sync.KMSKeyID}, c.Alarms.Actions...) {
			if parts := strings.Split(arn, ":"); len(parts) < 4 || parts[3] != s["AWS_REGION"] {
				t.Errorf("%s is not in AWS_REGION %s", arn, s["AWS_REGION"])
			}
		}
	}
	if !strings.Contains(s["ARCHIVER_IMAGE"], ".ecr."+s["AWS_REGION"]+".") {
		t.Errorf("image %s is not in %s", s["ARCHIVER_IMAGE"], s["AWS_REGION"])
	}
}
