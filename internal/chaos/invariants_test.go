//go:build chaos

package chaos

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// inventory reads what the bucket holds under ss1/. Objects are never
// overwritten, so each key is HEADed once and remembered: the checks after
// every step cost one LIST plus a HEAD per new object.
type inventory struct {
	c     *s3.Client
	heads map[string]head
}

type head struct {
	path, sha string
	encrypted bool
}

func newInventory(c *s3.Client) *inventory { return &inventory{c: c, heads: map[string]head{}} }

// remote maps each object's source path to the SHA-256s stored for it, and
// counts objects without SSE-KMS.
func (inv *inventory) remote(t *testing.T) (map[string]map[string]bool, int) {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]bool{}
	unencrypted := 0
	p := s3.NewListObjectsV2Paginator(inv.c, &s3.ListObjectsV2Input{Bucket: aws.String("chaos"), Prefix: aws.String("ss1/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasPrefix(k, "ss1/.archiver/") {
				continue
			}
			h, ok := inv.heads[k]
			if !ok {
				ho, err := inv.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chaos"), Key: o.Key})
				if err != nil {
					t.Fatalf("head %s: %v", k, err)
				}
				path, _ := url.PathUnescape(ho.Metadata["archiver-path"])
				h = head{path: path, sha: ho.Metadata["archiver-sha256"], encrypted: ho.ServerSideEncryption == "aws:kms" && aws.ToString(ho.SSEKMSKeyId) != ""}
				inv.heads[k] = h
			}
			if !h.encrypted {
				unencrypted++
			}
			if out[h.path] == nil {
				out[h.path] = map[string]bool{}
			}
			out[h.path][h.sha] = true
		}
	}
	return out, unencrypted
}

// index is the latest committed manifest's index (empty before the first).
func (inv *inventory) index(t *testing.T) *manifest.Index {
	t.Helper()
	s, err := store.NewS3(inv.c, store.S3Options{Bucket: "chaos", Prefix: "ss1", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := manifest.Latest(context.Background(), s)
	if err != nil {
		t.Fatalf("latest manifest: %v", err)
	}
	if m == nil {
		return manifest.NewIndex(nil)
	}
	return manifest.NewIndex(m.Entries)
}

// uploads counts the multipart uploads in progress under ss1/.
func (inv *inventory) uploads(t *testing.T) int {
	t.Helper()
	out, err := inv.c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("chaos")})
	if err != nil {
		t.Fatalf("list uploads: %v", err)
	}
	n := 0
	for _, u := range out.Uploads {
		if strings.HasPrefix(aws.ToString(u.Key), "ss1/") {
			n++
		}
	}
	return n
}

// check proves the invariants after a step: every file ever created is
// still local with its SHA-256, or in S3 with that SHA-256 and recorded in
// the committed manifest (nothing pruned without proof); every object is
// SSE-KMS encrypted. It returns how many files are lost or pruned without
// proof, and how many are only remote (pruned).
func check(t *testing.T, s *source, inv *inventory) (lost, pruned int) {
	t.Helper()
	rem, unenc := inv.remote(t)
	if unenc > 0 {
		t.Errorf("%d objects without SSE-KMS", unenc)
	}
	var ix *manifest.Index
	for rel, want := range s.files {
		if got := sha(s.path(rel)); got == want {
			continue
		} else if got != "" {
			t.Errorf("%s changed locally", rel)
		}
		if ix == nil {
			ix = inv.index(t)
		}
		_, recorded := ix.WithSHA(rel, want)
		switch {
		case rem[rel][want] && recorded:
			pruned++
		case rem[rel][want]:
			lost++
			t.Errorf("PRUNED WITHOUT PROOF: %s is gone locally and its object is recorded in no committed manifest", rel)
		default:
			lost++
			t.Errorf("LOST: %s is neither local nor in S3 with SHA-256 %s", rel, want)
		}
	}
	return lost, pruned
}

// complete reports the files that the committed manifest does not record
// with their SHA-256 (after a clean run: none may be missing).
func complete(t *testing.T, s *source, inv *inventory) []string {
	t.Helper()
	ix := inv.index(t)
	var missing []string
	for rel, want := range s.files {
		if _, ok := ix.WithSHA(rel, want); !ok {
			missing = append(missing, rel)
		}
	}
	return missing
}
