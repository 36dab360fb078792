package store_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestS3EncryptsWithTheRequestedKey(t *testing.T) {
	env := testenv.S3(t)
	s := newS3(t, env, env.Bucket(t, false), nil)
	ctx := context.Background()
	for _, n := range []int{100, 3*testPart + 1} { // single PUT and multipart
		data := storetest.Random(n, uint64(n))
		key := "sse/" + string(rune('a'+n%26))
		if _, err := s.Put(ctx, key, storetest.Payload(data), store.Meta{Path: key}); err != nil {
			t.Fatal(err)
		}
		h, err := s.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if h.Encryption != "aws:kms" || h.KMSKeyID != "arn:aws:kms:"+env.KMSKey {
			t.Errorf("%d bytes: encryption %q key %q, want aws:kms with %s", n, h.Encryption, h.KMSKeyID, env.KMSKey)
		}
	}
}

func TestS3DestinationErrors(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	ctx := context.Background()
	data := []byte("evidence")
	tests := []struct {
		name  string
		store func(t *testing.T) *store.S3
		want  error
	}{
		{"unknown KMS key", func(t *testing.T) *store.S3 {
			return newS3(t, env, bucket, func(o *store.S3Options) { o.KMSKeyID = "no-such-key" })
		}, store.ErrKMSKey},
		{"missing bucket", func(t *testing.T) *store.S3 { return newS3(t, env, "no-such-bucket-archiver", nil) }, store.ErrNoBucket},
		{"access denied", func(t *testing.T) *store.S3 {
			o := env.ClientOptions()
			o.Credentials = credentials.NewStaticCredentialsProvider(env.AccessKey, "wrong-secret", "")
			c, err := store.NewS3Client(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := store.NewS3(c, store.S3Options{Bucket: bucket, KMSKeyID: env.KMSKey})
			return s
		}, store.ErrAccessDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.store(t)
			_, err := s.Put(ctx, "k", storetest.Payload(data), store.Meta{})
			if !errors.Is(err, tc.want) || !store.IsFatal(err) {
				t.Fatalf("Put error = %v, want %v (fatal)", err, tc.want)
			}
			t.Logf("error as reported: %v", err)
			if tc.want != store.ErrKMSKey {
				if err := s.Check(ctx); !errors.Is(err, tc.want) {
					t.Errorf("Check = %v, want %v", err, tc.want)
				}
			}
		})
	}
	// Nothing was written by any failing case.
	n := 0
	newS3(t, env, bucket, nil).List(ctx, "", func(store.Object) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d objects written by failing puts", n)
	}
	if err := newS3(t, env, bucket, nil).Check(ctx); err != nil {
		t.Errorf("Check on a good bucket: %v", err)
	}
}

// cutReader fails every read at or after limit, like a process that dies
// partway through an upload.
type cutReader struct {
	r     io.ReaderAt
	limit int64
	hits  atomic.Int64
}

func (c *cutReader) ReadAt(p []byte, off int64) (int, error) {
	c.hits.Add(1)
	if off+int64(len(p)) > c.limit {
		return 0, errors.New("simulated crash")
	}
	return c.r.ReadAt(p, off)
}

func TestS3ResumesInterruptedMultipartUpload(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	s := newS3(t, env, bucket, func(o *store.S3Options) { o.Concurrency = 1 })
	ctx := context.Background()
	data := storetest.Random(5*testPart+100, 7)
	p := storetest.Payload(data)
	started := time.Now().Add(-time.Minute)
	p.ResumeAfter = started
	full := p.At
	p.At = &cutReader{r: full, limit: 3 * testPart} // parts 1-3 get through
	if _, err := s.Put(ctx, "big.zip", p, store.Meta{Path: "big.zip"}); err == nil {
		t.Fatal("interrupted Put succeeded")
	}
	if ups := env.Uploads(t, bucket, "xroad/ss1/big.zip"); len(ups) != 1 {
		t.Fatalf("after the interruption %d uploads are in progress, want 1 to resume", len(ups))
	}
	p.At = full
	obj, err := s.Put(ctx, "big.zip", p, store.Meta{Path: "big.zip"})
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Resumed || obj.ResumedBytes != 3*testPart {
		t.Errorf("Resumed=%v ResumedBytes=%d, want true, %d", obj.Resumed, obj.ResumedBytes, 3*testPart)
	}
	rc, _, err := s.Get(ctx, "big.zip")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(data) {
		t.Fatal("resumed object differs from the source")
	}
	if ups := env.Uploads(t, bucket, "xroad/ss1/"); len(ups) != 0 {
		t.Errorf("%d uploads left after completion", len(ups))
	}
}

