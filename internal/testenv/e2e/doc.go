// Package e2e holds archiver's end-to-end tests on the real single-node
// Kubernetes of the test environment (scripts/testnode.sh, make testenv):
// deploy/ as shipped beside a stand-in X-Road primary, restore tests
// against real VolumeSnapshots, and pods killed mid-run. It has no code
// of its own outside its tests.
package e2e
