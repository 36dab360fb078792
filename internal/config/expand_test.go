package config

import (
	"errors"
	"strings"
	"testing"
)

// TestVariablesComeFromTheEnvironment: ${NAME} takes the pods' settings
// (deploy/settings.env through envFrom); an unset or malformed one is an
// error naming its line, and nothing is guessed.
func TestVariablesComeFromTheEnvironment(t *testing.T) {
	t.Setenv("ARCHIVER_NAMESPACE", "sidecar")
	t.Setenv("ARCHIVER_DATA_CLAIM", "pvc-data-sidecar")
	t.Setenv("ARCHIVER_PRIMARY_RUN", "security-server-sidecar-primary")
	t.Setenv("BROKEN", "a\nb")
	body := `# ${NOT_EXPANDED} in a comment
lock: {namespace: ${ARCHIVER_NAMESPACE}}
primary: {selector: "run=${ARCHIVER_PRIMARY_RUN},role=primary"}
snapshot:
  enabled: true
  pvcs: ["${ARCHIVER_NAMESPACE}/${ARCHIVER_DATA_CLAIM}"]
`
	c, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lock.Namespace != "sidecar" || c.Snapshot.PVCs[0] != "sidecar/pvc-data-sidecar" || c.Primary.Selector != "run=security-server-sidecar-primary,role=primary" {
		t.Fatalf("got %+v %+v %+v", c.Lock, c.Snapshot.PVCs, c.Primary)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"unset", "snapshot: {enabled: true, pvcs: [\"${NO_SUCH_VARIABLE_X}/a\"]}\n", "line 1: ${NO_SUCH_VARIABLE_X}: environment variable not set"},
		{"unterminated", "\nlock: {namespace: ${ARCHIVER_NAMESPACE\n", "line 2: ${: unterminated"},
		{"bad name", "lock: {namespace: ${1X}}\n", "line 1: ${1X}: not a variable name"},
		{"line break", "lock: {namespace: ${BROKEN}}\n", "value has a line break"},
		{"bad selector", "verify: {enabled: true}\nsync: {dest: 'file:///x'}\nprimary: {selector: role}\n", "primary.selector"},
		{"aws-managed key", "sync: {enabled: true, dest: 's3://b/p', kmsKeyId: 'arn:aws:kms:eu-west-1:999999999:alias/aws/s3'}\n", "AWS-managed key"},
		{"pod label", "verify: {enabled: true}\nsync: {dest: 'file:///x'}\nprimary: {podLabel: role=primary}\n", "use primary.selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.body))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
