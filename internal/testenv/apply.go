package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Objects reads the Kubernetes objects of a multi-document YAML file.
func Objects(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	out, err := readObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readObjects(file string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// Applier applies objects the way kubectl apply --server-side does.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// Applier returns an applier acting as the test API server's admin.
func (k KubeEnv) Applier(t testing.TB) Applier {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	return Applier{dyn: dynamic.NewForConfigOrDie(k.Config), mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// Apply applies o (dryRun: validated and admitted by the server, not stored).
func (a Applier) Apply(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(o.Object)
	var obj unstructured.Unstructured
	obj.UnmarshalJSON(b)
	opts := metav1.ApplyOptions{FieldManager: "archiver-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	r := a.dyn.Resource(m.Resource)
	if o.GetNamespace() != "" {
		_, err = r.Namespace(o.GetNamespace()).Apply(ctx, o.GetName(), &obj, opts)
	} else {
		_, err = r.Apply(ctx, o.GetName(), &obj, opts)
	}
	return err
}

// ApplyFiles applies every object of the files, for real.
func (a Applier) ApplyFiles(t testing.TB, files ...string) {
	t.Helper()
	for _, f := range files {
		for _, o := range Objects(t, f) {
			if err := a.Apply(context.Background(), o, false); err != nil {
				t.Fatalf("%s: %s %s: %v", f, o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// EnsureNamespace creates ns unless it exists (it is kept: deploy's
// manifests name fixed namespaces).
func (k KubeEnv) EnsureNamespace(t testing.TB, ns string) {
	t.Helper()
	_, err := k.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// ServiceAccountConfig returns a client configuration and a kubeconfig
// file that act as the ServiceAccount ns/name (a bound token, 10 min).
func (k KubeEnv) ServiceAccountConfig(t testing.TB, ns, name string) (*rest.Config, string) {
	t.Helper()
	exp := int64(600)
	tr, err := k.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	cfg := rest.AnonymousClientConfig(k.Config)
	cfg.BearerToken = tr.Status.Token
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, CertificateAuthority: cfg.CAFile, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "sa"}
	kc.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "kubeconfig-"+name)
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// WaitAllowed waits (up to 15 s) until cfg's identity may do what ra
// describes: the API server authorizes from informer caches, so a Role
// or binding applied a moment ago may not be in effect yet.
func WaitAllowed(t testing.TB, cfg *rest.Config, ra authorizationv1.ResourceAttributes) {
	t.Helper()
	c := kubernetes.NewForConfigOrDie(cfg)
	var last string
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(),
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}}, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			return
		}
		last = fmt.Sprintf("%v %+v", err, r)
	}
	t.Fatalf("%s %s in %q not allowed after 15s: %s", ra.Verb, ra.Resource, ra.Namespace, last)
}
