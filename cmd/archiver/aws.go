package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// awsConfig loads the SDK's default configuration (AWS_REGION, profiles,
// AWS_ENDPOINT_URL_<SERVICE>, AWS_CA_BUNDLE, the default credential chain:
// IRSA, EKS Pod Identity, ...) for region (empty: the configured one).
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(awshttp.NewBuildableClient())}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, usageErrorf("no AWS region: set AWS_REGION or --region")
	}
	return cfg, nil
}
