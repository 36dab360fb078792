// Command testimages builds the container images the real test node runs
// (make testenv), offline, and is itself two of them. Test-only: none of
// this is shipped.
//
//	testimages pack -out DIR -archiver BIN   # DIR/{archiver,pause,primary}.tar (docker-archive, for ctr import)
//	testimages pause                         # the sandbox image: sleep until SIGTERM
//	testimages primary -data DIR -conf DIR   # a stand-in X-Road primary: writes X-Road-like archives, then sleeps
//	testimages sum DIR                       # what a workload reading a volume sees: "SHA-256  PATH" per file
//
// The images are tagged archiver.test/NAME:test and are imported with
// `ctr -n k8s.io images import`; pods use imagePullPolicy: Never.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/xroad-archiver/archiver/internal/ociimage"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// Image names, as pods refer to them.
const (
	ImageArchiver = "archiver.test/archiver:test"
	ImagePause    = "archiver.test/pause:test"
	ImagePrimary  = "archiver.test/primary:test"
)

func main() {
	if len(os.Args) < 2 {
		fail(2, "usage: testimages pack|pause|primary [flags]")
	}
	switch os.Args[1] {
	case "pack":
		pack(os.Args[2:])
	case "pause":
		waitForSignal()
	case "primary":
		primary(os.Args[2:])
	case "sum":
		if len(os.Args) != 3 {
			fail(2, "usage: testimages sum DIR")
		}
		if err := sum(os.Stdout, os.Args[2]); err != nil {
			fail(1, "sum: %v", err)
		}
	default:
		fail(2, "testimages: unknown command %q", os.Args[1])
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

func waitForSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func pack(args []string) {
	fs := flag.NewFlagSet("pack", flag.ExitOnError)
	out := fs.String("out", "", "directory for the image tarballs")
	archiver := fs.String("archiver", "", "static archiver binary")
	fs.Parse(args)
	if *out == "" || *archiver == "" {
		fail(2, "testimages pack: -out and -archiver are required")
	}
	self, err := os.Executable()
	if err != nil {
		fail(1, "testimages: %v", err)
	}
	for _, im := range []struct {
		file, ref string
		opts      ociimage.Options
	}{
		{"archiver.tar", ImageArchiver, ociimage.Options{Files: []ociimage.File{{Src: *archiver, Dst: "/archiver", Mode: 0o755}},
			Entrypoint: []string{"/archiver"}, User: "65532:65532"}},
		{"pause.tar", ImagePause, ociimage.Options{Files: []ociimage.File{{Src: self, Dst: "/testimages", Mode: 0o755}},
			Entrypoint: []string{"/testimages", "pause"}, User: "65535:65535"}},
		{"primary.tar", ImagePrimary, ociimage.Options{Files: []ociimage.File{{Src: self, Dst: "/testimages", Mode: 0o755}},
			Entrypoint: []string{"/testimages", "primary"}}},
	} {
		im.opts.Arch = runtime.GOARCH
		img, err := ociimage.Image(im.opts)
		if err != nil {
			fail(1, "testimages: %s: %v", im.ref, err)
		}
		path := filepath.Join(*out, im.file)
		f, err := os.Create(path)
		if err != nil {
			fail(1, "testimages: %v", err)
		}
		if err := ociimage.WriteTarball(f, im.ref, img); err != nil {
			fail(1, "testimages: %s: %v", path, err)
		}
		if err := f.Close(); err != nil {
			fail(1, "testimages: %v", err)
		}
	}
}

// primary plays the X-Road primary node's part in archiver's world: its
// /var/lib/xroad holds message-log archives and backups (written once, as
// X-Road writes them, if the volume is empty) and its configuration says it
// is the primary. Then it waits to be stopped, as a server does.
func primary(args []string) {
	fs := flag.NewFlagSet("primary", flag.ExitOnError)
	data := fs.String("data", "/var/lib/xroad", "archive directory")
	conf := fs.String("conf", "/etc/xroad", "configuration directory (conf.d/local.ini is written)")
	fs.Parse(args)
	if err := os.MkdirAll(filepath.Join(*conf, "conf.d"), 0o755); err != nil {
		fail(1, "primary: %v", err)
	}
	if err := os.WriteFile(filepath.Join(*conf, "conf.d", "local.ini"), []byte("[node]\ntype=master\n"), 0o644); err != nil {
		fail(1, "primary: %v", err)
	}
	ents, _ := os.ReadDir(*data)
	if len(ents) == 0 || len(ents) == 1 && ents[0].Name() == "lost+found" {
		o := xroadgen.Demo(*data)
		o.Start = time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Hour)
		files, err := xroadgen.Generate(o)
		if err != nil {
			fail(1, "primary: %v", err)
		}
		fmt.Printf("primary: wrote %d files to %s\n", len(files), *data)
	}
	fmt.Println("primary: ready")
	waitForSignal()
}

// sum prints the SHA-256 and slash path of every regular file below dir,
// in walk order.
func sum(w io.Writer, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		_, err = fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.ToSlash(rel))
		return err
	})
}
