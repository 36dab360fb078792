package restoretest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/snapshot"
)

func TestLatestAndFind(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC) }
	arts := []snapshot.Artifact{
		{Kind: "ebs-snapshot", ID: "snap-old", Region: "eu-west-1", State: "completed", Started: day(1), RunID: "r1"},
		{Kind: "ebs-snapshot", ID: "snap-new", Region: "eu-west-1", State: "completed", Started: day(3), RunID: "r3"},
		{Kind: "ebs-snapshot", ID: "snap-pending", Region: "eu-west-1", State: "pending", Started: day(4), RunID: "r4"},
		{Kind: "ebs-copy", ID: "snap-dr", Region: "eu-central-1", State: "completed", Started: day(5), RunID: "r5"},
		{Kind: "ebs-snapshot", ID: "snap-foreign", Region: "eu-west-1", State: "completed", Started: day(6)},
	}
	b, err := Latest(arts, "eu-west-1")
	if err != nil || b.ID != "snap-new" || b.RunID != "r3" {
		t.Fatalf("latest %+v %v", b, err)
	}
	if _, err := Latest(arts[2:3], "eu-west-1"); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("only a pending snapshot: %v", err)
	}
	for id, want := range map[string]string{"snap-old": "", "snap-pending": "not completed", "snap-foreign": "no archiver run id", "snap-x": "not one of archiver's"} {
		_, err := Find(arts, id)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("find %s: %v, want %q", id, err, want)
		}
	}
}

func TestPodResult(t *testing.T) {
	ok, _ := json.Marshal(dircheck.Result{Status: "ok", Expected: 3, Verified: 3})
	bad, _ := json.Marshal(dircheck.Result{Status: "failed", Expected: 3, Verified: 2, Problems: []dircheck.Problem{{Path: "a", Kind: "missing"}}})
	broken, _ := json.Marshal(dircheck.Result{Status: "error", Problems: []dircheck.Problem{{Kind: "error", Detail: "no manifest"}}})
	pod := func(code int32, msg, reason string) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: reason}}
		if msg != "-" {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}}}
		}
		return p
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		verdict string // ok, failed, or the error text
	}{
		{"verified", pod(0, string(ok), ""), "ok"},
		{"files differ", pod(4, string(bad), ""), "failed"},
		{"verifier could not check", pod(1, string(broken), ""), "no manifest"},
		{"killed before writing a result", pod(137, "", ""), "without a result"},
		{"garbage message", pod(1, "exec format error", ""), "without a result"},
		{"exit code contradicts the result", pod(0, string(bad), ""), "exited 0 with result \"failed\""},
		{"deadline", pod(0, "-", "DeadlineExceeded"), "active deadline"},
		{"no container status", pod(0, "-", ""), "without a container result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := podResult(tc.pod)
			switch tc.verdict {
			case "ok", "failed":
				if err != nil || string(res.Status) != tc.verdict {
					t.Fatalf("%+v %v", res, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.verdict) {
					t.Fatalf("err %v, want %q", err, tc.verdict)
				}
			}
		})
	}
}

func TestVerifierPodIsRestrictedAndReadOnly(t *testing.T) {
	d := &drill{o: Options{Image: "img", RunAsUser: 999, RunID: "r", Resources: DefaultResources()}, ns: "scratch", n: newNames("r", "xroad/data"),
		src: snapshot.Volume{Namespace: "xroad", PVC: "data", Kind: snapshot.KindEFS}, efsPath: "/xroad", deadline: time.Now()}
	p := d.verifierPod("claim", 90*time.Second)
	c := p.Spec.Containers[0]
	sc := c.SecurityContext
	switch {
	case !*p.Spec.SecurityContext.RunAsNonRoot || *p.Spec.SecurityContext.RunAsUser != 999:
		t.Error("not non-root")
	case *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
		t.Error("container security context")
	case p.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccomp")
	case *p.Spec.ActiveDeadlineSeconds != 90 || *p.Spec.AutomountServiceAccountToken:
		t.Error("deadline or token")
	case c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero():
		t.Error("no limits")
	case !p.Spec.Volumes[0].PersistentVolumeClaim.ReadOnly || !c.VolumeMounts[0].ReadOnly:
		t.Error("restored volume writable")
	}
	if !strings.Contains(strings.Join(c.Args, " "), "--recovery-dir aws-backup-restore_* --sub /xroad") {
		t.Errorf("EFS args %v", c.Args)
	}
	for _, k := range []string{LabelManagedBy, LabelComponent, LabelRunID} {
		if p.Labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, p.Annotations[AnnotationDeadline]); err != nil {
		t.Errorf("deadline annotation: %v", err)
	}
}

func TestEFSItemPath(t *testing.T) {
	tests := []struct {
		v    snapshot.Volume
		flag string
		want string // path or error text
	}{
		{snapshot.Volume{SubPath: "/xroad"}, "", "/xroad"},
		{snapshot.Volume{}, "", "/"},
		{snapshot.Volume{AccessPoint: "fsap-0123456789abcdef0"}, "", "--efs-path"},
		{snapshot.Volume{AccessPoint: "fsap-0123456789abcdef0"}, "/ap/xroad", "/ap/xroad"},
		{snapshot.Volume{}, "relative", "clean absolute path"},
		{snapshot.Volume{}, "/a/../b", "clean absolute path"},
	}
	for _, tc := range tests {
		d := &drill{o: Options{EFSPath: tc.flag}, src: tc.v}
		got, err := d.efsItemPath()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v %q: %q, want %q", tc.v, tc.flag, got, tc.want)
		}
	}
}

