package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// earlyCloseSource writes archives and backups between 256 KiB (what a Go
// server drains before closing) and 2 MiB (above which the SDK sends
// Expect: 100-continue by itself): the sizes a reset mid-body hit.
func earlyCloseSource(t *testing.T) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	os.MkdirAll(filepath.Join(dir, "backup"), 0o755)
	old := time.Now().Add(-2 * time.Hour)
	var rels []string
	for i, size := range []int{1 << 20, 600 << 10, 1536 << 10, 400 << 10} {
		rel := fmt.Sprintf("mlog-EARLY-20261101%06d-20261101%06d-%016x.zip", i, i, i)
		if i%2 == 1 {
			rel = fmt.Sprintf("backup/conf_backup_20261101-%06d.tar", i)
		}
		b := make([]byte, size)
		rand.Read(b)
		p := filepath.Join(dir, rel)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
		rels = append(rels, rel)
	}
	return dir, rels
}

// forgetManifests deletes every manifest and sequence claim: the state a
// run leaves when it is killed after its uploads and before its manifest.
func forgetManifests(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	var ks []string
	if err := s.List(ctx, ".archiver/", func(o store.Object) error { ks = append(ks, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// seenOnce hides each key from its first HEAD: another run stores the
// object between this run's look and its conditional PUT.
type seenOnce struct {
	store.Store
	seen map[string]bool
}

func (s *seenOnce) Head(ctx context.Context, key string) (store.Object, error) {
	if !s.seen[key] && !strings.HasPrefix(key, ".archiver/") {
		s.seen[key] = true
		return store.Object{}, fmt.Errorf("head %s: %w", key, store.ErrNotFound)
	}
	return s.Store.Head(ctx, key)
}

// TestAdoptionSurvivesEarlyCloseOfConditionalPut is the regression test of
// issue 17: after a run was killed between its uploads and its manifest,
// a server that refuses the conditional PUT by resetting the connection
// mid-body made the next run partial (the SDK resent the PUT and met the
// same reset three times). The next run must adopt the objects and exit 0.
func TestAdoptionSurvivesEarlyCloseOfConditionalPut(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.Bucket(t, false)
	direct := env.Client(t)
	exists := func(b, k string) bool {
		_, err := direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &k})
		return err == nil
	}
	p, err := NewProxy(env.Endpoint, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	co := env.ClientOptions()
	co.EndpointURL = p.URL()
	viaProxy, err := store.NewS3Client(ctx, co)
	if err != nil {
		t.Fatal(err)
	}
	open := func(c store.S3API) store.Store {
		s, err := store.NewS3(c, store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey, PartSize: 5 << 20, MultipartThreshold: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	src, rels := earlyCloseSource(t)
	// A run stored everything and was killed before its manifest.
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: open(direct), RunID: "killed", BackupQuiet: time.Second}); err != nil {
		t.Fatal(err)
	}

	t.Run("the fault turns 412 into a reset", func(t *testing.T) {
		p.Set(Faults{EarlyClose: true, Exists: exists})
		before := p.Count.EarlyClose.Load()
		_, err := viaProxy.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("xroad/ss1/" + rels[0]),
			Body: bytes.NewReader(make([]byte, 1<<20)), IfNoneMatch: aws.String("*")},
			func(o *s3.Options) { o.ContinueHeaderThresholdBytes = -1 })
		if err == nil || store.IsCode(err, "PreconditionFailed") {
			t.Fatalf("plain conditional PUT through the proxy: %v; want a transport error", err)
		}
		if got := p.Count.EarlyClose.Load() - before; got != 3 {
			t.Fatalf("the SDK sent the PUT %d times; want 3 (its default attempts)", got)
		}
	})

	for _, tc := range []struct {
		name         string
		faults       Faults
		raceHead     bool
		wantResets   int64
		wantAdoption bool
	}{
		// The run looks before writing a key no manifest records: no PUT.
		{name: "look first", faults: Faults{EarlyClose: true, Exists: exists}},
		// Stored between the look and the PUT; Expect: 100-continue lets
		// the server refuse before the body.
		{name: "stored after the look, Expect honoured", faults: Faults{EarlyClose: true, Exists: exists}, raceHead: true},
		// A server that ignores Expect and resets: one PUT per file, then
		// a HEAD finds the object; no blind resend.
		{name: "stored after the look, Expect ignored", faults: Faults{EarlyClose: true, IgnoreExpect: true, Exists: exists}, raceHead: true, wantResets: int64(len(rels))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forgetManifests(t, open(direct))
			p.Set(tc.faults)
			before := p.Count.EarlyClose.Load()
			s := open(viaProxy)
			if tc.raceHead {
				s = &seenOnce{Store: s, seen: map[string]bool{}}
			}
			res, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: s, RunID: "next-" + strings.ReplaceAll(tc.name, " ", "-"), BackupQuiet: time.Second, Concurrency: 1})
			if err != nil || res.Status != "ok" {
				t.Fatalf("run: status %s, error %v, failed %+v; want ok", res.Status, err, res.Failed)
			}
			if res.Adopted.Files != len(rels) || res.Uploaded.Files != 0 || len(res.Conflicts) != 0 {
				t.Fatalf("adopted %d, uploaded %d, conflicts %v; want %d adopted", res.Adopted.Files, res.Uploaded.Files, res.Conflicts, len(rels))
			}
			if got := p.Count.EarlyClose.Load() - before; got != tc.wantResets {
				t.Fatalf("%d conditional PUTs reset; want %d", got, tc.wantResets)
			}
			m, _, err := manifest.Latest(ctx, open(direct))
			if err != nil || m == nil {
				t.Fatalf("manifest: %v", err)
			}
			ix := manifest.NewIndex(m.Entries)
			for _, rel := range rels {
				e, ok := ix.Latest(rel)
				if !ok || e.Key != rel || e.KMSKeyID == "" {
					t.Errorf("%s: manifest entry %+v; want it recorded at its own key with its KMS key", rel, e)
				}
			}
		})
	}
}

