// Package xroadgen generates realistic X-Road Security Server archive
// directories for tests, the demo and benchmarks: message-log archives whose
// .asice containers and linkinginfo hash chain are built exactly as X-Road
// builds them (chained across files, per group), .zip.gpg-named archives,
// configuration backups, and the working files a shipper must ignore.
//
// Output is deterministic for a given Options value. It must not be used to
// decide anything at run time; it only writes sample data.
package xroadgen

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Options says what to generate.
type Options struct {
	Dir   string    // archive directory to create (like /var/lib/xroad)
	Start time.Time // time of the first message record
	Seed  uint64

	Archives      int   // plain mlog-*.zip archives of about ArchiveSize bytes
	ArchiveSize   int64 // X-Road rotates at archive-max-filesize (32 MiB)
	SmallArchives int   // small archives (end of a transaction batch)
	SmallSize     int64
	Encrypted     int // archives written as .zip.gpg (OpenPGP-framed random bytes)
	// Groups are client ids for archive-grouping=member; empty means none.
	Groups []string

	Backups      int // backup/*.gpg configuration backups
	BackupSize   int64
	LegacyBackup bool // also one pre-7.0 backup/ss-automatic-backup-*.tar

	WorkingFiles bool // tmp-mlog-*.tmp, dbdump.dat, restore_lock, pre-restore tar
	// Algorithm is hash-algo-id as X-Road writes it in linkinginfo line 1
	// (SHA-512 by default; SHA-224 and the others NewHash knows).
	Algorithm string

	// DropFirst removes each group's first DropFirst archives after
	// writing them: history that starts mid-chain, as on a server whose
	// older archives were moved off before archiver was installed.
	DropFirst int
	// Legacy writes the first Legacy archives with X-Road 6.x names
	// (mlog-X-Y-<10 random alphanumerics>.zip, no group): a server
	// upgraded from 6.x. With no Groups, later archives continue their
	// chain, as X-Road 7 does after an upgrade.
	Legacy int
	// RestartAfter resets every group's chain head after that many
	// archives (0: never): the message-log database was reset, and the
	// next archive of each group starts a new chain ("- - ALG").
	RestartAfter int
	// Zone is the JVM's default zone the X and Y fields are written in
	// (UTC when nil).
	Zone *time.Location
	// PGP signs and encrypts the Encrypted archives as X-Road's gpg call
	// does; nil writes opaque OpenPGP-framed bytes instead.
	PGP *PGP
}

// Demo is a small tree: a few archives in two groups, encrypted archives,
// backups and working files.
func Demo(dir string) Options {
	return Options{Dir: dir, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Seed: 1,
		Archives: 4, ArchiveSize: 512 << 10, SmallArchives: 6, SmallSize: 24 << 10, Encrypted: 2,
		Groups: []string{"EE/GOV/70000310", "EE/COM/12345678/portal"}, Backups: 2, BackupSize: 256 << 10,
		LegacyBackup: true, WorkingFiles: true, Algorithm: "SHA-512"}
}

// Bench is the benchmark tree (~1 GB): 24 x 32 MiB archives, 1,000 small
// ones and three backups.
func Bench(dir string) Options {
	return Options{Dir: dir, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Seed: 42,
		Archives: 24, ArchiveSize: 32 << 20, SmallArchives: 1000, SmallSize: 150 << 10, Encrypted: 0,
		Backups: 3, BackupSize: 16 << 20, WorkingFiles: true, Algorithm: "SHA-512"}
}

// File is one generated file.
type File struct {
	Rel  string // slash path relative to Dir
	Size int64
	Kind xroad.Kind
}

// Generate writes the tree and returns what it wrote, in creation order.
func Generate(o Options) ([]File, error) {
	if o.Algorithm == "" {
		o.Algorithm = "SHA-512"
	}
	g := &gen{o: o, rnd: rand.New(rand.NewChaCha8(seed32(o.Seed))), now: o.Start, heads: map[string]head{}}
	if err := os.MkdirAll(filepath.Join(o.Dir, xroad.BackupDir), 0o755); err != nil {
		return nil, err
	}
	out, err := g.archives()
	if err != nil {
		return out, err
	}
	return g.others(out)
}

