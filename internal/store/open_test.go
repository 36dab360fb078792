package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestParseLocation(t *testing.T) {
	tests := []struct {
		raw  string
		want store.Location
		err  string // "" for success
	}{
		{"s3://bucket/xroad/ss1/", store.Location{Scheme: "s3", Bucket: "bucket", Path: "xroad/ss1"}, ""},
		{"s3://bucket", store.Location{Scheme: "s3", Bucket: "bucket"}, ""},
		{"file:///backup/xroad/../x", store.Location{Scheme: "file", Path: "/backup/x"}, ""},
		{"file://localhost/backup", store.Location{Scheme: "file", Path: "/backup"}, ""},
		{"s3:///prefix", store.Location{}, "want s3://BUCKET/PREFIX"},
		{"file://host/backup", store.Location{}, "want file:///absolute/path"},
		{"file://", store.Location{}, "want file:///absolute/path"},
		{"/backup/xroad", store.Location{}, "want s3://BUCKET/PREFIX or file:///path"},
		{"s3://bu cket/%zz", store.Location{}, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := store.ParseLocation(tc.raw)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %+v, %v; want an ErrInvalid naming %q", got, err, tc.err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("%v names a flag: the caller does", err)
			}
		})
	}
}

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"s3://b/p", "file:///x", "file://localhost/y", "s3:///", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := store.ParseLocation(raw)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%q: %v is not ErrInvalid", raw, err)
			}
			return
		}
		switch loc.Scheme {
		case "s3":
			if loc.Bucket == "" || strings.HasPrefix(loc.Path, "/") || strings.HasSuffix(loc.Path, "/") {
				t.Fatalf("%q: %+v", raw, loc)
			}
		case "file":
			if !filepath.IsAbs(loc.Path) || filepath.Clean(loc.Path) != loc.Path {
				t.Fatalf("%q: %+v", raw, loc)
			}
		default:
			t.Fatalf("%q: scheme %q", raw, loc.Scheme)
		}
	})
}

func TestOpenLocal(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dest")
	if _, err := store.OpenReader(ctx, store.Location{Scheme: "file", Path: dir}, store.OpenOptions{}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("reader of a missing directory: %v, want an error naming %s", err, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("OpenReader created %s: %v", dir, err)
	}
	w, err := store.Open(ctx, store.Location{Scheme: "file", Path: dir}, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("archive")
	if _, err := w.Put(ctx, "mlog-a.zip", storetest.Payload(data), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	r, err := store.OpenReader(ctx, store.Location{Scheme: "file", Path: dir}, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(store.Store); ok {
		// OpenReader's value is a read-only store: even a caller that
		// asserts it back to Store cannot write through it.
		if _, err := r.(store.Store).Put(ctx, "mlog-b.zip", storetest.Payload(data), store.Meta{}); err == nil {
			t.Fatal("a store opened to read accepted a write")
		}
	}
	rc, _, err := r.Get(ctx, "mlog-a.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %q, %v; want %q", got.Bytes(), err, data)
	}
}

func TestOpenS3(t *testing.T) {
	ctx := context.Background()
	env := testenv.S3(t)
	loc := store.Location{Scheme: "s3", Bucket: env.Bucket(t, false), Path: "xroad/ss1"}
	o := store.OpenOptions{EndpointURL: env.Endpoint, Region: "us-east-1", Credentials: env.Credentials()}
	if _, err := store.Open(ctx, loc, o); !errors.Is(err, store.ErrNoKMSKey) || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("writable S3 store without a KMS key: %v, want ErrNoKMSKey", err)
	}
	bad := o
	bad.KMSKeyID, bad.LockMode, bad.LockRetention = env.KMSKey, "FOREVER", 1
	if _, err := store.Open(ctx, loc, bad); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "FOREVER") {
		t.Fatalf("unknown Object Lock mode: %v, want ErrInvalid naming it", err)
	}
	w := o
	w.KMSKeyID = env.KMSKey
	ws, err := store.Open(ctx, loc, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Put(ctx, "mlog-a.zip", storetest.Payload([]byte("archive")), store.Meta{}); err != nil {
		t.Fatal(err)
	}
	r, err := store.OpenReader(ctx, loc, o) // no KMS key needed to read
	if err != nil {
		t.Fatal(err)
	}
	obj, err := r.Head(ctx, "mlog-a.zip")
	if err != nil || obj.Encryption != "aws:kms" || r.URL() != "s3://"+loc.Bucket+"/xroad/ss1" {
		t.Fatalf("head %+v, %v; url %s", obj, err, r.URL())
	}
	if _, err := r.(store.Store).Put(ctx, "mlog-b.zip", storetest.Payload([]byte("x")), store.Meta{}); err == nil {
		t.Fatal("a store opened to read accepted a write")
	}
}
