package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/logging"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/progress"
)

const exitCodesHelp = `Exit codes:
  0    success: everything was done
  1    error: the run could not proceed (destination, credentials, KMS key, source); nothing was deleted
  2    usage or configuration error
  3    partial: the run finished but some files failed (listed); they are retried by the next run
  4    verification failed (verify, verify-dir, restore-test)
  11   locked: another archiver holds the lock (run)
  12   secondary node: only the primary archives (run)
  13   not confirmed beside the X-Road primary pod (run)
  130  interrupted (SIGINT/SIGTERM)`

// restoreTestExitHelp is restore-test's exit codes (and restore --to-pvc's).
const restoreTestExitHelp = `Exit codes:
  0    restored and verified; everything created was deleted
  1    error: no backup, the restore or the verifier pod did not finish in time (with the
       scheduling or provisioning reason), Kubernetes or AWS refused
  2    usage error
  4    verification failed: the restored files that are missing or differ are named`

// errUsage marks command-line and configuration errors (exit 2).
var errUsage = errors.New("usage")

func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// flagProblem names the flag of the first problem of a section's check
// (config) that has one; an entry of a list or map ("pvcs[0]",
// "mounts.NS/NAME") has its list's or map's flag.
func flagProblem(ps []config.Problem, flags map[string]string) error {
	for _, p := range ps {
		f, ok := flags[p.Key]
		if !ok {
			f, ok = flags[p.Key[:strings.IndexAny(p.Key+".", "[.")]]
		}
		if ok {
			return usageErrorf("--%s: %s", f, p.Msg)
		}
	}
	return nil
}

type streams struct {
	in       io.Reader
	out, err io.Writer
}

type globalOptions struct {
	logging logging.Options
	streams streams
	log     *slog.Logger // built once the flags are parsed (setup)
}

func (g *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Var(&g.logging.Level, "log-level", "log level: debug, info, warn, error (default info; warn while a progress bar is shown)")
	fs.Var(&g.logging.Format, "log-format", "log format on stderr: json or text")
}

// bar is the progress bar labelled label when one is shown (stderr is a
// terminal, no --no-progress), with the default log level lowered to warn
// so it stays readable; nil otherwise.
func (g *globalOptions) bar(noProgress bool, label string) *progress.Bar {
	if noProgress || !output.IsTerminal(g.streams.err) {
		return nil
	}
	g.logging.Quiet()
	return progress.New(g.streams.err, label)
}

// print writes a command's result in the chosen format; the run's error
// err wins over a failure to print.
func (g *globalOptions) print(format output.Format, res output.Result, err error) error {
	if perr := output.Write(g.streams.out, format, res); err == nil {
		return perr
	}
	return err
}

// addOutputFlag binds -o/--output to f, text by default; internal/output
// checks the value as it is parsed and writes the result.
func addOutputFlag(fs *pflag.FlagSet, f *output.Format) {
	*f = output.Text
	fs.VarP(f, "output", "o", "output format: text or json")
}

func newRootCommand(s streams) *cobra.Command {
	g := &globalOptions{streams: s}
	root := &cobra.Command{
		Use:   "archiver",
		Short: "Keep an X-Road Security Server's archives and backups safe in S3",
		Long: `archiver ships X-Road message-log archives and configuration backups from the
Security Server's /var/lib/xroad volume to S3 with SSE-KMS, checksummed end to end,
and deletes local copies only after the copy in S3 is proven.

AWS settings come from the SDK's standard configuration: AWS_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, and the default credential chain (IRSA,
EKS Pod Identity, environment, shared files, instance metadata).

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetIn(s.in)
	g.AddFlags(root.PersistentFlags())
	// Every command's flags take their [$ARCHIVER_*] variables (env.go).
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd.Flags()); err != nil {
			return err
		}
		g.log = g.logging.New(g.streams.err)
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	root.AddCommand(newSyncCommand(g), newVerifyCommand(g), newRestoreCommand(g), newSnapshotCommand(g),
		newVerifyDirCommand(g), newRestoreTestCommand(g), newRunCommand(g), newServeCommand(g), newConfigCommand(), newAlarmsCommand(g), newDoctorCommand(g), newVersionCommand())
	return root
}
