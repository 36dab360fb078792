package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/xroad-archiver/archiver/internal/store"
)

// ErrConfig marks a setting the services refuse before anything ran (no
// AWS region): the command maps it to a usage error.
var ErrConfig = errors.New("configuration")

// configError is an ErrConfig with its own text.
type configError struct{ msg string }

func (e *configError) Error() string        { return e.msg }
func (e *configError) Is(target error) bool { return target == ErrConfig }

// Clients are the factories every job takes its clients from. A nil field
// is the real one (see DefaultClients).
type Clients struct {
	// OpenStore opens a destination to write; OpenReader to read.
	OpenStore  func(ctx context.Context, loc store.Location, o store.OpenOptions) (store.Store, error)
	OpenReader func(ctx context.Context, loc store.Location, o store.OpenOptions) (store.Reader, error)
	// Kube is the API server's configuration.
	Kube func() (*rest.Config, error)
	// AWS is the SDK configuration for region ("": the configured one).
	AWS func(ctx context.Context, region string) (aws.Config, error)
}

// DefaultClients are the real services: store.Open, the in-cluster or
// kubeconfig API server (see KubeConfig), and the SDK's default AWS
// configuration.
func DefaultClients(kubeconfig, userAgent string) Clients {
	return Clients{
		OpenStore:  store.Open,
		OpenReader: store.OpenReader,
		Kube:       func() (*rest.Config, error) { return KubeConfig(kubeconfig, userAgent) },
		AWS:        AWSConfig,
	}
}

func (c Clients) withDefaults() Clients {
	d := DefaultClients("", "archiver")
	if c.OpenStore == nil {
		c.OpenStore = d.OpenStore
	}
	if c.OpenReader == nil {
		c.OpenReader = d.OpenReader
	}
	if c.Kube == nil {
		c.Kube = d.Kube
	}
	if c.AWS == nil {
		c.AWS = d.AWS
	}
	return c
}

// KubeClient is a clientset from c.Kube.
func (c Clients) KubeClient() (kubernetes.Interface, error) {
	cfg, err := c.Kube()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// KubeConfig uses the in-cluster configuration when running in a pod
// (unless kubeconfig is given), and otherwise kubectl's rules: kubeconfig,
// $KUBECONFIG, ~/.kube/config.
func KubeConfig(kubeconfig, userAgent string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("KUBECONFIG") == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfig
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes configuration: %w", err)
	}
	cfg.UserAgent = userAgent
	return cfg, nil
}

// AWSConfig loads the SDK's default configuration (AWS_REGION, profiles,
// AWS_ENDPOINT_URL_<SERVICE>, AWS_CA_BUNDLE, the default credential chain:
// IRSA, EKS Pod Identity, ...) for region (empty: the configured one). No
// region at all is an ErrConfig.
func AWSConfig(ctx context.Context, region string) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(awshttp.NewBuildableClient())}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, &configError{"no AWS region: set AWS_REGION or --region"}
	}
	return cfg, nil
}

// CloudWatch is a CloudWatch client for region (alarms, metrics).
func (c Clients) CloudWatch(ctx context.Context, region string) (*cloudwatch.Client, error) {
	cfg, err := c.withDefaults().AWS(ctx, region)
	if err != nil {
		return nil, err
	}
	return cloudwatch.NewFromConfig(cfg), nil
}
