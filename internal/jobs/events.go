package jobs

import (
	"context"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/schedule"
)

// eventRecorder returns a hook that records a Kubernetes Warning Event on
// this pod (POD_NAME and POD_NAMESPACE from the downward API) for every
// failed or partial job, so `kubectl describe pod` and event-based
// alerting see it. Without those variables it returns nil.
func eventRecorder(env Env) func(context.Context, *schedule.Report) {
	pod, ns := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if pod == "" || ns == "" {
		return nil
	}
	var kube kubernetes.Interface
	return func(ctx context.Context, rep *schedule.Report) {
		for _, j := range rep.Jobs {
			if j.Status != outcome.StatusFailed && j.Status != outcome.StatusPartial {
				continue
			}
			if kube == nil {
				k, err := env.Clients.KubeClient()
				if err != nil {
					env.Log.Warn("no event recorded", "error", err)
					return
				}
				kube = k
			}
			reason := "ArchiverJobFailed"
			if j.Status == outcome.StatusPartial {
				reason = "ArchiverJobPartial"
			}
			msg := fmt.Sprintf("archiver %s job %s (run %s): %s", j.Name, j.Status, rep.RunID, strings.ReplaceAll(j.Error, "\n", " "))
			if len(msg) > 1024 {
				msg = msg[:1024]
			}
			ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "archiver-", Namespace: ns},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, APIVersion: "v1"},
				Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Source: corev1.EventSource{Component: "archiver"},
				FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1}
			if _, err := kube.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
				env.Log.Warn("no event recorded", "error", err)
			}
		}
	}
}