// archives writes the message-log archives (chained per group, some
// encrypted, the first of each group dropped when asked).
func (g *gen) archives() ([]File, error) {
	o := g.o
	groups := []string{""}
	if len(o.Groups) > 0 {
		groups = nil
		for _, c := range o.Groups {
			groups = append(groups, xroad.EscapeGroup(c))
		}
	}
	type job struct {
		size int64
		enc  bool
	}
	var jobs []job
	for i := 0; i < o.Archives; i++ {
		jobs = append(jobs, job{o.ArchiveSize, false})
	}
	for i := 0; i < o.SmallArchives; i++ {
		jobs = append(jobs, job{o.SmallSize, false})
	}
	// Spread encrypted archives through the sequence so chains cross them.
	for i := 0; i < o.Encrypted; i++ {
		at := (i + 1) * len(jobs) / (o.Encrypted + 1)
		jobs = append(jobs[:at], append([]job{{o.SmallSize * 2, true}}, jobs[at:]...)...)
	}
	var out []File
	perGroup := map[string][]string{}
	for i, j := range jobs {
		if o.RestartAfter > 0 && i > 0 && i%o.RestartAfter == 0 {
			g.heads = map[string]head{} // LAST_ARCHIVE_DIGEST emptied
		}
		group := groups[i%len(groups)]
		legacy := i < o.Legacy
		if legacy {
			group = ""
		}
		f, err := g.archive(group, j.size, j.enc && !legacy, legacy)
		if err != nil {
			return out, err
		}
		perGroup[group] = append(perGroup[group], f.Rel)
		out = append(out, f)
	}
	if o.DropFirst > 0 {
		drop := map[string]bool{}
		for _, names := range perGroup {
			for _, n := range names[:min(o.DropFirst, len(names))] {
				drop[n] = true
				if err := os.Remove(filepath.Join(o.Dir, n)); err != nil {
					return out, err
				}
			}
		}
		kept := out[:0]
		for _, f := range out {
			if !drop[f.Rel] {
				kept = append(kept, f)
			}
		}
		out = kept
	}
	return out, nil
}

