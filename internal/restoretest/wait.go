package restoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/outcome"
)

// waitPod waits for the verifier pod to finish and reads its result. It
// returns when the claim was first seen bound (the restored volume exists);
// with no claim (the S3 variant) that is when the pod finished.
func (d *drill) waitPod(ctx context.Context, claim string, start time.Time) (time.Time, *dircheck.Result, error) {
	var bound time.Time
	var pod *corev1.Pod
	err := d.poll(ctx, "the verifier pod "+d.ns+"/"+d.n.base, func(ctx context.Context) (bool, string, error) {
		var pvc *corev1.PersistentVolumeClaim
		if claim != "" {
			var err error
			if pvc, err = d.o.Kube.CoreV1().PersistentVolumeClaims(d.ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
				return false, "", err
			}
			if bound.IsZero() && pvc.Status.Phase == corev1.ClaimBound {
				bound = d.o.Now()
				d.o.Log.Info("restored volume bound", "claim", d.ns+"/"+claim, "volume", pvc.Spec.VolumeName, "seconds", bound.Sub(start).Seconds())
			}
		}
		var err error
		if pod, err = d.o.Kube.CoreV1().Pods(d.ns).Get(ctx, d.n.base, metav1.GetOptions{}); err != nil {
			return false, "", err
		}
		switch pod.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return true, "", nil
		}
		return false, d.pendingReason(ctx, pod, pvc), nil
	})
	if bound.IsZero() {
		bound = d.o.Now()
	}
	if err != nil {
		return bound, nil, err
	}
	res, err := podResult(pod)
	return bound, res, err
}

// podResult reads the verifier's JSON result from its termination message.
func podResult(pod *corev1.Pod) (*dircheck.Result, error) {
	if pod.Status.Reason == "DeadlineExceeded" {
		return nil, fmt.Errorf("%w: the verifier pod passed its active deadline: %s", ErrTimeout, pod.Status.Message)
	}
	var term *corev1.ContainerStateTerminated
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == ContainerName {
			term = cs.State.Terminated
		}
	}
	if term == nil {
		return nil, fmt.Errorf("verifier pod %s ended %s without a container result: %s %s", pod.Name, pod.Status.Phase, pod.Status.Reason, pod.Status.Message)
	}
	var res dircheck.Result
	if err := json.Unmarshal([]byte(term.Message), &res); err != nil || res.Status == "" {
		return nil, fmt.Errorf("verifier pod %s exited %d (%s) without a result: %q", pod.Name, term.ExitCode, term.Reason, truncate(term.Message, 300))
	}
	switch {
	case res.Status == outcome.StatusError:
		detail := ""
		if len(res.Problems) > 0 {
			detail = res.Problems[0].Detail
		}
		return nil, fmt.Errorf("verifier pod %s could not check the restored volume: %s", pod.Name, detail)
	case res.Status == outcome.StatusOK && term.ExitCode == 0, res.Status == outcome.StatusFailed && term.ExitCode == 4:
		return &res, nil
	}
	return nil, fmt.Errorf("verifier pod %s exited %d with result %q", pod.Name, term.ExitCode, res.Status)
}

// pendingReason says why the verifier has not finished: not scheduled
// (and why), the image not pulled, the volume (pvc, when there is one)
// not provisioned.
func (d *drill) pendingReason(ctx context.Context, pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) string {
	var parts []string
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, fmt.Sprintf("pod not scheduled: %s: %s", c.Reason, c.Message))
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			parts = append(parts, fmt.Sprintf("container waiting: %s: %s", w.Reason, w.Message))
		}
	}
	if pvc != nil && pvc.Status.Phase != corev1.ClaimBound {
		p := fmt.Sprintf("PVC %s is %s", pvc.Name, pvc.Status.Phase)
		if ev := d.lastWarning(ctx, "PersistentVolumeClaim", pvc.Name); ev != "" {
			p += ": " + ev
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = append(parts, "pod "+string(pod.Status.Phase))
		if ev := d.lastWarning(ctx, "Pod", pod.Name); ev != "" {
			parts = append(parts, ev)
		}
	}
	return strings.Join(parts, "; ")
}

// lastWarning is the newest Warning event about an object, or "".
func (d *drill) lastWarning(ctx context.Context, kind, name string) string {
	evs, err := d.o.Kube.CoreV1().Events(d.ns).List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", kind), fields.OneTermEqualSelector("involvedObject.name", name),
		fields.OneTermEqualSelector("type", corev1.EventTypeWarning)).String()})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	e := evs.Items[len(evs.Items)-1]
	return e.Reason + ": " + e.Message
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
