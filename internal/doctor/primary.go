package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/snapshot"
)

// primaryMounts checks that the X-Road primary pod (the one pod
// PrimarySelector selects in each claim's namespace) mounts every claim
// archiver backs up, at the path archiver expects it (Mounts: the data
// volume at /var/lib/xroad, where X-Road writes its archives). A claim the
// primary does not mount holds nothing X-Road wrote: green runs on an
// empty volume.
func (o *Options) primaryMounts(ctx context.Context, add addFunc) {
	byNS := map[string][]string{}
	for _, ref := range o.PVCs {
		if ns, _, err := snapshot.ParseRef(ref); err == nil {
			byNS[ns] = append(byNS[ns], ref)
		}
	}
	nss := make([]string, 0, len(byNS))
	for ns := range byNS {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		list, err := o.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: o.PrimarySelector})
		var pods []corev1.Pod
		if err == nil {
			for _, p := range list.Items {
				if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					pods = append(pods, p)
				}
			}
		}
		switch {
		case err != nil:
			add("primary pod", Fail, "list pods matching %s in %s: %v", o.PrimarySelector, ns, err)
			continue
		case len(pods) != 1:
			add("primary pod", Fail, "%d pods in %s match the primary selector %s: it must select exactly the X-Road primary", len(pods), ns, o.PrimarySelector)
			continue
		}
		p := pods[0]
		add("primary pod", OK, "%s/%s on node %q (%s)", ns, p.Name, p.Spec.NodeName, p.Status.Phase)
		for _, ref := range byNS[ns] {
			_, claim, _ := snapshot.ParseRef(ref)
			paths := mountPaths(p, claim)
			want := o.Mounts[ref]
			switch {
			case len(paths) == 0:
				add("claim "+ref+" in the primary", Fail, "the primary %s does not mount %s: X-Road never writes to it (add it to the primary pod: see README, day one)", p.Name, claim)
			case want != "" && !contains(paths, want):
				add("claim "+ref+" in the primary", Fail, "the primary %s mounts %s at %s, archiver expects %s", p.Name, claim, strings.Join(paths, ", "), want)
			default:
				add("claim "+ref+" in the primary", OK, "mounted by %s at %s", p.Name, strings.Join(paths, ", "))
			}
		}
	}
}

// mountPaths lists where p's containers mount the volume of claim.
func mountPaths(p corev1.Pod, claim string) []string {
	vols := map[string]bool{}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
			vols[v.Name] = true
		}
	}
	var out []string
	for _, c := range p.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if vols[m.Name] && m.SubPath == "" {
				out = append(out, strings.TrimSuffix(m.MountPath, "/"))
			} else if vols[m.Name] {
				out = append(out, fmt.Sprintf("%s (subPath %s)", strings.TrimSuffix(m.MountPath, "/"), m.SubPath))
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