// others appends the configuration backups and, when asked, a legacy
// backup and the working files X-Road leaves beside them to out.
func (g *gen) others(out []File) ([]File, error) {
	o := g.o
	for i := 0; i < o.Backups; i++ {
		t := o.Start.Add(time.Duration(i) * 24 * time.Hour).Add(3*time.Hour + 15*time.Minute)
		name := fmt.Sprintf("ss-automatic-backup-%s.gpg", t.Format("2006_01_02_150405"))
		if i%2 == 1 {
			name = fmt.Sprintf("conf_backup_%s.gpg", t.Format("20060102-150405"))
		}
		f, err := g.opaque(xroad.BackupDir+"/"+name, o.BackupSize, true)
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	if o.LegacyBackup {
		t := o.Start.AddDate(-2, 0, 0)
		f, err := g.opaque(xroad.BackupDir+"/ss-automatic-backup-"+t.Format("2006_01_02_150405")+".tar", o.BackupSize/2+1, false)
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	if o.WorkingFiles {
		for _, w := range []struct {
			rel  string
			size int64
		}{{"tmp-mlog-8417603912351170315.tmp", 64 << 10}, {"dbdump.dat", 32 << 10}, {"restore_lock", 0},
			{"conf_prerestore_backup.tar", 16 << 10}, {xroad.BackupDir + "/restore_in_progress", 0}} {
			f, err := g.opaque(w.rel, w.size, false)
			if err != nil {
				return out, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func seed32(s uint64) [32]byte {
	var b [32]byte
	for i := 0; i < 4; i++ {
		s = s*6364136223846793005 + 1442695040888963407
		for j := 0; j < 8; j++ {
			b[i*8+j] = byte(s >> (8 * j))
		}
	}
	return b
}

type head struct{ digest, name string }

type gen struct {
	o     Options
	rnd   *rand.Rand
	now   time.Time
	seq   int64
	heads map[string]head
}

// archive writes one message-log archive of about size bytes in group g.
func (g *gen) archive(group string, size int64, encrypted, legacy bool) (File, error) {
	h := g.heads[group]
	chain, err := xroad.NewChain(g.o.Algorithm, h.digest)
	if err != nil {
		return File{}, err
	}
	li := xroad.LinkingInfo{PrevDigest: h.digest, PrevArchive: h.name, Algorithm: g.o.Algorithm}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// X-Road writes entries with DEFLATE at level 0.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.NoCompression) })
	first := g.now
	var asice bytes.Buffer
	for int64(buf.Len()) < size || len(li.Entries) == 0 {
		g.now = g.now.Add(time.Duration(1+g.rnd.IntN(4000)) * time.Millisecond)
		g.seq++
		asice.Reset()
		kind := "request"
		if g.seq%2 == 0 {
			kind = "response"
		}
		if err := g.container(&asice, kind); err != nil {
			return File{}, err
		}
		name := fmt.Sprintf("%s-%s-%s.asice", g.queryID(), kind, strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(be(g.seq))))
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: g.now})
		if err != nil {
			return File{}, err
		}
		if _, err := w.Write(asice.Bytes()); err != nil {
			return File{}, err
		}
		d, _ := chain.Add(bytes.NewReader(asice.Bytes()))
		li.Entries = append(li.Entries, xroad.LinkEntry{Digest: d, Name: name})
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: xroad.LinkingInfoEntry, Method: zip.Deflate, Modified: g.now})
	if err != nil {
		return File{}, err
	}
	w.Write(li.Format())
	if err := zw.Close(); err != nil {
		return File{}, err
	}
	zone := g.o.Zone
	if zone == nil {
		zone = time.UTC
	}
	an := xroad.ArchiveName{Group: group, First: first.In(zone).Truncate(time.Second), Last: g.now.In(zone).Truncate(time.Second), Digest: chain.Last()[:16], Encrypted: encrypted}
	if legacy {
		an.Digest, an.Legacy, an.Random = "", true, g.alnum(10)
	}
	name := an.String()
	data := buf.Bytes()
	if encrypted && g.o.PGP != nil {
		var err error
		if data, err = g.o.PGP.seal(data); err != nil { // gpg wrote into the tmp file
			return File{}, err
		}
	} else if encrypted {
		data = g.pgp(int64(len(data)) + 600)
	}
	g.heads[group] = head{digest: chain.Last(), name: name}
	g.now = g.now.Add(time.Minute)
	return g.write(name, data, xroad.Classify(name), g.now)
}

// container writes one ASiC-E container with X-Road's entries.
func (g *gen) container(w io.Writer, kind string) error {
	zw := zip.NewWriter(w)
	mt, err := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store, Modified: g.now})
	if err != nil {
		return err
	}
	io.WriteString(mt, "application/vnd.etsi.asic-e+zip")
	payload := g.text(800 + g.rnd.IntN(6000))
	entries := []struct{ name, body string }{
		{"message.xml", fmt.Sprintf(soapTemplate, g.queryID(), kind, g.now.Format(time.RFC3339Nano), payload)},
		{"META-INF/signatures.xml", fmt.Sprintf(sigTemplate, g.b64(256), g.b64(1200+g.rnd.IntN(400)), g.b64(900))},
		{"META-INF/manifest.xml", manifestXML},
		{"ts-hashchain.xml", fmt.Sprintf(hashChainTemplate, g.b64(64), g.b64(64))},
		{"META-INF/timestamp.tst", g.b64(1800)},
	}
	for _, e := range entries {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: g.now})
		if err != nil {
			return err
		}
		io.WriteString(f, e.body)
	}
	return zw.Close()
}

func (g *gen) queryID() string {
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", g.rnd.Uint32(), g.rnd.Uint32()&0xffff, g.rnd.Uint32()&0xfff, g.rnd.Uint32()&0xfff, g.rnd.Uint64()&0xffffffffffff)
}

var words = strings.Fields("isikukood nimi aadress kinnistu registrikood staatus kuupaev summa teenus paring vastus andmed kehtiv " +
	"person name address parcel register status date amount service request response data valid true false 2026 EE 38001085718")

func (g *gen) text(n int) string {
	var b strings.Builder
	for b.Len() < n {
		w := words[g.rnd.IntN(len(words))]
		fmt.Fprintf(&b, "<%s>%s-%d</%s>", w, words[g.rnd.IntN(len(words))], g.rnd.IntN(100000), w)
	}
	return b.String()
}

// alnum is RandomStringUtils.randomAlphanumeric(n).
func (g *gen) alnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rnd.IntN(len(chars))]
	}
	return string(b)
}

