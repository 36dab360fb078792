// Command xroadgen writes a sample X-Road archive directory for the demo,
// tests and benchmarks (a development tool; not shipped in the image).
//
//	go run ./tools/xroadgen -preset demo -dir /tmp/xroad
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xroad-archiver/archiver/internal/progress"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

func main() {
	dir := flag.String("dir", "", "directory to create (like /var/lib/xroad)")
	preset := flag.String("preset", "demo", "demo (small) or bench (~1 GB: 24 x 32 MiB archives, 1,000 small ones, 3 backups)")
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
