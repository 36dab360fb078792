package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestFileLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archiver.lock")
	a, err := AcquireFile(p, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireFile(p, "run-b"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "run-a") {
		t.Fatalf("second acquire = %v, want ErrLocked naming run-a", err)
	}
	a.Release(context.Background())
	b, err := AcquireFile(p, "run-b")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release(context.Background())
}

// TestFileLockOfADeadHolderIsFree kills a process holding the lock.
func TestFileLockOfADeadHolderIsFree(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archiver.lock")
	cmd := exec.Command("flock", "--exclusive", "--close", p, "sleep", "60")
	if err := cmd.Start(); err != nil {
		testenv.Skip(t, "flock(1) not available: "+err.Error())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := AcquireFile(p, "probe")
		if errors.Is(err, ErrLocked) {
			break
		}
		if err == nil {
			l.Release(context.Background())
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// flock(1) forks its command, whose copy of the descriptor lives until
	// it closes it (--close) a moment later.
	var l *File
	var err error
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if l, err = AcquireFile(p, "after-death"); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Fatalf("lock of a killed holder: %v", err)
	}
	l.Release(context.Background())
	_ = os.Remove(p)
}

func TestLease(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	a, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-a", Duration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-b", Duration: 30 * time.Second}); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pod-a") {
		t.Fatalf("second = %v, want ErrLocked naming pod-a", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-b", Duration: 30 * time.Second})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	// pod-b dies without releasing; a minute later its lease is stale.
	b.cancel()
	<-b.done
	later := func() time.Time { return time.Now().Add(time.Minute) }
	c, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-c", Duration: 30 * time.Second, Now: later})
	if err != nil {
		t.Fatalf("stale lease not taken over: %v", err)
	}
	c.Release(ctx)
}

func TestLeaseRenews(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	a, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-a", Duration: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	// Longer than the duration: only renewal keeps it. Renewals come every
	// 2 s, so two may be slow (a loaded etcd) without losing it.
	time.Sleep(7 * time.Second)
	if _, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-b", Duration: 6 * time.Second}); !errors.Is(err, ErrLocked) {
		t.Fatalf("a renewed lease was taken: %v", err)
	}
	if err := a.Err(); err != nil {
		t.Fatalf("renewal failed: %v", err)
	}
}

func TestLeaseTakenOverIsReportedLost(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	a, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "pod-a", Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	// Someone else writes themselves into the Lease (an operator, or an
	// archiver that saw it expire during a long API outage).
	cur, err := k.Client.CoordinationV1().Leases(ns).Get(ctx, "archiver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := "pod-b"
	cur.Spec.HolderIdentity = &other
	if _, err := k.Client.CoordinationV1().Leases(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("a lease taken over was not reported lost")
	}
	if err := a.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "taken by pod-b") {
		t.Fatalf("Err() = %v", err)
	}
	// Release leaves the new holder alone.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := k.Client.CoordinationV1().Leases(ns).Get(ctx, "archiver", metav1.GetOptions{}); *cur.Spec.HolderIdentity != "pod-b" {
		t.Fatalf("holder after release: %s", *cur.Spec.HolderIdentity)
	}
}

func TestLeaseOfADeadPodOfTheSameRunIsTakenBack(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	// The Job's first pod holds the lease and is OOM-killed: it neither
	// renews nor releases. Its retry (a new pod, the same run id) takes it
	// back at once; another run still has to wait.
	a, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "snap-x1/job-7-uid", Run: "job-7-uid", Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a.cancel()
	<-a.done
	if _, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "sync-y1/run-8", Run: "run-8", Duration: time.Minute}); !errors.Is(err, ErrLocked) {
		t.Fatalf("another run took a live lease: %v", err)
	}
	b, err := AcquireLease(ctx, k.Client, LeaseOptions{Namespace: ns, Name: "archiver", Holder: "snap-x2/job-7-uid", Run: "job-7-uid", Duration: time.Minute})
	if err != nil {
		t.Fatalf("the retry of the same run: %v", err)
	}
	b.Release(ctx)
}
