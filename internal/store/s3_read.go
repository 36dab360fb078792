package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Head implements Store.
func (s *S3) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return Object{}, fmt.Errorf("head %s: %w", key, s.mapErr(err))
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength), Meta: metaFromMap(out.Metadata), Encryption: string(out.ServerSideEncryption),
		KMSKeyID: aws.ToString(out.SSEKMSKeyId), CRC32C: aws.ToString(out.ChecksumCRC32C), LockMode: string(out.ObjectLockMode)}
	if out.LastModified != nil {
		o.LastModified = *out.LastModified
	}
	if out.ObjectLockRetainUntilDate != nil {
		o.RetainUntil = *out.ObjectLockRetainUntilDate
	}
	return o, nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key))})
	if err != nil {
		return nil, Object{}, fmt.Errorf("get %s: %w", key, s.mapErr(err))
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength), Meta: metaFromMap(out.Metadata), Encryption: string(out.ServerSideEncryption),
		KMSKeyID: aws.ToString(out.SSEKMSKeyId), LockMode: string(out.ObjectLockMode)}
	if out.LastModified != nil {
		o.LastModified = *out.LastModified
	}
	return out.Body, o, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p := s.full(prefix)
	if prefix == "" && s.o.Prefix != "" {
		p = s.o.Prefix + "/"
	}
	pg := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{Bucket: &s.o.Bucket, Prefix: &p})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, s.mapErr(err))
		}
		for _, c := range out.Contents {
			o := Object{Key: s.rel(aws.ToString(c.Key)), Size: aws.ToInt64(c.Size)}
			if c.LastModified != nil {
				o.LastModified = *c.LastModified
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key))})
	if err != nil && !errors.Is(s.mapErr(err), ErrNotFound) {
		return fmt.Errorf("delete %s: %w", key, s.mapErr(err))
	}
	return nil
}
