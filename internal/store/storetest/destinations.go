package storetest

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// Destinations runs f once against a local directory and once against the
// test MinIO (a fresh bucket per store, small multipart parts so large
// payloads take the multipart path); newStore gives a new empty store.
func Destinations(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) store.Store)) {
	t.Run("local", func(t *testing.T) {
		f(t, func(t *testing.T) store.Store {
			s, err := store.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("s3", func(t *testing.T) {
		env := testenv.S3(t)
		f(t, func(t *testing.T) store.Store { return NewS3(t, env, env.Bucket(t, false), nil) })
	})
}

// NewS3 opens a store on the test MinIO under prefix xroad/ss1 with 5 MiB
// parts; mod adjusts the options.
func NewS3(t *testing.T, env testenv.S3Env, bucket string, mod func(*store.S3Options)) *store.S3 {
	t.Helper()
	o := store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey, PartSize: 5 << 20, MultipartThreshold: 5 << 20, Concurrency: 4}
	if mod != nil {
		mod(&o)
	}
	s, err := store.NewS3(env.Client(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
