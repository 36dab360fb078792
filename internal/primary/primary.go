// Package primary decides, through the Kubernetes API, whether this pod
// runs beside the X-Road primary: the one pod its selector (or this pod's
// own required pod affinity) selects must exist, be Running, be the only
// match and be on this pod's node. When it cannot tell, it refuses.
//
// It must not decide from anything this pod says about itself (its own
// labels) or from files on a mounted volume, and it changes nothing.
package primary

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// ErrUnconfirmed means archiver could not confirm that it runs beside
// the X-Road primary (no such pod, several, not Running, another node, or
// the API could not be asked); the message says which.
var ErrUnconfirmed = errors.New("not confirmed to run beside the X-Road primary")

// HostnameTopology is the topology key of an affinity that means "the
// same node".
const HostnameTopology = "kubernetes.io/hostname"

// Options name this pod and, optionally, the primary's selector.
type Options struct {
	Kube      kubernetes.Interface
	Namespace string // this pod's namespace (POD_NAMESPACE); the primary is looked for here
	PodName   string // this pod (POD_NAME)
	// Selector is the primary pod's label selector (key=value,...). Empty:
	// the labelSelector of this pod's required pod affinity on
	// kubernetes.io/hostname.
	Selector string
}

// Result names the primary that was confirmed.
type Result struct {
	Primary  string `json:"primary"`
	Node     string `json:"node"`
	Selector string `json:"selector"`
}

// Check confirms that exactly one pod matches the selector, that it is
// Running and on this pod's node. Every other answer, including an API
// error, is ErrUnconfirmed with the reason.
func Check(ctx context.Context, o Options) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{}, fmt.Errorf("%w: %s", ErrUnconfirmed, fmt.Sprintf(format, a...))
	}
	if o.Namespace == "" || o.PodName == "" {
		return fail("this pod's name and namespace are unknown (set POD_NAME and POD_NAMESPACE from the downward API)")
	}
	if o.Kube == nil {
		return fail("no Kubernetes client")
	}
	self, err := o.Kube.CoreV1().Pods(o.Namespace).Get(ctx, o.PodName, metav1.GetOptions{})
	if err != nil {
		return fail("read this pod %s/%s: %v", o.Namespace, o.PodName, err)
	}
	if self.Spec.NodeName == "" {
		return fail("this pod %s/%s is not on a node", o.Namespace, o.PodName)
	}
	sel, text, err := selector(o.Selector, self)
	if err != nil {
		return fail("%v", err)
	}
	list, err := o.Kube.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return fail("list pods matching %s in %s: %v", text, o.Namespace, err)
	}
	var match []corev1.Pod
	for _, p := range list.Items {
		if p.Name == self.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		match = append(match, p)
	}
	switch len(match) {
	case 0:
		return fail("no pod in %s matches the primary selector %s", o.Namespace, text)
	case 1:
	default:
		var names []string
		for _, p := range match {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		return fail("%d pods in %s match the primary selector %s (%s): it must select only the primary", len(match), o.Namespace, text, strings.Join(names, ", "))
	}
	p := match[0]
	res := Result{Primary: p.Name, Node: p.Spec.NodeName, Selector: text}
	switch {
	case p.DeletionTimestamp != nil:
		return res, fmt.Errorf("%w: the primary %s is being deleted", ErrUnconfirmed, p.Name)
	case p.Status.Phase != corev1.PodRunning:
		return res, fmt.Errorf("%w: the primary %s is %s, not Running", ErrUnconfirmed, p.Name, phase(p))
	case p.Spec.NodeName != self.Spec.NodeName:
		return res, fmt.Errorf("%w: the primary %s runs on node %q, this pod on %q", ErrUnconfirmed, p.Name, p.Spec.NodeName, self.Spec.NodeName)
	}
	return res, nil
}

func phase(p corev1.Pod) string {
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}

// selector parses the configured selector, or takes this pod's required
// same-node pod affinity.
func selector(configured string, self *corev1.Pod) (labels.Selector, string, error) {
	if configured != "" {
		sel, err := labels.Parse(configured)
		if err != nil || sel.Empty() {
			return nil, "", fmt.Errorf("primary selector %q: %v", configured, err)
		}
		return sel, configured, nil
	}
	if a := self.Spec.Affinity; a != nil && a.PodAffinity != nil {
		for _, term := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey != HostnameTopology || term.LabelSelector == nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if err != nil || sel.Empty() {
				return nil, "", fmt.Errorf("this pod's pod affinity selector: %v", err)
			}
			return sel, sel.String(), nil
		}
	}
	return nil, "", errors.New("no primary selector: set primary.selector, or give this pod a required pod affinity on kubernetes.io/hostname that selects the primary")
}
