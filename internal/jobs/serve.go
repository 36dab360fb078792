package jobs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/schedule"
)

// DefaultListen is where serve answers /healthz, /readyz and /metrics
// when neither --listen nor serve.listen says.
const DefaultListen = ":8080"

// Server is the scheduler of r's jobs as the configuration says: cron in
// timeZone, serve.jitter, serve.listen unless listen ("": the file's, else
// DefaultListen) overrides it; reg receives the metrics (the same one
// Build's Env.Registry was given).
func Server(c *config.Config, r *schedule.Runner, reg *prometheus.Registry, listen string) *schedule.Server {
	loc, err := time.LoadLocation(c.TimeZone) // "" is UTC; config.Load checked the name
	if err != nil {
		loc = time.UTC
	}
	if listen == "" {
		listen = c.Serve.Listen
	}
	if listen == "" {
		listen = DefaultListen
	}
	return &schedule.Server{Runner: r, Location: loc, Jitter: c.Serve.Jitter.Value(), Listen: listen, Registry: reg,
		NewRunID: func() string { return schedule.NewRunID(time.Now()) }}
}