func TestBatchErr(t *testing.T) {
	ok := &Result{Source: "a", Status: "ok"}
	failed := &Result{Source: "b", Status: "failed", Error: "x missing"}
	broken := &Result{Source: "c", Status: "error", Error: "timed out"}
	for _, tc := range []struct {
		drills []*Result
		status outcome.Status
		is     error
	}{
		{[]*Result{ok}, "ok", nil},
		{[]*Result{ok, failed}, "partial", ErrPartial},
		{[]*Result{failed}, "failed", dircheck.ErrFailed},
		{[]*Result{failed, broken}, "failed", nil},
	} {
		b := &Batch{Drills: tc.drills}
		err := b.Err()
		if b.Status != tc.status || (tc.is != nil && !errors.Is(err, tc.is)) || (tc.status == "ok") != (err == nil) {
			t.Errorf("%d drills: %s %v", len(tc.drills), b.Status, err)
		}
	}
}

func FuzzPodResult(f *testing.F) {
	f.Add(int32(0), `{"status":"ok","expected":1,"verified":1}`)
	f.Add(int32(4), `{"status":"failed","problems":[{"path":"a","kind":"missing"}]}`)
	f.Add(int32(1), `{"status":"error"}`)
	f.Fuzz(func(t *testing.T, code int32, msg string) {
		pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}}}}}
		res, err := podResult(pod)
		if err == nil {
			// Only a result whose status matches the exit code is believed.
			if !(res.Status == "ok" && code == 0 || res.Status == "failed" && code == 4) {
				t.Fatalf("believed %q with exit %d", res.Status, code)
			}
			if res.Status == "ok" && res.Err() != nil {
				t.Fatalf("ok result with an error")
			}
		}
	})
}

func TestUnknownKindIsAnErrorNotACrash(t *testing.T) {
	o := newObject(nil, nil, "Secret", "ns", "x")
	if err := o.del(t.Context()); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("delete of an unknown kind = %v", err)
	}
}

func TestVerifierPodGetsTheGPGSecretReadOnly(t *testing.T) {
	g := &GPGSecret{Name: "archiver-gpg", Keys: []string{"ss1.sec.asc"}, Signers: []string{"ss1.pub.asc"}}
	d := &drill{o: Options{Image: "img", RunAsUser: 999, RunID: "r", GPG: g}, ns: "scratch", n: newNames("r", "xroad/data"),
		src: snapshot.Volume{Namespace: "xroad", PVC: "data", Kind: snapshot.KindEBS}, deadline: time.Now()}
	for name, p := range map[string]*corev1.Pod{"snapshot": d.verifierPod("claim", time.Minute), "archives": func() *corev1.Pod {
		d.o.Archives = &Archives{Dest: "s3://b/p"}
		defer func() { d.o.Archives = nil }()
		return d.archivesPod("run", time.Minute)
	}()} {
		c := p.Spec.Containers[0]
		args := strings.Join(c.Args, " ")
		if !strings.Contains(args, "--gpg-key "+MountGPG+"/ss1.sec.asc --gpg-signer "+MountGPG+"/ss1.pub.asc") {
			t.Errorf("%s: args %v", name, c.Args)
		}
		var mount *corev1.VolumeMount
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].Name == "gpg" {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil || !mount.ReadOnly || mount.MountPath != MountGPG {
			t.Errorf("%s: gpg mount %+v", name, mount)
		}
		spool := false
		for _, v := range p.Spec.Volumes {
			spool = spool || v.Name == "spool" && v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil
		}
		if !spool {
			t.Errorf("%s: no bounded spool for decrypted archives", name)
		}
		var vol *corev1.SecretVolumeSource
		for _, v := range p.Spec.Volumes {
			if v.Name == "gpg" {
				vol = v.Secret
			}
		}
		if vol == nil || vol.SecretName != "archiver-gpg" || len(vol.Items) != 2 || vol.Items[0].Key != "ss1.sec.asc" || vol.Items[1].Path != "ss1.pub.asc" {
			t.Errorf("%s: gpg volume %+v", name, vol)
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				t.Errorf("%s: key material in the environment: %+v", name, e)
			}
		}
	}
	if p := (&drill{o: Options{Image: "img", RunAsUser: 999}, n: newNames("r", "xroad/data")}).verifierPod("claim", time.Minute); strings.Contains(strings.Join(p.Spec.Containers[0].Args, " "), "gpg") || len(p.Spec.Volumes) != 2 {
		t.Errorf("no GPG secret: args %v, volumes %d", p.Spec.Containers[0].Args, len(p.Spec.Volumes))
	}
}

func TestGPGSecretCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    GPGSecret
		err  string
	}{
		{"ok", GPGSecret{Name: "s", Keys: []string{"ss1.sec.asc"}, Signers: []string{"a.pub"}}, ""},
		{"no name", GPGSecret{Keys: []string{"k"}}, "no name"},
		{"no keys", GPGSecret{Name: "s"}, "name the key"},
		{"path out of the mount", GPGSecret{Name: "s", Keys: []string{"../../etc/passwd"}}, "not a Secret key name"},
		{"dot dot", GPGSecret{Name: "s", Keys: []string{"k"}, Signers: []string{".."}}, "not a Secret key name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Check()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
		})
	}
}
