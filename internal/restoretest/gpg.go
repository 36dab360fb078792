package restoretest

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// GPGSecret is the operator's gpg key material for the verifier pod: a
// Secret in the verifier's namespace whose keys hold exported key files
// (gpg --export-secret-keys, armored or binary; signers' public keys from
// gpg --export). The pod mounts only those keys, read-only, and passes
// their paths to verify-dir, so .zip.gpg archives are decrypted and their
// signer, zip and hash chain checked instead of integrity only. archiver
// never reads the Secret: kubelet mounts it; its name and key names are all
// that appear in the pod's spec, and the key material is never in an
// argument, an event or a log line.
type GPGSecret struct {
	Name    string   // Secret in the verifier pod's namespace
	Keys    []string // its keys holding secret key files (at least one)
	Signers []string // its keys holding accepted signers' public keys (default: the secret keys' own)
}

// MountGPG is where the verifier pod sees the GPGSecret's keys.
const MountGPG = "/etc/archiver/gpg"

// secretKeyName is what a Secret key may be (and so a file name below
// MountGPG, never a path out of it).
var secretKeyName = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Check says what is wrong with g, or nil.
func (g *GPGSecret) Check() error {
	if g.Name == "" {
		return fmt.Errorf("gpg key Secret: no name")
	}
	if len(g.Keys) == 0 {
		return fmt.Errorf("gpg key Secret %s: name the key(s) holding the exported secret key", g.Name)
	}
	for _, k := range append(append([]string(nil), g.Keys...), g.Signers...) {
		if !secretKeyName.MatchString(k) || k == "." || k == ".." {
			return fmt.Errorf("gpg key Secret %s: %q is not a Secret key name", g.Name, k)
		}
	}
	return nil
}

// withGPG mounts the key Secret into the verifier pod p, read-only, and
// passes its files to verify-dir.
func (d *drill) withGPG(p *corev1.Pod) {
	g := d.o.GPG
	if g == nil {
		return
	}
	c := &p.Spec.Containers[0]
	var items []corev1.KeyToPath
	for _, k := range g.Keys {
		c.Args = append(c.Args, "--gpg-key", MountGPG+"/"+k)
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	for _, k := range g.Signers {
		c.Args = append(c.Args, "--gpg-signer", MountGPG+"/"+k)
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "gpg", MountPath: MountGPG, ReadOnly: true},
		corev1.VolumeMount{Name: "spool", MountPath: "/tmp"})
	// Secret files belong to root: without an fsGroup (the restored volume
	// is never chowned) the verifier's uid reads them through the mode. The
	// pod runs nothing but the verifier.
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "gpg", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: g.Name, Items: items, DefaultMode: ptr(int32(0o444))}}},
		// The root file system is read-only: verify-dir spools each
		// decrypted archive (unlinked at once) into this pod's own
		// bounded scratch directory, deleted with the pod.
		corev1.Volume{Name: "spool", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(spoolLimit)}}})
}

// spoolLimit bounds the verifier's spool of decrypted archives (X-Road
// cuts archives at archive-max-filesize, 32 MiB by default).
var spoolLimit = resource.MustParse("1Gi")
