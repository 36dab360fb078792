package xroad

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrEvidence marks an archive whose content breaks X-Road's evidence
// rules: not a zip, no or bad linkinginfo, a chain digest that does not
// recompute, or a name whose Z field does not match the chain.
var ErrEvidence = errors.New("evidence check failed")

// ArchiveCheck is what CheckArchive learned about a valid archive.
type ArchiveCheck struct {
	Link       LinkingInfo
	Containers int
}

// CheckArchive verifies one plain .zip message-log archive: it is a valid
// zip, every .asice container is chained in zip order exactly as listed in
// the final linkinginfo entry, each chain digest recomputes, and, when name
// parses as an X-Road 7 archive name, its Z field equals the first 16 hex
// characters of the last digest (6.x names carry a random Z: not checked). It reads the containers through r and buffers nothing
// beyond one hash state. When only the name check fails, the returned
// ArchiveCheck is still filled in (Containers > 0): the chain itself holds.
func CheckArchive(r io.ReaderAt, size int64, name string) (ArchiveCheck, error) {
	var ac ArchiveCheck
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return ac, fmt.Errorf("%w: not a valid zip: %v", ErrEvidence, err)
	}
	var linkFile *zip.File
	var containers []*zip.File
	for i, f := range zr.File {
		switch {
		case f.Name == LinkingInfoEntry:
			if i != len(zr.File)-1 {
				return ac, fmt.Errorf("%w: linkinginfo is not the last entry", ErrEvidence)
			}
			linkFile = f
		case strings.HasSuffix(f.Name, ".asice"):
			containers = append(containers, f)
		default:
			return ac, fmt.Errorf("%w: unexpected entry %q", ErrEvidence, f.Name)
		}
	}
	if linkFile == nil {
		return ac, fmt.Errorf("%w: no linkinginfo entry", ErrEvidence)
	}
	if len(containers) == 0 {
		return ac, fmt.Errorf("%w: no .asice containers", ErrEvidence)
	}
	lr, err := linkFile.Open()
	if err != nil {
		return ac, fmt.Errorf("%w: open linkinginfo: %v", ErrEvidence, err)
	}
	li, err := ParseLinkingInfo(io.LimitReader(lr, 64<<20))
	lr.Close()
	if err != nil {
		return ac, fmt.Errorf("%w: %v", ErrEvidence, err)
	}
	ac.Link = li
	if len(li.Entries) != len(containers) {
		return ac, fmt.Errorf("%w: linkinginfo lists %d containers, zip holds %d", ErrEvidence, len(li.Entries), len(containers))
	}
	chain, err := NewChain(li.Algorithm, li.PrevDigest)
	if err != nil {
		return ac, fmt.Errorf("%w: %v", ErrEvidence, err)
	}
	for i, f := range containers {
		e := li.Entries[i]
		if e.Name != f.Name {
			return ac, fmt.Errorf("%w: linkinginfo line %d names %q, zip entry %d is %q", ErrEvidence, i+2, e.Name, i+1, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return ac, fmt.Errorf("%w: open %s: %v", ErrEvidence, f.Name, err)
		}
		d, err := chain.Add(rc)
		rc.Close()
		if err != nil {
			return ac, fmt.Errorf("%w: read %s: %v", ErrEvidence, f.Name, err)
		}
		if d != e.Digest {
			return ac, fmt.Errorf("%w: chain digest of %s (line %d) does not recompute", ErrEvidence, f.Name, i+2)
		}
	}
	ac.Containers = len(containers)
	if an, err := ParseArchiveName(name); err == nil && !an.Legacy { // 6.x names hold no digest
		if last := chain.Last(); !strings.HasPrefix(last, an.Digest) {
			return ac, fmt.Errorf("%w: name's Z %s is not the last digest's prefix %.16s", ErrEvidence, an.Digest, last)
		}
	}
	return ac, nil
}

// ReadLinkingInfo reads only the linkinginfo entry of a zip archive (the
// central directory and one entry), without hashing the containers.
func ReadLinkingInfo(r io.ReaderAt, size int64) (LinkingInfo, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return LinkingInfo{}, fmt.Errorf("%w: not a valid zip: %v", ErrEvidence, err)
	}
	for _, f := range zr.File {
		if f.Name != LinkingInfoEntry {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return LinkingInfo{}, fmt.Errorf("%w: open linkinginfo: %v", ErrEvidence, err)
		}
		defer rc.Close()
		return ParseLinkingInfo(io.LimitReader(rc, 64<<20))
	}
	return LinkingInfo{}, fmt.Errorf("%w: no linkinginfo entry", ErrEvidence)
}
