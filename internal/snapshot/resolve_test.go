package snapshot

import (
	"strings"
	"testing"
)

func TestParseEBSHandle(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"vol-0123456789abcdef0", "vol-0123456789abcdef0", true},
		{"aws://eu-west-1a/vol-0123456789abcdef0", "vol-0123456789abcdef0", true},
		{"aws:///vol-0123456789abcdef0", "vol-0123456789abcdef0", true},
		{"vol-12345678", "vol-12345678", true},
		{"aws://eu-west-1a/", "", false},
		{"fs-12345678", "", false},
		{"vol-XYZ", "", false},
		{"aws://eu-west-1a/vol-0123/extra", "", false},
		{"", "", false},
	} {
		got, err := ParseEBSHandle(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseEBSHandle(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseEFSHandle(t *testing.T) {
	for _, tc := range []struct {
		in           string
		fs, path, ap string
		ok           bool
	}{
		{"fs-0123456789abcdef0", "fs-0123456789abcdef0", "", "", true},
		{"fs-12345678:", "fs-12345678", "", "", true},
		{"fs-12345678::", "fs-12345678", "", "", true},
		{"fs-12345678::fsap-0123456789abcdef0", "fs-12345678", "", "fsap-0123456789abcdef0", true},
		{"fs-12345678:/xroad", "fs-12345678", "/xroad", "", true},
		{"fs-12345678:/xroad:fsap-12345678", "fs-12345678", "/xroad", "fsap-12345678", true},
		{"fs-12345678:relative", "", "", "", false},
		{"fs-12345678:/a:fsap-1:x", "", "", "", false},
		{"vol-12345678", "", "", "", false},
		{"fs-12345678::ap-1", "", "", "", false},
	} {
		fs, path, ap, err := ParseEFSHandle(tc.in)
		if (err == nil) != tc.ok || fs != tc.fs || path != tc.path || ap != tc.ap {
			t.Errorf("ParseEFSHandle(%q) = %q %q %q, %v", tc.in, fs, path, ap, err)
		}
	}
}

func FuzzParseHandles(f *testing.F) {
	f.Add("aws://eu-west-1a/vol-0123456789abcdef0")
	f.Add("fs-12345678:/xroad:fsap-12345678")
	f.Fuzz(func(t *testing.T, h string) {
		if id, err := ParseEBSHandle(h); err == nil && !ebsID.MatchString(id) {
			t.Fatalf("ParseEBSHandle(%q) = %q", h, id)
		}
		if fs, _, ap, err := ParseEFSHandle(h); err == nil && (!efsID.MatchString(fs) || (ap != "" && !efsAP.MatchString(ap))) {
			t.Fatalf("ParseEFSHandle(%q) = %q %q", h, fs, ap)
		}
	})
}

// FuzzParseRef: an accepted reference has a non-empty namespace and name,
// neither holding a slash, and joins back to the input.
func FuzzParseRef(f *testing.F) {
	f.Add("sidecar/pvc-data-sidecar")
	f.Add("/name")
	f.Add("ns/")
	f.Add("a/b/c")
	f.Fuzz(func(t *testing.T, ref string) {
		ns, name, err := ParseRef(ref)
		if err != nil {
			return
		}
		if ns == "" || name == "" || strings.Contains(ns, "/") || strings.Contains(name, "/") || ns+"/"+name != ref {
			t.Fatalf("ParseRef(%q) = %q, %q", ref, ns, name)
		}
	})
}