func (g *gen) b64(n int) string {
	raw := make([]byte, n*3/4)
	for i := range raw {
		raw[i] = byte(g.rnd.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// pgp returns about n bytes of a well-formed binary OpenPGP encrypted
// message whose content is random (no key can open it): a public-key
// encrypted session key packet (version 3, RSA, a 2048-bit MPI), then an
// integrity-protected encrypted data packet, as gpg --encrypt frames them.
func (g *gen) pgp(n int64) []byte {
	rnd := func(b []byte) {
		for i := 0; i < len(b); i += 8 {
			v := g.rnd.Uint64()
			for j := 0; j < 8 && i+j < len(b); j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	pkesk := make([]byte, 3+1+8+1+2+256)
	rnd(pkesk)
	pkesk[0], pkesk[1], pkesk[2] = 0x85, 0x01, 0x0c // old format, tag 1, length 268
	pkesk[3], pkesk[12] = 3, 1                      // version 3, RSA
	pkesk[13], pkesk[14] = 0x08, 0x00               // MPI of 2048 bits
	pkesk[15] |= 0x80
	body := max(n-int64(len(pkesk))-6, 2)
	data := make([]byte, 6+body)
	rnd(data)
	data[0], data[1] = 0xd2, 0xff // new format, tag 18, five-octet length
	data[2], data[3], data[4], data[5] = byte(body>>24), byte(body>>16), byte(body>>8), byte(body)
	data[6] = 1 // SEIPD version 1
	return append(pkesk, data...)
}

func (g *gen) opaque(rel string, size int64, pgp bool) (File, error) {
	var data []byte
	if pgp {
		data = g.pgp(size)
	} else {
		data = []byte(g.text(int(size)))[:size]
	}
	return g.write(rel, data, xroad.Classify(rel), g.o.Start.Add(time.Duration(len(rel))*time.Minute))
}

func (g *gen) write(rel string, data []byte, kind xroad.Kind, mtime time.Time) (File, error) {
	p := filepath.Join(g.o.Dir, filepath.FromSlash(rel))
	if err := os.WriteFile(p, data, 0o640); err != nil {
		return File{}, err
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		return File{}, err
	}
	return File{Rel: rel, Size: int64(len(data)), Kind: kind}, nil
}

func be(v int64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return bytes.TrimLeft(b, "\x00")
}

const soapTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">
<SOAP-ENV:Header><xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>EE</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>70000310</id:memberCode><id:subsystemCode>portal</id:subsystemCode></xrd:client>
<xrd:service id:objectType="SERVICE"><id:xRoadInstance>EE</id:xRoadInstance><id:memberClass>COM</id:memberClass><id:memberCode>12345678</id:memberCode><id:serviceCode>getPerson</id:serviceCode><id:serviceVersion>v1</id:serviceVersion></xrd:service>
<xrd:id>%s</xrd:id><xrd:protocolVersion>4.0</xrd:protocolVersion><xrd:userId>EE38001085718</xrd:userId><xrd:kind>%s</xrd:kind><xrd:issued>%s</xrd:issued></SOAP-ENV:Header>
<SOAP-ENV:Body><getPerson>%s</getPerson></SOAP-ENV:Body></SOAP-ENV:Envelope>`

const sigTemplate = `<?xml version="1.0" encoding="UTF-8"?><asic:XAdESSignatures xmlns:asic="http://uri.etsi.org/02918/v1.2.1#"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="ID-1"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"/><ds:Reference URI="/message.xml"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/><ds:DigestValue>%s</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>%s</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature></asic:XAdESSignatures>`

const manifestXML = `<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.etsi.asic-e+zip"/><manifest:file-entry manifest:full-path="message.xml" manifest:media-type="text/xml"/></manifest:manifest>`

const hashChainTemplate = `<?xml version="1.0" encoding="UTF-8"?><hashChain xmlns="http://x-road.eu/xsd/hashchain.xsd"><hashStep id="s0"><dataRef URI="/message.xml"><ds:DigestMethod xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/><ds:DigestValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#">%s</ds:DigestValue></dataRef><stepRef URI="#s1"><ds:DigestValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#">%s</ds:DigestValue></stepRef></hashStep></hashChain>`
