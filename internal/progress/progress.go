// Package progress draws a one-line progress bar on a terminal. It is only
// used when stderr is a TTY; logs and JSON output are never mixed into it.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar is a thread-safe progress line: files and bytes done, rate, ETA.
type Bar struct {
	w     io.Writer
	label string
	mu    sync.Mutex
	files int
	bytes int64
	doneF int
	doneB int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// New returns a bar writing to w (a terminal).
func New(w io.Writer, label string) *Bar { return &Bar{w: w, label: label} }

// Start sets the totals and starts redrawing.
func (b *Bar) Start(files int, bytes int64) {
	b.mu.Lock()
	b.files, b.bytes, b.start = files, bytes, time.Now()
	b.stop = make(chan struct{})
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw()
			case <-b.stop:
				return
			}
		}
	}()
}

// Done records a finished file of n bytes.
func (b *Bar) Done(n int64) {
	b.mu.Lock()
	b.doneF++
	b.doneB += n
	b.mu.Unlock()
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	if b.stop == nil {
		return
	}
	close(b.stop)
	b.wg.Wait()
	b.draw()
	fmt.Fprintln(b.w)
}

func (b *Bar) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	el := time.Since(b.start).Seconds()
	frac := 1.0
	if b.bytes > 0 {
		frac = float64(b.doneB) / float64(b.bytes)
	}
	const width = 30
	n := int(frac * width)
	rate := 0.0
	if el > 0 {
		rate = float64(b.doneB) / el
	}
	eta := ""
	if rate > 0 && b.doneB < b.bytes {
		eta = fmt.Sprintf(" ETA %s", (time.Duration(float64(b.bytes-b.doneB)/rate) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(b.w, "\r%s [%s%s] %d/%d files %s/%s %s/s%s\x1b[K", b.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		b.doneF, b.files, Bytes(b.doneB), Bytes(b.bytes), Bytes(int64(rate)), eta)
}

// Bytes formats n with binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
