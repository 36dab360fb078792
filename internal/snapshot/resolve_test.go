package snapshot

import (
	"fmt"
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

func TestParseMounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want map[string]string // nil: refused
	}{
		{"none", nil, map[string]string{}},
		{"two", []string{"xroad/data=/mnt/data", "xroad/efs=/mnt/efs"}, map[string]string{"xroad/data": "/mnt/data", "xroad/efs": "/mnt/efs"}},
		{"path with =", []string{"xroad/data=/mnt/a=b"}, map[string]string{"xroad/data": "/mnt/a=b"}},
		{"later wins", []string{"xroad/data=/a", "xroad/data=/b"}, map[string]string{"xroad/data": "/b"}},
		{"relative", []string{"xroad/data=mnt"}, nil},
		{"no path", []string{"xroad/data"}, nil},
		{"empty path", []string{"xroad/data="}, nil},
		{"bad ref", []string{"data=/mnt"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMounts(tc.in)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "want NAMESPACE/NAME=/absolute/path") {
					t.Fatalf("got %v, %v; want an error naming the form", got, err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseMounts: an accepted entry maps a valid reference to an
// absolute path, and the two join back to the input.
func FuzzParseMounts(f *testing.F) {
	f.Add("xroad/data=/mnt/data")
	f.Add("xroad/data=relative")
	f.Add("=/x")
	f.Add("a/b/c=/x=y")
	f.Fuzz(func(t *testing.T, entry string) {
		m, err := ParseMounts([]string{entry})
		if err != nil {
			return
		}
		if len(m) != 1 {
			t.Fatalf("ParseMounts(%q) = %v, want one entry", entry, m)
		}
		for ref, path := range m {
			if _, _, err := ParseRef(ref); err != nil || !strings.HasPrefix(path, "/") || ref+"="+path != entry {
				t.Fatalf("ParseMounts(%q) = %q -> %q", entry, ref, path)
			}
		}
	})
}
