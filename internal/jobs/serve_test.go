package jobs_test

import (
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/units"
)

func TestServerFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		c          config.Config
		flag       string
		wantListen string
		wantZone   string
		wantJitter time.Duration
	}{
		{"defaults", config.Config{}, "", jobs.DefaultListen, "UTC", 0},
		{"the file's", config.Config{TimeZone: "Europe/Tallinn", Serve: config.Serve{Listen: ":9090", Jitter: units.DurationOf(time.Minute)}}, "", ":9090", "Europe/Tallinn", time.Minute},
		{"the flag beats the file", config.Config{Serve: config.Serve{Listen: ":9090"}}, "127.0.0.1:0", "127.0.0.1:0", "UTC", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &schedule.Runner{}
			s := jobs.Server(&tc.c, r, nil, tc.flag)
			if s.Listen != tc.wantListen || s.Location.String() != tc.wantZone || s.Jitter != tc.wantJitter || s.Runner != r || s.NewRunID() == "" {
				t.Fatalf("got listen %s, zone %s, jitter %s; want %s, %s, %s", s.Listen, s.Location, s.Jitter, tc.wantListen, tc.wantZone, tc.wantJitter)
			}
		})
	}
}
