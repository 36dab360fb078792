// Command xroadgen writes a sample X-Road archive directory for the demo,
// tests and benchmarks (a development tool; not shipped in the image).
//
//	go run ./tools/xroadgen -preset demo -dir /tmp/xroad
//	go run ./tools/xroadgen -dir /tmp/xroad -drop-first 2 -legacy 3 -algorithm SHA-224 \
//	    -restart-after 5 -zone Europe/Tallinn -gpg-home /tmp/gpghome
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xroad-archiver/archiver/internal/progress"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

func main() {
	dir := flag.String("dir", "", "directory to create (like /var/lib/xroad)")
	preset := flag.String("preset", "demo", "demo (small) or bench (~1 GB: 24 x 32 MiB archives, 1,000 small ones, 3 backups)")
	dropFirst := flag.Int("drop-first", 0, "remove each group's first N archives: history that starts mid-chain")
	legacy := flag.Int("legacy", 0, "write the first N archives with X-Road 6.x names (random Z)")
	restart := flag.Int("restart-after", 0, "reset the chains after N archives (a message-log database reset)")
	alg := flag.String("algorithm", "", "hash-algo-id (default SHA-512; SHA-224, SHA-384, ...)")
	zone := flag.String("zone", "", "JVM zone X and Y are written in (default UTC)")
	gpgHome := flag.String("gpg-home", "", "generate a server key, write it as a GnuPG home here (and secret.asc beside it), and sign and encrypt the .zip.gpg archives with it")
	var groups []string
	flag.Func("group", "client id to group archives by (archive-grouping); repeatable, replaces the preset's", func(v string) error { groups = append(groups, v); return nil })
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "xroadgen: -dir is required")
		os.Exit(2)
	}
	var o xroadgen.Options
	switch *preset {
	case "demo":
		o = xroadgen.Demo(*dir)
	case "bench":
		o = xroadgen.Bench(*dir)
	default:
		fmt.Fprintf(os.Stderr, "xroadgen: unknown preset %q\n", *preset)
		os.Exit(2)
	}
	if len(groups) > 0 {
		o.Groups = groups
	}
	o.DropFirst, o.Legacy, o.RestartAfter = *dropFirst, *legacy, *restart
	if *alg != "" {
		o.Algorithm = *alg
	}
	if *zone != "" {
		loc, err := time.LoadLocation(*zone)
		if err != nil {
			fmt.Fprintln(os.Stderr, "xroadgen:", err)
			os.Exit(2)
		}
		o.Zone = loc
	}
	if *gpgHome != "" {
		pg, err := xroadgen.NewPGP("EE/GOV/70000310/ss1", 3072, o.Start)
		if err == nil {
			err = pg.WriteGnuPG1Home(*gpgHome)
		}
		if err == nil {
			var f *os.File
			if f, err = os.OpenFile(filepath.Join(filepath.Dir(filepath.Clean(*gpgHome)), "secret.asc"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				err = pg.ExportSecret(f, true)
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "xroadgen:", err)
			os.Exit(1)
		}
		o.PGP = pg
	}
	files, err := xroadgen.Generate(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xroadgen:", err)
		os.Exit(1)
	}
	count := map[xroad.Kind]int{}
	var total int64
	for _, f := range files {
		count[f.Kind]++
		total += f.Size
	}
	fmt.Printf("xroadgen: wrote %d files (%s) to %s: %d archives, %d encrypted archives, %d backups, %d working files to ignore\n",
		len(files), progress.Bytes(total), *dir, count[xroad.KindArchive], count[xroad.KindEncryptedArchive], count[xroad.KindBackup], count[xroad.KindIgnored])
}