func TestS3DoesNotResumeUploadsOlderThanTheSource(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	s := newS3(t, env, bucket, func(o *store.S3Options) { o.Concurrency = 1 })
	ctx := context.Background()
	old := storetest.Random(3*testPart, 8)
	p := storetest.Payload(old)
	p.At = &cutReader{r: p.At, limit: 2 * testPart}
	s.Put(ctx, "rewritten.zip.gpg", p, store.Meta{Path: "rewritten.zip.gpg"})
	// The file is rewritten after the interrupted upload started.
	fresh := storetest.Random(3*testPart, 9)
	copy(fresh, old[:2*testPart]) // same first parts: only the time rule protects
	q := storetest.Payload(fresh)
	q.ResumeAfter = time.Now().Add(time.Second)
	obj, err := s.Put(ctx, "rewritten.zip.gpg", q, store.Meta{Path: "rewritten.zip.gpg"})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Resumed {
		t.Error("an upload started before the source's mtime was resumed")
	}
	if n, err := s.AbortIncomplete(ctx, "", nil); err != nil || n != 1 {
		t.Errorf("AbortIncomplete = %d, %v; want the stale upload removed", n, err)
	}
	if ups := env.Uploads(t, bucket, "xroad/"); len(ups) != 0 {
		t.Errorf("%d uploads left", len(ups))
	}
}

func TestS3ObjectLock(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, true)
	now := time.Now()
	s := newS3(t, env, bucket, func(o *store.S3Options) {
		o.LockMode, o.LockRetention, o.Now = "GOVERNANCE", 24*time.Hour, func() time.Time { return now }
	})
	ctx := context.Background()
	for _, n := range []int{10, 2*testPart + 3} {
		key := "locked/" + string(rune('a'+n%26))
		if _, err := s.Put(ctx, key, storetest.Payload(storetest.Random(n, 1)), store.Meta{Path: key}); err != nil {
			t.Fatal(err)
		}
		h, err := s.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if h.LockMode != "GOVERNANCE" || h.RetainUntil.Before(now.Add(24*time.Hour-time.Second)) {
			t.Errorf("%d bytes: lock %q until %v, want GOVERNANCE until %v", n, h.LockMode, h.RetainUntil, now.Add(24*time.Hour))
		}
	}
}

func TestPartSizeFor(t *testing.T) {
	s, _ := store.NewS3(nil, store.S3Options{Bucket: "b", KMSKeyID: "k"})
	for _, tc := range []struct{ size, want int64 }{
		{0, 8 << 20}, {1 << 30, 8 << 20}, {80000 << 20, 8 << 20}, {80000<<20 + 1, 9 << 20}, {5 << 40, 525 << 20},
	} {
		got := s.PartSizeFor(tc.size)
		if got != tc.want || (tc.size+got-1)/got > store.MaxParts {
			t.Errorf("PartSizeFor(%d) = %d, want %d (<= %d parts)", tc.size, got, tc.want, store.MaxParts)
		}
	}
}

func TestS3BandwidthLimit(t *testing.T) {
	env := testenv.S3(t)
	s := newS3(t, env, env.Bucket(t, false), func(o *store.S3Options) { o.Limiter = store.NewLimiter(512 << 10) })
	data := storetest.Random(3<<19, 3) // 1.5 MiB at 512 KiB/s: at least 2 s after the first burst
	start := time.Now()
	if _, err := s.Put(context.Background(), "slow", storetest.Payload(data), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("1.5 MiB at a 512 KiB/s cap took %v; the cap is not applied", el)
	}
}

func TestTLSIsVerified(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c, err := store.NewS3Client(context.Background(), store.ClientOptions{EndpointURL: srv.URL, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := store.NewS3(c, store.S3Options{Bucket: "b", KMSKeyID: "k"})
	err = s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a self-signed endpoint was accepted: %v", err)
	}
}
