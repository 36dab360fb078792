package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// upload is an interrupted or new multipart upload.
type upload struct {
	id    string
	parts map[int32]types.Part
}

func (s *S3) findUpload(ctx context.Context, full string, after time.Time) (*upload, error) {
	ups, err := s.listUploads(ctx, full)
	if err != nil {
		return nil, err
	}
	var best *types.MultipartUpload
	for i := range ups {
		u := ups[i]
		if aws.ToString(u.Key) != full || u.Initiated == nil || !u.Initiated.After(after) {
			continue
		}
		if u.ChecksumAlgorithm != "" && u.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32c {
			continue
		}
		if best == nil || u.Initiated.After(*best.Initiated) {
			best = &u
		}
	}
	if best == nil {
		return nil, nil
	}
	up := &upload{id: aws.ToString(best.UploadId), parts: map[int32]types.Part{}}
	lp := &s3.ListPartsInput{Bucket: &s.o.Bucket, Key: &full, UploadId: best.UploadId}
	for {
		out, err := s.api.ListParts(ctx, lp)
		if err != nil {
			if IsCode(err, "NoSuchUpload") {
				return nil, nil
			}
			return nil, s.mapErr(err)
		}
		for _, p := range out.Parts {
			up.parts[aws.ToInt32(p.PartNumber)] = p
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		lp.PartNumberMarker = out.NextPartNumberMarker
	}
	return up, nil
}

func (s *S3) create(ctx context.Context, key string, m Meta) (string, error) {
	mode, until := s.lock()
	out, err := s.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeFullObject,
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: &s.o.KMSKeyID, BucketKeyEnabled: s.bucketKey(),
		Metadata: m.toMap(), ObjectLockMode: mode, ObjectLockRetainUntilDate: until,
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload %s: %w", key, s.mapErr(err))
	}
	// Some servers (MinIO) report no encryption on CreateMultipartUpload;
	// the HEAD after completion is authoritative, this only fails early.
	if out.ServerSideEncryption != "" {
		if err := s.checkEncrypted(key, string(out.ServerSideEncryption), aws.ToString(out.SSEKMSKeyId)); err != nil {
			s.abort(key, aws.ToString(out.UploadId))
			return "", err
		}
	}
	return aws.ToString(out.UploadId), nil
}

// abort removes an upload; it runs even when ctx was cancelled.
func (s *S3) abort(key, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id})
}

func (s *S3) uploadPart(ctx context.Context, key, id string, n int32, body io.ReadSeeker, size int64, crc uint32) (types.CompletedPart, error) {
	out, err := s.api.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id, PartNumber: aws.Int32(n),
		Body: limit(ctx, body, s.o.Limiter), ContentLength: aws.Int64(size), ChecksumCRC32C: aws.String(crcB64(crc)),
	})
	if err != nil {
		return types.CompletedPart{}, fmt.Errorf("upload part %d of %s: %w", n, key, s.mapErr(err))
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32C: aws.String(crcB64(crc))}, nil
}

func reusable(up *upload, n int32, size int64, crc uint32) (types.CompletedPart, bool) {
	if up == nil {
		return types.CompletedPart{}, false
	}
	p, ok := up.parts[n]
	if !ok || aws.ToInt64(p.Size) != size || aws.ToString(p.ChecksumCRC32C) != crcB64(crc) {
		return types.CompletedPart{}, false
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.ETag, ChecksumCRC32C: p.ChecksumCRC32C}, true
}

func (s *S3) startOrResume(ctx context.Context, key string, p Payload, m Meta, resume bool) (*upload, bool, error) {
	if resume {
		up, err := s.findUpload(ctx, s.full(key), p.ResumeAfter)
		if err != nil {
			return nil, false, fmt.Errorf("look for interrupted upload of %s: %w", key, err)
		}
		if up != nil {
			return up, true, nil
		}
	}
	id, err := s.create(ctx, key, m)
	if err != nil {
		return nil, false, err
	}
	return &upload{id: id}, false, nil
}

// putMultipart uploads p in parts, resuming an interrupted upload of the
// same key when one qualifies. If the server refuses to complete a resumed
// upload because its parts do not add up to the file's checksum (seen once
// in the crash campaign, after a kill: XAmzContentChecksumMismatch on
// completion), that upload is aborted and the file is sent once more in a
// fresh upload; a file that really changed fails that one too.
func (s *S3) putMultipart(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	obj, resumed, err := s.putParts(ctx, key, p, m, true)
	if err != nil && resumed && errors.Is(err, ErrChanged) && ctx.Err() == nil {
		s.abortAll(key, p.ResumeAfter)
		obj, _, err = s.putParts(ctx, key, p, m, false)
	}
	return obj, err
}

// abortAll removes every interrupted upload of key that putParts could
// resume, so the fresh attempt is the only one left.
func (s *S3) abortAll(key string, after time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ups, err := s.listUploads(ctx, s.full(key))
	if err != nil {
		return
	}
	for _, u := range ups {
		if aws.ToString(u.Key) == s.full(key) && u.Initiated != nil && u.Initiated.After(after) {
			s.abort(key, aws.ToString(u.UploadId))
		}
	}
}

