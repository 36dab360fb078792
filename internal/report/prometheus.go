package report

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus exposes the latest value of every data point as a gauge
// (archiver_<snake_case name>{cluster,security_server,job}), so serve mode
// shows on /metrics what the CloudWatch sink sends.
type Prometheus struct {
	Registry *prometheus.Registry
	mu       sync.Mutex
	gauges   map[string]*prometheus.GaugeVec
}

// Publish implements Sink.
func (p *Prometheus) Publish(_ context.Context, _ time.Time, data []Datum) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gauges == nil {
		p.gauges = map[string]*prometheus.GaugeVec{}
	}
	for _, d := range data {
		g := p.gauges[d.Name]
		if g == nil {
			g = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "archiver_" + snake(d.Name), Help: "Latest " + d.Name + " (" + string(d.Unit) + ") of a run."},
				[]string{"cluster", "security_server", "job"})
			if err := p.Registry.Register(g); err != nil {
				return err
			}
			p.gauges[d.Name] = g
		}
		g.WithLabelValues(d.Dims["Cluster"], d.Dims["SecurityServer"], d.Dims["Job"]).Set(d.Value)
	}
	return nil
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Multi publishes to every sink and returns the first error.
type Multi []Sink

// Publish implements Sink.
func (m Multi) Publish(ctx context.Context, at time.Time, data []Datum) error {
	var first error
	for _, s := range m {
		if err := s.Publish(ctx, at, data); err != nil && first == nil {
			first = err
		}
	}
	return first
}
