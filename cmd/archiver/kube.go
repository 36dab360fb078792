package main

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/xroad-archiver/archiver/internal/jobs"
)

// clients are the real services, as every command reaches them.
func clients(kubeconfig string) jobs.Clients {
	return jobs.DefaultClients(kubeconfig, "archiver/"+version)
}

// kubeClient uses the in-cluster configuration when running in a pod
// (unless --kubeconfig is given), and otherwise kubectl's rules: the
// --kubeconfig flag, $KUBECONFIG, ~/.kube/config.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	return clients(kubeconfig).KubeClient()
}

// kubeConfig finds the cluster the way kubeClient describes.
func kubeConfig(kubeconfig string) (*rest.Config, error) {
	return clients(kubeconfig).Kube()
}

// awsConfig loads the SDK's default configuration for region (empty: the
// configured one); no region at all is a usage error.
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	cfg, err := jobs.AWSConfig(ctx, region)
	if errors.Is(err, jobs.ErrConfig) {
		return cfg, usageErrorf("%v", err)
	}
	return cfg, err
}
