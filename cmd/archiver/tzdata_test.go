package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

// TestTimeZoneLoadsWithoutZoneinfo: a minimal image has no
// /usr/share/zoneinfo; the configuration's time zone must still load
// (on a real node the sync Job failed with `unknown time zone
// "Europe/Tallinn"`, exit 2). The binary runs in a mount namespace where
// every place Go looks for zone data (the system directories and
// GOROOT's zoneinfo.zip) is an empty directory and ZONEINFO names an
// empty directory too, so only the data embedded in the binary can answer.
func TestTimeZoneLoadsWithoutZoneinfo(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		testenv.Skip(t, fmt.Sprintf("needs root and unshare(1) to hide the system's zone data (euid %d, %v)", os.Geteuid(), err))
	}
	cfg := writeConfig(t, "timeZone: Europe/Tallinn\nverify: {enabled: true}\nsync: {dest: 'file:///tmp/x'}\n")
	empty := t.TempDir()
	script := "set -e\n"
	//lint:ignore SA1019 go test runs this binary where it was built, so GOROOT's zone data is the one to hide
	for _, d := range []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo", filepath.Join(runtime.GOROOT(), "lib", "time")} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			script += "mount --bind " + empty + " " + d + "\n"
		}
	}
	script += `test ! -e /usr/share/zoneinfo/Europe/Tallinn
exec "$@"`
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh", binary, "config", "validate", "-c", cfg)
	cmd.Env = append(os.Environ(), "ZONEINFO="+empty, "TZ=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("config validate without zone data on disk: %v\n%s", err, out)
	}
}
