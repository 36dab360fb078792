//go:build live

package snapshot

// Opt-in end-to-end test against a real AWS account and cluster, so an
// operator can prove archiver on their own account:
//
//	ARCHIVER_LIVE_PVC=xroad/xroad-primary-data KUBECONFIG=~/.kube/config AWS_REGION=eu-north-1 \
//	  go test -tags live -run Live -v ./internal/snapshot
//
// It snapshots the (EBS-backed) claim, waits for completion, lists it and
// deletes that one snapshot again. Without ARCHIVER_LIVE_PVC it skips, and
// fails under ARCHIVER_TEST_DISALLOW_SKIP=1 like every other test (it is
// never part of make test: it needs the build tag).

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestLiveEBS(t *testing.T) {
	ref := os.Getenv("ARCHIVER_LIVE_PVC")
	if ref == "" {
		testenv.Skip(t, "set ARCHIVER_LIVE_PVC=NAMESPACE/NAME (and AWS and Kubernetes credentials) to run against real AWS")
	}
	ctx := context.Background()
	kcfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(kcfg)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api := ec2.NewFromConfig(cfg)
	run := "live-" + time.Now().UTC().Format("20060102T150405Z")
	res, err := Run(ctx, Options{Kube: kube, PVCs: []string{ref}, RunID: run, EBS: &EBS{API: api, Region: cfg.Region, Cluster: "archiver-live-test", Wait: Waiting{Timeout: time.Hour}}})
	if err != nil {
		t.Fatalf("%v: %+v", err, res)
	}
	a := res.Volumes[0].Artifacts[0]
	t.Logf("snapshot %s %s in %.0fs", a.ID, a.State, res.Volumes[0].DurationSec)
	defer api.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(a.ID)})
	vols, _ := List(ctx, Options{Kube: kube, PVCs: []string{ref}, EBS: &EBS{API: api, Region: cfg.Region}})
	found := false
	for _, x := range vols[0].Artifacts {
		found = found || x.ID == a.ID && x.RunID == run
	}
	if !found {
		t.Fatalf("snapshot %s not listed: %+v", a.ID, vols)
	}
}