// TestAdoptionRequiresSSEKMS: an object at the key with the same content
// but without SSE-KMS (written by something else) is never adopted; the
// run fails and records nothing.
func TestAdoptionRequiresSSEKMS(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.Bucket(t, false)
	direct := env.Client(t)
	src, rels := earlyCloseSource(t)
	plain, err := store.NewS3(direct, store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: plain, RunID: "killed", BackupQuiet: time.Second}); err != nil {
		t.Fatal(err)
	}
	forgetManifests(t, plain)
	// Replace one object by the same bytes and metadata without SSE-KMS.
	key := "xroad/ss1/" + rels[1]
	h, err := direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(filepath.Join(src, rels[1]))
	if _, err := direct.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), Metadata: h.Metadata}); err != nil {
		t.Fatal(err)
	}
	res, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: plain, RunID: "next", BackupQuiet: time.Second})
	if !errors.Is(err, store.ErrNotEncrypted) || res.Manifest != "" || !strings.Contains(err.Error(), rels[1]) {
		t.Fatalf("run: %v, manifest %q; want ErrNotEncrypted naming %s and no manifest", err, res.Manifest, rels[1])
	}
}

// prefixOnlyHeads answers a HEAD of a missing key with 403, as S3 does for
// a role that may list only its prefix (deploy/iam-policy.json).
type prefixOnlyHeads struct{ store.S3API }

func (p prefixOnlyHeads) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	out, err := p.S3API.HeadObject(ctx, in, o...)
	if err != nil && (store.IsCode(err, "NotFound") || store.IsCode(err, "NoSuchKey")) {
		return nil, &smithy.GenericAPIError{Code: "Forbidden", Message: "Forbidden"}
	}
	return out, err
}

// TestLookBeforeWriteToleratesForbiddenHeads: with the shipped IAM policy,
// S3 answers the look before a write of a new key with 403; that is not
// an access problem, and the run ships the new file and adopts the rest.
func TestLookBeforeWriteToleratesForbiddenHeads(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.Bucket(t, false)
	direct := env.Client(t)
	open := func(c store.S3API) store.Store {
		s, err := store.NewS3(c, store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	src, rels := earlyCloseSource(t)
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: open(direct), RunID: "killed", BackupQuiet: time.Second}); err != nil {
		t.Fatal(err)
	}
	forgetManifests(t, open(direct))
	fresh := "backup/conf_backup_20261101-000009.tar"
	old := time.Now().Add(-2 * time.Hour)
	if err := os.WriteFile(filepath.Join(src, fresh), make([]byte, 300<<10), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(src, fresh), old, old)
	res, err := s3sync.Run(ctx, s3sync.Options{Source: src, Store: open(prefixOnlyHeads{direct}), RunID: "next", BackupQuiet: time.Second})
	if err != nil || res.Adopted.Files != len(rels) || res.Uploaded.Files != 1 {
		t.Fatalf("run: %v, adopted %d, uploaded %d, failed %+v; want %d adopted and 1 uploaded", err, res.Adopted.Files, res.Uploaded.Files, res.Failed, len(rels))
	}
}
