package xroad

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Vectors computed independently with Python's hashlib:
// d1 = sha512hex("" + sha512hex(b"container-one")), d2 = sha512hex(d1 + sha512hex(b"container-two")).
const (
	vecD1 = "555446b9646b16bbd6207a756ca79fc8773540892e74d9c66ed2402962ee0ad22e58ce85178ec940309c05c1d88df5200dc562fc68a735ce8c8d87a1d58b1f49"
	vecD2 = "ca9078316e3f53cc949dd0ccee1dc565672c5deefb7d58c4b60ef0c12afa9369239090844a17cfabc7a3b9dd542028acc8c1d1c0b932435ed61acb1172256dec"
)

func TestChainKnownAnswer(t *testing.T) {
	c, err := NewChain("SHA-512", "")
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := c.Add(strings.NewReader("container-one"))
	d2, _ := c.Add(strings.NewReader("container-two"))
	if d1 != vecD1 || d2 != vecD2 || c.Last() != vecD2 {
		t.Fatalf("chain = %s, %s; want %s, %s", d1, d2, vecD1, vecD2)
	}
}

func TestLinkingInfoRoundTrip(t *testing.T) {
	li := LinkingInfo{PrevDigest: vecD1, PrevArchive: "mlog-20231023121255-20231023121255-9011ab557706b505.zip.gpg", Algorithm: "SHA-512",
		Entries: []LinkEntry{{Digest: vecD2, Name: "q 1-request-a.asice"}}}
	got, err := ParseLinkingInfo(bytes.NewReader(li.Format()))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(li, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if got.LastDigest() != vecD2 {
		t.Errorf("LastDigest = %s", got.LastDigest())
	}
	first, err := ParseLinkingInfo(strings.NewReader("- - SHA-256\n"))
	if err != nil || first.PrevDigest != "" || first.PrevArchive != "" || first.Algorithm != "SHA-256" {
		t.Errorf("first archive header: %+v, %v", first, err)
	}
}

// TestAlgorithms chains with every algorithm X-Road's writer can name;
// vectors computed independently with Python's hashlib:
// d1 = H("" + hexH(b"container-one")).
func TestAlgorithms(t *testing.T) {
	for alg, want := range map[string]string{
		"SHA-224": "8839229d29537e6380e14cd3e44b7e31771cf37c9b3f36ae0f6aa68a",
		"sha-224": "8839229d29537e6380e14cd3e44b7e31771cf37c9b3f36ae0f6aa68a",
		"SHA-256": "43ba28b6ac9b3732000f5cd2745c92b42eebd1b9235cf9f0860cdc6b8bb8e82c",
		"SHA-384": "cd05db11fc82bcf4dac5efbad5ecc7f93145d5f834f0781991af2d2b0490c38aa4681ecd47353f0f0dd1c2e0653ade9e",
		"SHA-512": vecD1,
		"SHA-1":   "f9424e065b796c2d736f00d20b10ed62cf84dc4e",
		"MD5":     "f751aaa48f5db22e53e95ebb309d7c2d",
	} {
		c, err := NewChain(alg, "")
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		d, _ := c.Add(strings.NewReader("container-one"))
		if want != "" && d != want {
			t.Errorf("%s: d1 = %s, want %s", alg, d, want)
		}
		li, err := ParseLinkingInfo(strings.NewReader("- - " + alg + "\n" + d + " a.asice\n"))
		if err != nil || li.Algorithm != alg {
			t.Errorf("%s: ParseLinkingInfo = %+v, %v", alg, li, err)
		}
	}
}

// TestLinkingInfoSpacedName: X-Road keeps spaces in group names, so line 1
// may name a predecessor with spaces.
func TestLinkingInfoSpacedName(t *testing.T) {
	prev := "mlog-EE_GOV_7000 0310_my sub-20210901100858-20210901100905-95b1f27097524105.zip"
	li, err := ParseLinkingInfo(strings.NewReader(vecD1 + " " + prev + " SHA-512\n" + vecD2 + " q 1-request-a.asice\n"))
	if err != nil || li.PrevArchive != prev || li.PrevDigest != vecD1 || li.Entries[0].Name != "q 1-request-a.asice" {
		t.Fatalf("ParseLinkingInfo = %+v, %v", li, err)
	}
}

func TestParseLinkingInfoErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"- - MD2\n",
		"- - SHA3-999\n",
		"- SHA-512\n",
		"abc - SHA-512\n",
		"- name.zip SHA-512\n",
		"ABCD name.zip SHA-512\n",
		"- - SHA-512\nnothex name\n",
		"- - SHA-512\nabcd\n",
		"- - SHA-512\n" + strings.Repeat("a", 5000) + " x\n",
	} {
		if _, err := ParseLinkingInfo(strings.NewReader(in)); !errors.Is(err, ErrLinkingInfo) {
			t.Errorf("ParseLinkingInfo(%.40q) error = %v, want ErrLinkingInfo", in, err)
		}
	}
}

func FuzzParseLinkingInfo(f *testing.F) {
	f.Add([]byte("- - SHA-512\n" + vecD1 + " a.asice\n"))
	f.Add([]byte(vecD1 + " mlog-x.zip SHA-256\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		li, err := ParseLinkingInfo(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := ParseLinkingInfo(bytes.NewReader(li.Format()))
		if err != nil {
			t.Fatalf("reparse of formatted %q: %v", li.Format(), err)
		}
		if d := cmp.Diff(li, again, cmp.Comparer(func(a, b []LinkEntry) bool { return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b)) })); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// TestChainAddReusesItsBuffer: an archive holds thousands of containers,
// and verify chains every one; a copy buffer per container was a quarter
// of verify's CPU in garbage collection. After the first container, Add
// allocates only the digests it returns, whatever the container's size.
func TestChainAddReusesItsBuffer(t *testing.T) {
	c, err := NewChain("SHA-512", "")
	if err != nil {
		t.Fatal(err)
	}
	container := bytes.Repeat([]byte("<SOAP-ENV:Envelope/>"), 5000) // 100 kB
	add := func() {
		if _, err := c.Add(struct{ io.Reader }{bytes.NewReader(container)}); err != nil {
			t.Fatal(err)
		}
	}
	add()
	const n = 200
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		add()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 4<<10 {
		t.Fatalf("Add allocates %d bytes per container, want under 4 KiB", per)
	}
}
