package lock

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultDuration: a holder that stops renewing loses a Lease (or an
// archiver run lock) after this long.
const DefaultDuration = 2 * time.Minute

// Lease is a lock held as a coordination.k8s.io/v1 Lease, renewed in the
// background while held.
type Lease struct {
	kube     kubernetes.Interface
	ns, name string
	holder   string
	duration time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
	lostCh   chan struct{} // closed when the lease is lost
	mu       sync.Mutex
	lost     error
	released bool
}

// LeaseOptions name the Lease and its holder.
type LeaseOptions struct {
	Namespace, Name string
	Holder          string // pod name and run id
	// Run, when set, lets this run take over a lease whose holder names
	// the same run ("<pod>/<run>"): a Job's retried pod after its first
	// pod was OOM-killed, which can no longer renew or release it.
	Run      string
	Duration time.Duration // a holder that stops renewing loses it after this; default 2m
	Now      func() time.Time
}

// AcquireLease takes the Lease, creating it if needed, or taking it over
// when its holder stopped renewing for longer than its duration. Updates
// use the Lease's resourceVersion, so two archivers racing for an expired
// lease cannot both win.
func AcquireLease(ctx context.Context, kube kubernetes.Interface, o LeaseOptions) (*Lease, error) {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	leases := kube.CoordinationV1().Leases(o.Namespace)
	now := metav1.NewMicroTime(o.Now())
	secs := int32(o.Duration / time.Second)
	spec := coordinationv1.LeaseSpec{HolderIdentity: &o.Holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}
	cur, err := leases.Get(ctx, o.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "archiver"}}, Spec: spec}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("lease %s/%s: %w (taken while acquiring)", o.Namespace, o.Name, ErrLocked)
		}
	case err != nil:
	default:
		sameRun := func(h string) bool { return o.Run != "" && strings.HasSuffix(h, "/"+o.Run) }
		if h := cur.Spec.HolderIdentity; h != nil && *h != "" && *h != o.Holder && !sameRun(*h) && !expired(cur, o.Now()) {
			return nil, fmt.Errorf("lease %s/%s: %w %s (renewed %s, expires after %ds without renewal)", o.Namespace, o.Name, ErrLocked, *h,
				cur.Spec.RenewTime.UTC().Format(time.RFC3339), deref(cur.Spec.LeaseDurationSeconds))
		}
		cur.Spec = spec
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return nil, fmt.Errorf("lease %s/%s: %w (taken while acquiring)", o.Namespace, o.Name, ErrLocked)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s/%s: %w", o.Namespace, o.Name, err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	l := &Lease{kube: kube, ns: o.Namespace, name: o.Name, holder: o.Holder, duration: o.Duration, cancel: cancel, done: make(chan struct{}), lostCh: make(chan struct{})}
	go l.renew(rctx, o.Now)
	return l, nil
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func expired(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// renew refreshes the lease every third of its duration, each attempt
// bounded by a third of it. The lease is lost when another holder took it,
// or when no renewal succeeded for two thirds of the duration: others may
// take it over once a whole duration has passed, so the run stops before
// they can. One failed renewal is retried at the next tick.
func (l *Lease) renew(ctx context.Context, now func() time.Time) {
	defer close(l.done)
	t := time.NewTicker(l.duration / 3)
	defer t.Stop()
	renewed := now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		leases := l.kube.CoordinationV1().Leases(l.ns)
		actx, cancel := context.WithTimeout(ctx, l.duration/3)
		cur, err := leases.Get(actx, l.name, metav1.GetOptions{})
		var taken error
		if err == nil && (cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.holder) {
			h := "nobody"
			if cur.Spec.HolderIdentity != nil && *cur.Spec.HolderIdentity != "" {
				h = *cur.Spec.HolderIdentity
			}
			taken = fmt.Errorf("lease %s/%s was taken by %s", l.ns, l.name, h)
		}
		if err == nil && taken == nil {
			n := metav1.NewMicroTime(now())
			cur.Spec.RenewTime = &n
			if _, err = leases.Update(actx, cur, metav1.UpdateOptions{}); err == nil {
				cancel()
				renewed = n.Time
				continue
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if taken == nil && now().Sub(renewed) < 2*l.duration/3 {
			continue // still ours: try again at the next tick
		}
		if taken == nil {
			taken = fmt.Errorf("lease %s/%s not renewed for %s of its %s: %w", l.ns, l.name, now().Sub(renewed).Round(time.Second), l.duration, err)
		}
		l.mu.Lock()
		l.lost = fmt.Errorf("%w: %w", ErrLost, taken)
		l.mu.Unlock()
		close(l.lostCh)
		return
	}
}

// Lost is closed when the lease is lost; Err then says why.
func (l *Lease) Lost() <-chan struct{} { return l.lostCh }

// Err reports why the lease was lost (nil while it is held).
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release implements Lock: it stops renewing and clears the holder, so the
// next archiver does not have to wait for expiry.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	l.cancel()
	<-l.done
	leases := l.kube.CoordinationV1().Leases(l.ns)
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.holder {
		return nil
	}
	empty := ""
	cur.Spec.HolderIdentity = &empty
	_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}
