package chaos

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are probabilities per request (0..1) and a fixed latency.
type Faults struct {
	SlowDown      float64 // answer 503 SlowDown
	InternalError float64 // answer 500 InternalError
	Reset         float64 // close the connection without an answer
	Stall         float64 // hold the request for StallFor before forwarding
	StallFor      time.Duration
	Latency       time.Duration
	// EarlyClose makes a conditional PUT (If-None-Match) of a key that
	// Exists reports as stored fail the way a server may refuse a
	// precondition: it reads part of the body, then resets the connection,
	// so the client sees a reset instead of 412. A request that carries
	// Expect: 100-continue is forwarded untouched (the server can refuse it
	// before the body), unless IgnoreExpect (a server that does not honour
	// Expect).
	EarlyClose   bool
	IgnoreExpect bool
	Exists       func(bucket, key string) bool
}

// Proxy is an HTTP proxy in front of S3 that injects faults and counts them.
type Proxy struct {
	mu     sync.Mutex
	faults Faults
	rnd    *rand.Rand
	srv    *http.Server
	ln     net.Listener
	Count  struct{ Requests, SlowDown, Internal, Reset, Stall, EarlyClose atomic.Int64 }
}

// NewProxy listens on loopback and forwards to target.
func NewProxy(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{rnd: rand.New(rand.NewPCG(seed, seed^0x9e37)), ln: ln}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) }
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Count.Requests.Add(1)
		p.mu.Lock()
		f, x := p.faults, p.rnd.Float64()
		p.mu.Unlock()
		time.Sleep(f.Latency)
		if f.EarlyClose && f.Exists != nil && r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "" &&
			(r.Header.Get("Expect") == "" || f.IgnoreExpect) {
			bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			if f.Exists(bucket, key) {
				p.Count.EarlyClose.Add(1)
				io.CopyN(io.Discard, r.Body, 64<<10) // part of the body arrives (and 100 Continue is sent)
				reset(w)
				return
			}
		}
		switch {
		case x < f.SlowDown:
			p.Count.SlowDown.Add(1)
			io.Copy(io.Discard, r.Body)
			s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
			return
		case x < f.SlowDown+f.InternalError:
			p.Count.Internal.Add(1)
			io.Copy(io.Discard, r.Body)
			s3Error(w, 500, "InternalError", "We encountered an internal error. Please try again.")
			return
		case x < f.SlowDown+f.InternalError+f.Reset:
			p.Count.Reset.Add(1)
			if reset(w) {
				return
			}
		case x < f.SlowDown+f.InternalError+f.Reset+f.Stall:
			p.Count.Stall.Add(1)
			time.Sleep(f.StallFor)
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// reset closes the client's connection with RST, not FIN.
func reset(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
	return true
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+msg+`</Message><RequestId>chaos</RequestId></Error>`)
}

// Set replaces the faults.
func (p *Proxy) Set(f Faults) { p.mu.Lock(); p.faults = f; p.mu.Unlock() }

// URL is the proxy's address.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }
