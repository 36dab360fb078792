package awsfake

import (
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// AccountID is the account that owns everything the fake creates.
const AccountID = "123456789012"

// defaultRegion is used when a request carries no SigV4 credential scope.
const defaultRegion = "us-east-1"

// Server is one fake endpoint for EC2, AWS Backup and CloudWatch. All methods
// are safe for concurrent use; the exported knobs (SnapshotPolls, JobPolls)
// must be set before the first request.
type Server struct {
	// SnapshotPolls is how many DescribeSnapshots calls that return a
	// snapshot it takes to finish it: a snapshot returned by n earlier
	// calls reports pending with Progress n*100/SnapshotPolls %, and its
	// final state (completed or error) once n >= SnapshotPolls. 0 makes the
	// first DescribeSnapshots report the final state. Default 2.
	SnapshotPolls int

	// JobPolls is the same for Backup and restore jobs and
	// DescribeBackupJob / DescribeRestoreJob: a job described n times
	// before reports CREATED (restore jobs: PENDING, the real service has
	// no CREATED for them) when n == 0, RUNNING while n < JobPolls, and
	// its final state once n >= JobPolls. Default 2.
	JobPolls int

	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	calls    map[string]int
	faults   map[string][]Fault
	outcomes map[outcomeKey]outcome // by snapshot ID, volume ID, resource or recovery point ARN
	ec2      map[string]*ec2Region
	backup   backupState
	cw       map[string]*cwRegion
	metrics  []MetricRecord
}

// New starts a fake server; t.Cleanup closes it.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		SnapshotPolls: 2,
		JobPolls:      2,
		t:             t,
		calls:         map[string]int{},
		faults:        map[string][]Fault{},
		outcomes:      map[outcomeKey]outcome{},
		ec2:           map[string]*ec2Region{},
		backup:        newBackupState(),
		cw:            map[string]*cwRegion{},
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base endpoint of the server (http://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Calls is how many requests of operation op (for example "CreateSnapshot",
// "DescribeBackupJob", "PutMetricData") the server received, including ones
// answered with an injected fault, so SDK retries are counted.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// call is one decoded request, common to the three protocols.
type call struct {
	op     string
	region string
	body   []byte
	r      *http.Request
}

// ServeHTTP dispatches on the protocol the SDK used: RPC v2 CBOR paths are
// CloudWatch, the SigV4 service "ec2" (or an Action= form) is EC2, and the
// rest is AWS Backup's REST-JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, service := credentialScope(r.Header.Get("Authorization"))
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := &call{region: region, body: body, r: r}
	switch {
	case strings.HasPrefix(r.URL.Path, "/service/") || service == "monitoring":
		s.serveCloudWatch(w, c)
	case service == "ec2" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		s.serveEC2(w, c)
	default:
		s.serveBackup(w, c)
	}
}

// begin counts a call of c.op and returns the fault to answer it with, if
// one was injected.
func (s *Server) begin(c *call) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.op]++
	q := s.faults[c.op]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	s.faults[c.op] = q[1:]
	return &f
}

// outsideModel is the fake's guard for calls archiver does not make: the
// fake models exactly the AWS operations (and options) archiver uses, and
// when code under test reaches beyond them the test fails at once rather
// than getting a made-up answer.
func (s *Server) outsideModel(service, what string) *apiError {
	s.t.Errorf("awsfake: %s %s is outside the fake's model (archiver is not expected to call it)", service, what)
	return &apiError{status: http.StatusBadRequest, code: "OutsideModel",
		message: fmt.Sprintf("awsfake does not model %s %s", service, what)}
}

// credentialScope reads region and service from a SigV4 Authorization
// header: "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...".
func credentialScope(auth string) (region, service string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return defaultRegion, ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return defaultRegion, ""
	}
	return parts[2], parts[3]
}

// readBody returns the request body, gunzipped when the SDK compressed it
// (CloudWatch PutMetricData does above 10 KiB).
func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gunzip request: %w", err)
		}
		defer zr.Close()
		rd = zr
	}
	return io.ReadAll(io.LimitReader(rd, 16<<20))
}

// newID returns n random lower-case hex digits.
func newID(n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[rand.IntN(len(hex))]
	}
	return string(b)
}

// newUUID returns a random UUID-shaped string, as AWS uses for job IDs.
func newUUID() string {
	h := newID(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
