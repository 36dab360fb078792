package xroad

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// LinkingInfoEntry is the name of the zip entry that holds the hash chain.
const LinkingInfoEntry = "linkinginfo"

// LinkingInfo is the parsed linkinginfo entry of a message-log archive.
//
// Line 1 is "<prevDigest|-> <prevArchiveName|-> <ALG>"; each further line is
// "<chainDigestHex> <asiceName>", in zip order.
type LinkingInfo struct {
	PrevDigest  string // "" for the first archive of a group
	PrevArchive string // "" for the first archive of a group
	Algorithm   string // as written: SHA-512, SHA-384, SHA-256, SHA-224, ... (see NewHash)
	Entries     []LinkEntry
}

// LinkEntry is one chained container.
type LinkEntry struct {
	Digest string // lowercase hex chain digest d_i
	Name   string // the .asice entry name
}

// LastDigest is the chain head after the last entry (PrevDigest when empty).
func (li LinkingInfo) LastDigest() string {
	if len(li.Entries) == 0 {
		return li.PrevDigest
	}
	return li.Entries[len(li.Entries)-1].Digest
}

// ErrLinkingInfo marks a malformed linkinginfo entry.
var ErrLinkingInfo = errors.New("malformed linkinginfo")

// maxLinkingInfoLine bounds one line; asice names are at most ~260 bytes.
const maxLinkingInfoLine = 4096

// ParseLinkingInfo reads a linkinginfo entry.
func ParseLinkingInfo(r io.Reader) (LinkingInfo, error) {
	var li LinkingInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLinkingInfoLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return li, fmt.Errorf("%w: %v", ErrLinkingInfo, err)
		}
		return li, fmt.Errorf("%w: empty", ErrLinkingInfo)
	}
	// The previous archive's name may hold spaces (X-Road keeps them in
	// group names): the digest is the first field, the algorithm the last.
	line := sc.Text()
	d, rest, ok1 := strings.Cut(line, " ")
	prevName, alg, ok2 := cutLast(rest, " ")
	if !ok1 || !ok2 || prevName == "" || alg == "" {
		return li, fmt.Errorf("%w: line 1 is not \"<digest|-> <archive|-> <algorithm>\"", ErrLinkingInfo)
	}
	head := [3]string{d, prevName, alg}
	if _, err := NewHash(head[2]); err != nil {
		return li, fmt.Errorf("%w: line 1: %v", ErrLinkingInfo, err)
	}
	li.Algorithm = head[2]
	if head[0] != "-" {
		if !isLowerHex(head[0]) {
			return li, fmt.Errorf("%w: line 1: previous digest is not lowercase hex", ErrLinkingInfo)
		}
		li.PrevDigest = head[0]
	}
	if head[1] != "-" {
		li.PrevArchive = head[1]
	}
	if (li.PrevDigest == "") != (li.PrevArchive == "") {
		return li, fmt.Errorf("%w: line 1: previous digest and archive must both be set or both be -", ErrLinkingInfo)
	}
	for n := 2; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		d, name, ok := strings.Cut(line, " ")
		if !ok || name == "" || !isLowerHex(d) {
			return li, fmt.Errorf("%w: line %d: want \"<hex digest> <name>\"", ErrLinkingInfo, n)
		}
		li.Entries = append(li.Entries, LinkEntry{Digest: d, Name: name})
	}
	if err := sc.Err(); err != nil {
		return li, fmt.Errorf("%w: %v", ErrLinkingInfo, err)
	}
	return li, nil
}

// Format renders li exactly as X-Road's LinkingInfoBuilder does (LF endings).
func (li LinkingInfo) Format() []byte {
	var b strings.Builder
	b.WriteString(dash(li.PrevDigest) + " " + dash(li.PrevArchive) + " " + li.Algorithm + "\n")
	for _, e := range li.Entries {
		b.WriteString(e.Digest + " " + e.Name + "\n")
	}
	return []byte(b.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// NewHash returns the hash for an X-Road hash-algo-id as linkinginfo line 1
// names it. X-Road's writer hashes with MessageDigest.getInstance(name) and
// writes DigestAlgorithm's name: SHA-512 (the default), SHA-384, SHA-256,
// SHA-224, SHA-1 and MD5 (X-Road 6.x wrote the configured string as given,
// so the name is matched without regard to case, with Java's aliases).
// X-Road's own archive verifier accepts only SHA-256/384/512; archiver
// verifies every algorithm the writer can produce.
func NewHash(alg string) (hash.Hash, error) {
	switch strings.ToUpper(alg) {
	case "SHA-512", "SHA512":
		return sha512.New(), nil
	case "SHA-384", "SHA384":
		return sha512.New384(), nil
	case "SHA-256", "SHA256":
		return sha256.New(), nil
	case "SHA-224", "SHA224":
		return sha256.New224(), nil
	case "SHA-512/256":
		return sha512.New512_256(), nil
	case "SHA-512/224":
		return sha512.New512_224(), nil
	case "SHA3-256":
		return sha3.New256(), nil
	case "SHA3-384":
		return sha3.New384(), nil
	case "SHA3-512":
		return sha3.New512(), nil
	case "SHA3-224":
		return sha3.New224(), nil
	case "SHA-1", "SHA1", "SHA":
		return sha1.New(), nil
	case "MD5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("unsupported hash algorithm %q", alg)
}

// Chain computes the X-Road hash chain: d_i = hexH(d_{i-1} + hexH(asice_i)),
// where + joins the two lowercase hex strings and d_0 is the previous
// archive's last digest ("" for the first archive of a group).
type Chain struct {
	alg  string
	h    hash.Hash
	last string
	buf  []byte // Add's copy buffer, one per chain: an archive holds thousands of containers
}

// NewChain starts a chain after prev.
func NewChain(alg, prev string) (*Chain, error) {
	h, err := NewHash(alg)
	if err != nil {
		return nil, err
	}
	return &Chain{alg: alg, h: h, last: prev}, nil
}

// Add chains the container whose bytes r yields and returns the new digest.
func (c *Chain) Add(r io.Reader) (string, error) {
	c.h.Reset()
	if c.buf == nil {
		c.buf = make([]byte, 32<<10)
	}
	if _, err := io.CopyBuffer(c.h, r, c.buf); err != nil {
		return "", err
	}
	return c.AddDigest(hex.EncodeToString(c.h.Sum(nil))), nil
}

// AddDigest chains a container given the hex digest of its bytes.
func (c *Chain) AddDigest(containerHex string) string {
	c.h.Reset()
	io.WriteString(c.h, c.last)
	io.WriteString(c.h, containerHex)
	c.last = hex.EncodeToString(c.h.Sum(nil))
	return c.last
}

// Last is the current chain head.
func (c *Chain) Last() string { return c.last }
