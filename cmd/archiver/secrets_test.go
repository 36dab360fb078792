package main

import (
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

// TestSecretsNeverAppearInOutput runs failing and succeeding commands with
// canary credentials and a canary KMS key id and looks for them in every
// byte of stdout and stderr (logs, JSON, errors).
func TestSecretsNeverAppearInOutput(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	src := demoTree(t)
	const canaryKey = "canary-kms-key-7f3a9c1d2e"
	const canarySecret = "canarySecretKey0123456789abcdef"
	canaryEnv := append(env.Environ(), "AWS_SECRET_ACCESS_KEY="+canarySecret)
	runs := []cliResult{
		// Wrong secret: access denied.
		cli(t, canaryEnv, "sync", "--source", src, "--dest", "s3://"+bucket+"/x", "--kms-key-id", env.KMSKey, "-o", "json", "--log-level", "debug"),
		// Unknown (canary) key: KMS error.
		cli(t, env.Environ(), "sync", "--source", src, "--dest", "s3://"+bucket+"/x", "--kms-key-id", canaryKey, "-o", "json", "--log-level", "debug"),
		cli(t, env.Environ(), "sync", "--source", src, "--dest", "s3://"+bucket+"/x", "--kms-key-id", canaryKey, "--log-level", "debug"),
	}
	for i, r := range runs {
		if r.code == 0 {
			t.Errorf("run %d unexpectedly succeeded", i)
		}
		all := r.stdout + r.stderr
		for _, secret := range []string{canaryKey, canarySecret, env.SecretKey} {
			if strings.Contains(all, secret) {
				t.Errorf("run %d printed a secret (%.6s…):\n%s", i, secret, all)
			}
		}
	}
	// A successful run with the real key does not print it either.
	r := cli(t, env.Environ(), "sync", "--source", src, "--dest", "s3://"+bucket+"/ok", "--kms-key-id", env.KMSKey, "-o", "json", "--log-level", "debug")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, env.SecretKey) {
		t.Fatalf("exit %d or secret printed", r.code)
	}
}
