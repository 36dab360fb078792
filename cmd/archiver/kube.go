package main

import "github.com/xroad-archiver/archiver/internal/jobs"

// clients are the real services as every command reaches them: stores,
// the API server (in-cluster unless --kubeconfig is given, else kubectl's
// rules: --kubeconfig, $KUBECONFIG, ~/.kube/config) and AWS (the SDK's
// default configuration and credential chain).
func clients(kubeconfig string) jobs.Clients {
	return jobs.DefaultClients(kubeconfig, "archiver/"+version)
}