func (s *S3) putParts(ctx context.Context, key string, p Payload, m Meta, resume bool) (Object, bool, error) {
	up, resumed, err := s.startOrResume(ctx, key, p, m, resume)
	if err != nil {
		return Object{}, false, err
	}
	ps := s.PartSizeFor(p.Size)
	nparts := int32((p.Size + ps - 1) / ps)
	parts := make([]types.CompletedPart, nparts)
	var reusedBytes int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for i := int32(0); i < nparts; i++ {
		if err := s.acquire(gctx); err != nil {
			break
		}
		off := int64(i) * ps
		size := min(ps, p.Size-off)
		n := i + 1
		g.Go(func() error {
			defer s.release()
			sec := io.NewSectionReader(p.At, off, size)
			h := crc32.New(castagnoli)
			if _, err := io.Copy(h, sec); err != nil {
				return fmt.Errorf("read part %d of %s: %w", n, key, err)
			}
			if cp, ok := reusable(up, n, size, h.Sum32()); ok {
				parts[n-1] = cp
				mu.Lock()
				reusedBytes += size
				mu.Unlock()
				return nil
			}
			cp, err := s.uploadPart(gctx, key, up.id, n, io.NewSectionReader(p.At, off, size), size, h.Sum32())
			parts[n-1] = cp
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Object{}, resumed, s.failed(ctx, key, up.id, err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, resumed, s.failed(ctx, key, up.id, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			s.abort(key, up.id)
			return Object{}, resumed, err
		}
	}
	obj, err := s.complete(ctx, key, up.id, parts, p.CRC32C, p.Size, m)
	obj.Resumed, obj.ResumedBytes = resumed && reusedBytes > 0, reusedBytes
	return obj, resumed, err
}

// failed decides what happens to an upload after a part failed. A fatal
// or content error aborts it, and so does a graceful stop (ctx cancelled,
// e.g. SIGTERM): nothing is left behind. A network error leaves it for the
// next run to resume, as does a crash, which never gets here.
func (s *S3) failed(ctx context.Context, key, id string, err error) error {
	if IsFatal(err) || errors.Is(err, ErrChanged) || ctx.Err() != nil {
		s.abort(key, id)
	}
	return err
}

func (s *S3) complete(ctx context.Context, key, id string, parts []types.CompletedPart, crc uint32, size int64, m Meta) (Object, error) {
	sort.Slice(parts, func(i, j int) bool { return aws.ToInt32(parts[i].PartNumber) < aws.ToInt32(parts[j].PartNumber) })
	out, err := s.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC32C:  aws.String(crcB64(crc)), ChecksumType: types.ChecksumTypeFullObject, MpuObjectSize: aws.Int64(size),
		IfNoneMatch: aws.String("*"),
	})
	if err != nil && ctx.Err() == nil && (unanswered(err) || IsCode(err, "NoSuchUpload")) {
		// No answer, or the SDK's retry found the upload gone: it may have
		// been completed by the attempt whose answer was lost. What is
		// stored decides.
		if serr := s.storedAfter(ctx, key, err); serr != nil {
			err = serr
		}
	}
	if err != nil {
		err = s.mapErr(err)
		if errors.Is(err, ErrExists) || errors.Is(err, ErrChanged) || IsFatal(err) {
			s.abort(key, id)
		}
		return Object{}, fmt.Errorf("complete upload of %s: %w", key, err)
	}
	// The response of CompleteMultipartUpload may lack the key id; HEAD
	// tells what was stored.
	obj, err := s.Head(ctx, key)
	if err != nil {
		return Object{}, fmt.Errorf("check uploaded %s: %w", key, err)
	}
	if aws.ToString(out.ChecksumCRC32C) != "" && out.ChecksumType == types.ChecksumTypeFullObject && aws.ToString(out.ChecksumCRC32C) != crcB64(crc) {
		return obj, fmt.Errorf("%s: stored checksum %s, sent %s: %w", key, aws.ToString(out.ChecksumCRC32C), crcB64(crc), ErrChanged)
	}
	return obj, s.checkEncrypted(key, obj.Encryption, obj.KMSKeyID)
}

// AbortIncomplete implements Store.
func (s *S3) AbortIncomplete(ctx context.Context, prefix string, keep func(string) bool) (int, error) {
	p := s.full(prefix)
	if prefix == "" && s.o.Prefix != "" {
		p = s.o.Prefix + "/"
	}
	ups, err := s.listUploads(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("list multipart uploads: %w", err)
	}
	if p != "" {
		// Some servers (MinIO) filter uploads only by an exact key or not
		// at all: list the bucket too and keep what is below the prefix.
		all, err := s.listUploads(ctx, "")
		if err != nil {
			return 0, fmt.Errorf("list multipart uploads: %w", err)
		}
		seen := map[string]bool{}
		for _, u := range ups {
			seen[aws.ToString(u.UploadId)] = true
		}
		for _, u := range all {
			if strings.HasPrefix(aws.ToString(u.Key), p) && !seen[aws.ToString(u.UploadId)] {
				ups = append(ups, u)
			}
		}
	}
	n := 0
	for _, u := range ups {
		k := s.rel(aws.ToString(u.Key))
		if keep != nil && keep(k) {
			continue
		}
		if _, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.o.Bucket, Key: u.Key, UploadId: u.UploadId}); err != nil && !IsCode(err, "NoSuchUpload") {
			return n, fmt.Errorf("abort upload of %s: %w", k, s.mapErr(err))
		}
		n++
	}
	return n, nil
}

func (s *S3) listUploads(ctx context.Context, prefix string) ([]types.MultipartUpload, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.o.Bucket, Prefix: &prefix}
	var ups []types.MultipartUpload
	for {
		out, err := s.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.mapErr(err)
		}
		ups = append(ups, out.Uploads...)
		if !aws.ToBool(out.IsTruncated) {
			return ups, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
