package jobs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/jobs"
)

// TestDoctorOptions: the configuration becomes what doctor checks, in
// process; a destination that does not exist is reported and never
// created, even when the probe may write.
func TestDoctorOptions(t *testing.T) {
	dest := t.TempDir()
	typo := filepath.Join(t.TempDir(), "typo")
	noKube := jobs.Clients{Kube: func() (*rest.Config, error) { return nil, errors.New("no API server here") }}
	for _, tc := range []struct {
		name       string
		c          config.Config
		probe      bool
		wantStatus string
		wantChecks int
		wantKube   bool // a kubernetes client (or its error) is needed
	}{
		{"local destination", config.Config{Sync: config.Sync{Dest: "file://" + dest}}, false, doctor.OK, 1, false},
		{"local destination, probed", config.Config{Sync: config.Sync{Dest: "file://" + dest}}, true, doctor.OK, 2, false},
		{"mistyped destination", config.Config{Sync: config.Sync{Dest: "file://" + typo}}, true, doctor.Fail, 1, false},
		{"bad destination", config.Config{Sync: config.Sync{Dest: "ftp://x/y"}}, true, doctor.Fail, 1, false},
		{"lease without an API server", config.Config{Lock: config.Lock{Namespace: "xroad"}}, false, doctor.Fail, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			o := jobs.DoctorOptions(ctx, &tc.c, noKube, tc.probe)
			if got := o.KubeErr != nil || o.Kube != nil; got != tc.wantKube {
				t.Fatalf("kubernetes client built: got %v, want %v", got, tc.wantKube)
			}
			if wantProbe := tc.probe && tc.c.Sync.Dest != "" && tc.name != "bad destination"; (o.OpenProbe != nil) != wantProbe {
				t.Fatalf("probe set: %v", o.OpenProbe != nil)
			}
			rep := doctor.Run(ctx, o)
			if rep.Status != tc.wantStatus || len(rep.Checks) != tc.wantChecks {
				t.Fatalf("got %s with %d checks %+v, want %s with %d", rep.Status, len(rep.Checks), rep.Checks, tc.wantStatus, tc.wantChecks)
			}
		})
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Fatalf("doctor created the mistyped destination: %v", err)
	}
}
