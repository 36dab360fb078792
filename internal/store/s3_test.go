package store_test

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

const testPart = 5 << 20

func newS3(t *testing.T, env testenv.S3Env, bucket string, mod func(*store.S3Options)) *store.S3 {
	t.Helper()
	o := store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey, PartSize: testPart, MultipartThreshold: testPart, Concurrency: 4}
	if mod != nil {
		mod(&o)
	}
	s, err := store.NewS3(env.Client(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	env := testenv.S3(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newS3(t, env, env.Bucket(t, false), nil)
	}, 2*testPart)
}
