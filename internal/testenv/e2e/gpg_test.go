package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// gpgTestdata is internal/gpg's real GnuPG 2.2 output: the server key
// pair (exported), another signer's public key, and an archive gpg
// signed and encrypted with X-Road's arguments.
const gpgTestdata = "../../gpg/testdata"

// encryptedVolume rewrites the primary's volume as a server that encrypts
// its archives holds it: xroadgen's archives, the .zip.gpg ones signed and
// encrypted with the server's gpg key (the one exported from GnuPG 2.2 in
// internal/gpg's testdata) as X-Road's gpg call does, plus an archive gpg
// itself wrote with that key. It returns the number of .zip.gpg archives.
func encryptedVolume(t *testing.T, volume string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(gpgTestdata, "ss1.sec.asc"))
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(f)
	f.Close()
	if err != nil || len(el) != 1 {
		t.Fatalf("server key: %v (%d keys)", err, len(el))
	}
	ents, err := os.ReadDir(volume)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(volume, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	o := xroadgen.Demo(volume)
	o.Start = time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Hour)
	o.PGP = &xroadgen.PGP{Signer: el[0], Recipients: el}
	if _, err := xroadgen.Generate(o); err != nil {
		t.Fatal(err)
	}
	real := "mlog-20261120000000-20261120000009-97090bb5b95b1729.zip.gpg"
	if out, err := exec.Command("cp", "--", filepath.Join(gpgTestdata, real), filepath.Join(volume, real)).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// X-Road's files belong to its uid, as the primary's own do.
	if out, err := exec.Command("chown", "-R", "999:999", volume).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	n := 0
	filepath.WalkDir(volume, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".zip.gpg") {
			n++
		}
		return err
	})
	return n
}

// TestRestoreTestDecryptsWithTheOperatorsKey: the verifier pod of a
// restore test on the real node gets the operator's gpg key from a Secret
// (--gpg-secret), mounted read-only by kubelet: every .zip.gpg archive of
// the restored snapshot is decrypted, its signer checked, and its zip and
// hash chain verified. Without the Secret the same drill says the
// encrypted archives were checked for integrity only; with only another
// signer accepted it fails with exit 4 naming the archives. The key
// material is in no output, event or object archiver created.
func TestRestoreTestDecryptsWithTheOperatorsKey(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	var encrypted int
	e := takeSnapshotOf(t, n, func(volume string) { encrypted = encryptedVolume(t, volume) })
	ctx := context.Background()
	keys := map[string][]byte{}
	for _, k := range []string{"ss1.sec.asc", "other.pub.asc"} {
		b, err := os.ReadFile(filepath.Join(gpgTestdata, k))
		if err != nil {
			t.Fatal(err)
		}
		keys[k] = b
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "archiver-gpg", Namespace: ns}, Data: keys}
	if _, err := n.Client.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	r, res := e.restoreTest(t, "--gpg-secret", "archiver-gpg", "--gpg-secret-key", "ss1.sec.asc")
	if r.code != 0 || res.Status != "ok" || res.Check == nil {
		t.Fatalf("with the key: exit %d: %+v\n%s", r.code, res, r.stderr)
	}
	if res.Check.Decrypted != encrypted || res.Check.IntegrityOnly != 0 || encrypted < 3 {
		t.Fatalf("with the key: %d decrypted, %d integrity only; want all %d decrypted", res.Check.Decrypted, res.Check.IntegrityOnly, encrypted)
	}
	t.Logf("with the key: all %d encrypted archives decrypted, signer, zip and chain checked in the verifier pod (drill %.1fs)", encrypted, res.TotalSec)
	secretShown(t, n, keys["ss1.sec.asc"], r.stdout, r.stderr)

	r, res = e.restoreTest(t)
	if r.code != 0 || res.Check == nil || res.Check.Decrypted != 0 || res.Check.IntegrityOnly != encrypted {
		t.Fatalf("without a key: exit %d: %+v\n%s", r.code, res.Check, r.stderr)
	}
	t.Logf("without a key: %d encrypted archives checked for integrity only, as the report says", res.Check.IntegrityOnly)

	r, res = e.restoreTest(t, "--gpg-secret", "archiver-gpg", "--gpg-secret-key", "ss1.sec.asc", "--gpg-secret-signer", "other.pub.asc")
	if r.code != 4 || res.Status != "failed" || res.Check == nil || len(res.Check.Problems) != encrypted {
		t.Fatalf("another signer: exit %d: %+v\n%s", r.code, res.Check, r.stderr)
	}
	for _, p := range res.Check.Problems {
		if !strings.HasSuffix(p.Path, ".zip.gpg") || p.Kind != dircheck.BadArchive || !strings.Contains(p.Detail, "not an accepted signing key") {
			t.Errorf("problem %+v", p)
		}
	}
	t.Logf("another signer only: exit 4 naming all %d (%s: %s)", len(res.Check.Problems), res.Check.Problems[0].Path, res.Check.Problems[0].Detail)
	secretShown(t, n, keys["ss1.sec.asc"], r.stdout, r.stderr)
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}

// secretShown fails when a line of the secret key's armored body appears
// in the outputs or in any event of the namespace.
func secretShown(t *testing.T, n testenv.NodeEnv, key []byte, outputs ...string) {
	t.Helper()
	evs, err := n.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		outputs = append(outputs, ev.Message)
	}
	for _, line := range bytes.Split(key, []byte("\n")) {
		if len(line) < 40 || bytes.HasPrefix(line, []byte("-----")) {
			continue
		}
		for _, o := range outputs {
			if strings.Contains(o, string(line)) {
				t.Fatalf("secret key material in the output or events: %q", line)
			}
		}
	}
}
