package deploy

import (
	"flag"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite deploy/cloudwatch-alarms.yaml from the alarm definitions")

// TestCloudFormationAlarmsAreInSync: the checked-in template is what
// `archiver alarms cloudformation` renders from deploy/configmap.yaml.
func TestCloudFormationAlarmsAreInSync(t *testing.T) {
	setEnv(t, settings(t, "settings.env"))
	var cfg *config.Config
	for _, o := range testenv.Objects(t, "configmap.yaml") {
		data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
		c, err := config.Parse(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		cfg = c
	}
	got := report.CloudFormation(report.Alarms(report.AlarmConfigFrom(cfg)))
	if *update {
		if err := os.WriteFile("cloudwatch-alarms.yaml", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("cloudwatch-alarms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatal("deploy/cloudwatch-alarms.yaml is out of date: run `go test ./deploy -run CloudFormation -update`")
	}
	for _, name := range []string{"sync-failed", "sync-no-success", "snapshot-no-success", "sync-backlog-too-old", "TreatMissingData: breaching"} {
		if !strings.Contains(got, name) {
			t.Errorf("template lacks %s", name)
		}
	}
}
