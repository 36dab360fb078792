package store

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// ClientOptions configures the S3 client. Everything not set here comes
// from the AWS SDK's standard configuration: AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_CA_BUNDLE and the default
// credential chain (environment, shared files, IRSA web identity, EKS Pod
// Identity, IMDS).
type ClientOptions struct {
	EndpointURL string // overrides the SDK's endpoint resolution
	Region      string
	// PathStyle forces path-style addressing; it is on whenever a custom
	// endpoint is configured (MinIO and most S3-compatible servers).
	PathStyle   bool
	Credentials aws.CredentialsProvider // nil: the default chain
	MaxConns    int                     // idle connections kept per host
}

// NewS3Client builds an S3 client from the SDK's default configuration.
func NewS3Client(ctx context.Context, o ClientOptions) (*s3.Client, error) {
	conns := max(o.MaxConns, 16)
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = conns
		t.MaxIdleConns = conns * 2
	})
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(hc)}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	custom := o.EndpointURL != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" || cfg.BaseEndpoint != nil
	if cfg.Region == "" {
		if !custom {
			return nil, fmt.Errorf("no AWS region: set AWS_REGION or --region")
		}
		cfg.Region = "us-east-1"
	}
	// archiver sends its own checksums (CRC32C) on every write and checks
	// SHA-256 itself; the SDK's default extra CRC32 would be redundant.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
		}
		so.UsePathStyle = o.PathStyle || custom
		if transportProtected(so.BaseEndpoint) {
			// Over TLS (every AWS endpoint) or loopback the transport already
			// protects the body; its integrity is carried by the CRC32C that
			// S3 verifies. Plain HTTP across a network keeps signed bodies.
			so.APIOptions = append(so.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		}
	}), nil
}

// transportProtected reports whether requests to endpoint travel over TLS
// or stay on this host. The default (nil) endpoint is AWS over HTTPS.
func transportProtected(endpoint *string) bool {
	if endpoint == nil {
		return true
	}
	u, err := url.Parse(*endpoint)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withPayloadHash signs a request with a SHA-256 the caller already
// computed, instead of the SDK reading the body once more to compute it.
// The server checks the body against it, so the object's bytes are proven
// to have that SHA-256.
func withPayloadHash(hexSHA string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("archiver.PayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSHA), in)
				}), middleware.Before)
		})
	}
}
