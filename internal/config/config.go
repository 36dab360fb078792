// Package config loads archiver's one configuration file (YAML): the jobs
// (sync, snapshot), their schedules, locking and the primary-node rule.
// Unknown keys are errors; every error names its line and field.
// Values may name environment variables as ${NAME} (the pods get the
// deployment's settings that way); an unset one is an error naming its
// line. The ARCHIVER_* variables override the file's keys (ApplyEnv,
// LoadEnv); flags override both (applied by the command layer). It also
// says where the file is (Path) and which zone archive names are written
// in. Each job section's Check (Sync, Snapshot, RestoreTest, Verify) is
// the one check of that section, for the file and for the command flags
// bound into it: problems are named by the section's keys, and the caller
// names the file's field or its flag. It only parses and validates: it
// runs nothing and knows no flags.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/xroad-archiver/archiver/internal/objectlock"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/units"
)

// Config is the whole file.
type Config struct {
	Cluster        string `yaml:"cluster"`
	SecurityServer string `yaml:"securityServer"`
	TimeZone       string `yaml:"timeZone"`
	// ArchiveZone is the zone of the X and Y times in archive names: the
	// default zone of the Security Server's JVM (UTC in the Sidecar
	// images). Default: timeZone, else UTC. restore's --since/--until
	// compare archives by it.
	ArchiveZone string      `yaml:"archiveZone"`
	Lock        Lock        `yaml:"lock"`
	Primary     Primary     `yaml:"primary"`
	Sync        Sync        `yaml:"sync"`
	Snapshot    Snapshot    `yaml:"snapshot"`
	RestoreTest RestoreTest `yaml:"restoreTest"`
	Verify      Verify      `yaml:"verify"`
	Serve       Serve       `yaml:"serve"`
	Metrics     Metrics     `yaml:"metrics"`
	Alarms      Alarms      `yaml:"alarms"`
}

// Metrics says where run metrics go.
type Metrics struct {
	Sink      string `yaml:"sink"`      // cloudwatch, emf or none (default none)
	Namespace string `yaml:"namespace"` // default XRoad/Archiver
	Region    string `yaml:"region"`
}

// Alarms configures `archiver alarms apply`.
type Alarms struct {
	Actions        []string       `yaml:"actions"`        // SNS topic ARNs
	NoSuccessHours int            `yaml:"noSuccessHours"` // default 26
	BacklogMaxAge  units.Duration `yaml:"backlogMaxAge"`  // default 48h
	// MaxArchiveAge: alarm when the newest archive shipped is older
	// (default 8h: X-Road archives every 6 hours).
	MaxArchiveAge units.Duration `yaml:"maxArchiveAge"`
	// RestoreTestNoSuccessHours: restore tests run less often (default 168).
	RestoreTestNoSuccessHours int `yaml:"restoreTestNoSuccessHours"`
	// MaxRestoreMinutes: alarm when a restore test takes longer (the
	// recovery time objective; default 60).
	MaxRestoreMinutes int `yaml:"maxRestoreMinutes"`
}

// Lock keeps runs one at a time per volume.
type Lock struct {
	Namespace string         `yaml:"namespace"` // Lease namespace (in a cluster)
	Name      string         `yaml:"name"`      // Lease name; default archiver
	Duration  units.Duration `yaml:"duration"`  // lease/lock expiry if the holder dies; default 2m (lock.DefaultDuration)
	File      string         `yaml:"file"`      // lock file outside a cluster
}

// Primary says how to recognise the X-Road primary node.
type Primary struct {
	ConfDir string `yaml:"confDir"` // /etc/xroad/conf.d: [node] type=master|slave|standalone
	// Selector is a Kubernetes label selector of the X-Road primary pod
	// (run=...,role=primary). In a pod (POD_NAME, POD_NAMESPACE) archiver
	// runs only when exactly one pod matches, Running, on its own node;
	// empty: the selector of its own required pod affinity.
	Selector string `yaml:"selector"`
	// PodLabel and LabelsFile checked archiver's own labels, not the
	// primary's: refused with a pointer to selector.
	PodLabel   string `yaml:"podLabel"`
	LabelsFile string `yaml:"labelsFile"`
	Override   bool   `yaml:"override"` // run even on a secondary
}

// Sync is the archive-shipping job.
type Sync struct {
	Enabled           bool           `yaml:"enabled"`
	Schedule          string         `yaml:"schedule"`
	Source            string         `yaml:"source"`
	Dest              string         `yaml:"dest"`
	KMSKeyID          string         `yaml:"kmsKeyId"`
	BucketKey         bool           `yaml:"bucketKey"`
	EndpointURL       string         `yaml:"endpointUrl"`
	Region            string         `yaml:"region"`
	Compress          string         `yaml:"compress"`
	Concurrency       int            `yaml:"concurrency"`
	BandwidthLimit    units.Size     `yaml:"bandwidthLimit"`
	BackupQuietPeriod units.Duration `yaml:"backupQuietPeriod"`
	Prune             Prune          `yaml:"prune"`
	ObjectLock        *ObjectLock    `yaml:"objectLock"`
}

// Prune is local pruning after proven upload.
type Prune struct {
	OlderThan        units.Duration `yaml:"olderThan"`
	FreeSpacePercent float64        `yaml:"freeSpacePercent"`
}

// ObjectLock is per-object retention.
type ObjectLock struct {
	Mode      objectlock.Mode `yaml:"mode"`
	Retention units.Duration  `yaml:"retention"`
}

// Snapshot is the volume backup job.
type Snapshot struct {
	Enabled   bool              `yaml:"enabled"`
	Schedule  string            `yaml:"schedule"`
	PVCs      []string          `yaml:"pvcs"`
	Mounts    map[string]string `yaml:"mounts"`
	Region    string            `yaml:"region"`
	DRRegion  string            `yaml:"drRegion"`
	DRKMSKey  string            `yaml:"drKmsKeyId"`
	Timeout   units.Duration    `yaml:"timeout"`
	Retention Retention         `yaml:"retention"`
	EFS       EFS               `yaml:"efs"`
}

// Retention is GFS retention.
type Retention struct {
	KeepLast int `yaml:"keepLast"`
	Daily    int `yaml:"daily"`
	Weekly   int `yaml:"weekly"`
	Monthly  int `yaml:"monthly"`
}

// EFS configures AWS Backup jobs.
type EFS struct {
	Vault     string `yaml:"vault"`
	RoleARN   string `yaml:"roleArn"`
	AccountID string `yaml:"accountId"`
}

// RestoreTest is the restore drill job: the newest snapshot of each PVC
// restored into a scratch PVC, verified by a pod, and cleaned up. The
// content manifests are read from sync.dest; EFS settings from snapshot.efs.
type RestoreTest struct {
	Enabled       bool              `yaml:"enabled"`
	Schedule      string            `yaml:"schedule"`
	PVCs          []string          `yaml:"pvcs"`      // default: snapshot.pvcs
	Namespace     string            `yaml:"namespace"` // scratch namespace; default: each PVC's
	StorageClass  string            `yaml:"storageClass"`
	SnapshotClass string            `yaml:"snapshotClass"`
	Image         string            `yaml:"image"` // verifier image; default $ARCHIVER_IMAGE
	RunAsUser     int64             `yaml:"runAsUser"`
	Timeout       units.Duration    `yaml:"timeout"`  // per PVC; default 30m
	EFSPaths      map[string]string `yaml:"efsPaths"` // NAMESPACE/NAME -> directory in the file system (access points)
	// Archives adds a restore test of the S3 copy: the verifier pod, as
	// ServiceAccount (in Namespace), restores the latest sync run.
	Archives       bool   `yaml:"archives"`
	ServiceAccount string `yaml:"serviceAccount"`
	// GPGSecret gives the verifier pod the operator's gpg key material, so
	// .zip.gpg archives are decrypted and signature-checked (without it:
	// integrity only).
	GPGSecret *GPGSecret `yaml:"gpgSecret"`
}

// GPGSecret is a Secret in the verifier pod's namespace holding exported
// key files, mounted read-only into the pod (restore-test --gpg-secret).
type GPGSecret struct {
	Name    string   `yaml:"name"`
	Keys    []string `yaml:"keys"`    // keys holding gpg --export-secret-keys output
	Signers []string `yaml:"signers"` // keys holding accepted signers' public keys (optional)
}

// Verify is the scheduled re-read of sync.dest (archiver verify): a
// rotating sample each run, so a daily job covers everything over
// 100/samplePercent days, with a cap on the bytes read.
type Verify struct {
	Enabled       bool       `yaml:"enabled"`
	Schedule      string     `yaml:"schedule"`
	SamplePercent float64    `yaml:"samplePercent"` // default 10
	MaxBytes      units.Size `yaml:"maxBytes"`      // e.g. 20GiB; default no cap
	// GPGHome, GPGKeys and GPGSigners are the key material .zip.gpg
	// archives are decrypted and signature-checked with (verify
	// --gpg-home, --gpg-key, --gpg-signer); none: integrity only.
	GPGHome    string   `yaml:"gpgHome"`
	GPGKeys    []string `yaml:"gpgKeys"`
	GPGSigners []string `yaml:"gpgSigners"`
}

// Serve configures the long-running scheduler.
type Serve struct {
	Listen string         `yaml:"listen"` // :8080 for /healthz, /readyz, /metrics
	Jitter units.Duration `yaml:"jitter"` // random delay before each scheduled run
}

// Error is one validation problem with its location.
type Error struct {
	Line  int    // 0 when unknown
	Field string // dotted path, e.g. sync.kmsKeyId
	Msg   string
}

func (e Error) Error() string {
	if e.Field == "" {
		return e.Msg // the YAML decoder's, which names its line
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// Errors is every problem found.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// maxSize bounds a configuration file.
const maxSize = 1 << 20

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads and validates a configuration.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, maxSize)
	}
	data, verrs := expand(data, os.LookupEnv)
	if len(verrs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, verrs)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs Errors
	if err := dec.Decode(cfg); err != nil && err != io.EOF {
		// Unknown fields and wrong types do not stop the decoder: report
		// them with every other problem, so one run lists them all.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		for _, m := range te.Errors {
			errs = append(errs, Error{Msg: m})
		}
	}
	lines := map[string]int{}
	index(&root, "", lines)
	if errs = append(errs, cfg.Validate(lines)...); len(errs) > 0 {
		return cfg, fmt.Errorf("%w: %w", ErrInvalid, errs)
	}
	return cfg, nil
}

// index records the line of every key by dotted path.
func index(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			lines[p] = n.Content[i].Line
			index(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			lines[p] = c.Line
			index(c, p, lines)
		}
	}
}

// Validate checks every field; lines maps dotted paths to lines.
func (c *Config) Validate(lines map[string]int) Errors {
	v := &validator{lines: lines}
	c.validateGlobal(v)
	c.validateVerify(v)
	c.validateSync(v)
	c.validateSnapshot(v)
	c.validateRestoreTest(v)
	c.validateReporting(v)
	return v.errs
}

// validator collects problems with the line of their field.
type validator struct {
	lines map[string]int
	errs  Errors
}

func (v *validator) add(field, format string, a ...any) {
	v.errs = append(v.errs, Error{Line: v.lines[field], Field: field, Msg: fmt.Sprintf(format, a...)})
}

// dur and size report a value that did not parse as the YAML was decoded
// (sizes and durations parse themselves).
func (v *validator) dur(field string, d units.Duration) {
	if err := d.Err(); err != nil {
		v.add(field, "%v", err)
	}
}

func (v *validator) sched(field, spec string) {
	if spec == "" {
		return
	}
	if _, err := ParseSchedule(spec); err != nil {
		v.add(field, "%v", err)
	}
}

// validateGlobal checks the zones, the lock, the primary rule and that
// some job is enabled.
func (c *Config) validateGlobal(v *validator) {
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			v.add("timeZone", "unknown time zone %q", c.TimeZone)
		}
	}
	if c.ArchiveZone != "" {
		if _, err := time.LoadLocation(c.ArchiveZone); err != nil {
			v.add("archiveZone", "unknown time zone %q", c.ArchiveZone)
		}
	}
	v.dur("lock.duration", c.Lock.Duration)
	if c.Primary.PodLabel != "" || c.Primary.LabelsFile != "" {
		v.add("primary.podLabel", "checked archiver's own pod, not the X-Road primary: use primary.selector (the primary pod's labels, e.g. run=...,role=primary)")
	}
	if sel := c.Primary.Selector; sel != "" {
		if err := checkSelector(sel); err != nil {
			v.add("primary.selector", "%q: %v", sel, err)
		}
	}
	if !c.Sync.Enabled && !c.Snapshot.Enabled && !c.RestoreTest.Enabled && !c.Verify.Enabled {
		v.add("sync.enabled", "no job is enabled (set sync.enabled, snapshot.enabled, restoreTest.enabled or verify.enabled)")
	}
}

func (c *Config) validateVerify(v *validator) {
	if !c.Verify.Enabled {
		return
	}
	v.sched("verify.schedule", c.Verify.Schedule)
	if c.Sync.Dest == "" {
		v.add("verify.enabled", "needs sync.dest: the destination to re-read")
	}
	for _, p := range c.Verify.Check() {
		v.add("verify."+p.Key, "%s", p.Msg)
	}
}

// Check lists what verify cannot use in the section; it is the one check
// of the file's verify section and of archiver verify's flags. A
// SamplePercent of 0 (the default) is left to the caller.
func (vf Verify) Check() []Problem {
	var ps problems
	if vf.SamplePercent < 0 || vf.SamplePercent > 100 {
		ps.add("samplePercent", "%v: want a percentage above 0 and at most 100", vf.SamplePercent)
	}
	if err := vf.MaxBytes.Err(); err != nil {
		ps.add("maxBytes", "%v", err)
	}
	if len(vf.GPGSigners) > 0 && vf.GPGHome == "" && len(vf.GPGKeys) == 0 {
		ps.add("gpgSigners", "needs the key that decrypts the archives (a GnuPG home or exported secret keys)")
	}
	return ps
}

func (c *Config) validateSync(v *validator) {
	s := c.Sync
	if !s.Enabled {
		return
	}
	v.sched("sync.schedule", s.Schedule)
	if s.Dest == "" {
		v.add("sync.dest", "required: s3://BUCKET/PREFIX or file:///path")
	}
	for _, p := range s.Check() {
		v.add("sync."+p.Key, "%s", p.Msg)
	}
}

// Problem is a value a job cannot use, named by its key in the job's
// section (e.g. "prune.freeSpacePercent"): the file reports it under the
// section's name, a command under its flag.
type Problem struct{ Key, Msg string }

// problems collects a section's Problems.
type problems []Problem

func (ps *problems) add(key, format string, a ...any) {
	*ps = append(*ps, Problem{key, fmt.Sprintf(format, a...)})
}

// refs reports every entry of list (key[i]) that is not a NAMESPACE/NAME
// reference to a PVC.
func (ps *problems) refs(key string, list []string) {
	for i, p := range list {
		if ns, name, ok := strings.Cut(p, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			ps.add(fmt.Sprintf("%s[%d]", key, i), "%q: want NAMESPACE/NAME", p)
		}
	}
}

// Check lists what sync cannot use in the section; it is the one check
// of the file's sync section and of archiver sync's flags. An empty Dest
// and a Concurrency of 0 (the default) are left to the caller.
func (s Sync) Check() []Problem {
	var ps problems
	add := ps.add
	s3 := strings.HasPrefix(s.Dest, "s3://")
	switch {
	case s3 && s.KMSKeyID == "":
		add("kmsKeyId", "required for an s3:// destination: every upload is SSE-KMS encrypted")
	case s3 && strings.Contains(s.KMSKeyID, "alias/aws/"):
		add("kmsKeyId", "%q is an AWS-managed key (the Sidecar guide's example): its key policy cannot be changed, so another account or a DR region can never decrypt the copy, and deploy/iam-policy.json pins a customer-managed key's ARN; create a KMS key and use its ARN", s.KMSKeyID)
	case s.Dest != "" && !s3 && !strings.HasPrefix(s.Dest, "file:///"):
		add("dest", "%q: want s3://BUCKET/PREFIX or file:///absolute/path", s.Dest)
	}
	switch s.Compress {
	case "", "none", "zstd", "auto":
	default:
		add("compress", "compression %q: want auto, zstd or none", s.Compress)
	}
	if err := parallel.CheckWorkers(s.Concurrency); s.Concurrency != 0 && err != nil {
		add("concurrency", "%v", err)
	}
	for _, u := range []struct {
		key string
		err error
	}{{"bandwidthLimit", s.BandwidthLimit.Err()}, {"backupQuietPeriod", s.BackupQuietPeriod.Err()}, {"prune.olderThan", s.Prune.OlderThan.Err()}} {
		if u.err != nil {
			add(u.key, "%v", u.err)
		}
	}
	if p := s.Prune.OlderThan; p.Err() == nil && p.IsSet() && p.Value() <= 0 {
		add("prune.olderThan", "must be a positive age such as 30d")
	}
	if f := s.Prune.FreeSpacePercent; f < 0 || f >= 100 {
		add("prune.freeSpacePercent", "%.1f: want a percentage between 0 and 100", f)
	}
	if ol := s.ObjectLock; ol != nil {
		if err := ol.Mode.Err(); err != nil {
			add("objectLock.mode", "%v", err)
		} else if _, err := objectlock.Parse(""); !ol.Mode.IsSet() {
			add("objectLock.mode", "%v", err)
		} else if !s3 {
			add("objectLock.mode", "needs an s3:// destination (Object Lock is S3's)")
		}
		if err := ol.Retention.Err(); err != nil {
			add("objectLock.retention", "%v", err)
		} else if !ol.Retention.IsSet() {
			add("objectLock.retention", "required: mode and retention go together")
		}
	}
	return ps
}

func (c *Config) validateSnapshot(v *validator) {
	if !c.Snapshot.Enabled {
		return
	}
	v.sched("snapshot.schedule", c.Snapshot.Schedule)
	for _, p := range c.Snapshot.Check() {
		v.add("snapshot."+p.Key, "%s", p.Msg)
	}
}

// Check lists what snapshot cannot use in the section; it is the one
// check of the file's snapshot section and of archiver snapshot's flags.
func (s Snapshot) Check() []Problem {
	var ps problems
	if len(s.PVCs) == 0 {
		ps.add("pvcs", "at least one NAMESPACE/NAME")
	}
	ps.refs("pvcs", s.PVCs)
	for k, m := range s.Mounts {
		if !strings.HasPrefix(m, "/") {
			ps.add("mounts."+k, "%q: want an absolute path", m)
		}
	}
	if err := s.Timeout.Err(); err != nil {
		ps.add("timeout", "%v", err)
	}
	r := s.Retention
	for _, n := range []struct {
		key   string
		count int
	}{{"keepLast", r.KeepLast}, {"daily", r.Daily}, {"weekly", r.Weekly}, {"monthly", r.Monthly}} {
		if n.count < 0 {
			ps.add("retention."+n.key, "%d: counts must not be negative", n.count)
		}
	}
	if s.DRKMSKey != "" && s.DRRegion == "" {
		ps.add("drKmsKeyId", "needs a disaster-recovery region to copy to")
	}
	return ps
}

func (c *Config) validateRestoreTest(v *validator) {
	r := c.RestoreTest
	if !r.Enabled {
		return
	}
	v.sched("restoreTest.schedule", r.Schedule)
	if len(r.PVCs) == 0 && len(c.Snapshot.PVCs) == 0 && !r.Archives {
		v.add("restoreTest.pvcs", "at least one NAMESPACE/NAME (or snapshot.pvcs, or archives: true)")
	}
	if c.Sync.Dest == "" {
		v.add("restoreTest.enabled", "needs sync.dest: the content manifests snapshot writes there are what a restore is checked against")
	}
	for _, p := range r.Check() {
		v.add("restoreTest."+p.Key, "%s", p.Msg)
	}
}

// Check lists what a restore test cannot use in the section; it is the
// one check of the file's restoreTest section and of the flags of
// archiver restore-test (and restore --to-pvc). Which PVCs to test (the
// file defaults to snapshot.pvcs), where the content manifests are and a
// RunAsUser of 0 (the default) are left to the caller.
func (r RestoreTest) Check() []Problem {
	var ps problems
	ps.refs("pvcs", r.PVCs)
	if r.Archives && r.Namespace == "" {
		ps.add("namespace", "required to restore the archives: the verifier pod runs there")
	}
	if r.RunAsUser < 0 {
		ps.add("runAsUser", "%d: want a non-root uid", r.RunAsUser)
	}
	for k, p := range r.EFSPaths {
		if !strings.HasPrefix(p, "/") {
			ps.add("efsPaths."+k, "%q: want an absolute path inside the file system", p)
		}
	}
	if err := r.Timeout.Err(); err != nil {
		ps.add("timeout", "%v", err)
	}
	if g := r.GPGSecret; g != nil && (g.Name == "" || len(g.Keys) == 0) {
		ps.add("gpgSecret", "needs the name of a Secret in the verifier pod's namespace and its key(s) holding the exported secret key")
	}
	return ps
}

// validateReporting checks serve, metrics and alarms.
func (c *Config) validateReporting(v *validator) {
	if h := c.Alarms.RestoreTestNoSuccessHours; h < 0 || h > 168 {
		v.add("alarms.restoreTestNoSuccessHours", "%d: want 1 to 168 (CloudWatch evaluates at most 7 days)", h)
	}
	if c.Alarms.MaxRestoreMinutes < 0 {
		v.add("alarms.maxRestoreMinutes", "%d: want a positive number of minutes", c.Alarms.MaxRestoreMinutes)
	}
	v.dur("serve.jitter", c.Serve.Jitter)
	switch c.Metrics.Sink {
	case "", "none", "cloudwatch", "emf":
	default:
		v.add("metrics.sink", "%q: want cloudwatch, emf or none", c.Metrics.Sink)
	}
	if strings.HasPrefix(c.Metrics.Namespace, "AWS/") {
		v.add("metrics.namespace", "%q: namespaces starting with AWS/ are reserved", c.Metrics.Namespace)
	}
	if c.Alarms.NoSuccessHours < 0 || c.Alarms.NoSuccessHours > 168 {
		v.add("alarms.noSuccessHours", "%d: want 1 to 168 (CloudWatch evaluates at most 7 days)", c.Alarms.NoSuccessHours)
	}
	v.dur("alarms.backlogMaxAge", c.Alarms.BacklogMaxAge)
	v.dur("alarms.maxArchiveAge", c.Alarms.MaxArchiveAge)
	for i, a := range c.Alarms.Actions {
		if !strings.HasPrefix(a, "arn:") {
			v.add(fmt.Sprintf("alarms.actions[%d]", i), "%q: want an SNS topic ARN", a)
		}
	}
}

// ParseSchedule parses a standard 5-field cron spec (or a descriptor such
// as @daily), optionally prefixed with CRON_TZ=Zone.
// ArchiveLocation is the zone archive names are written in: archiveZone,
// else timeZone, else UTC.
func (c *Config) ArchiveLocation() (*time.Location, error) {
	for _, z := range []string{c.ArchiveZone, c.TimeZone} {
		if z != "" {
			return time.LoadLocation(z)
		}
	}
	return time.UTC, nil
}

func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron schedule %q: %v", spec, err)
	}
	return s, nil
}

// expand replaces ${NAME} with the environment variable NAME. Unset
// variables, and values with a line break (which would change the
// document's structure), are errors with their line.
func expand(data []byte, lookup func(string) (string, bool)) ([]byte, Errors) {
	var errs Errors
	var out bytes.Buffer
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		s := string(line)
		for !strings.HasPrefix(strings.TrimSpace(s), "#") {
			start := strings.Index(s, "${")
			if start < 0 {
				break
			}
			end := strings.IndexByte(s[start:], '}')
			if end < 0 {
				errs = append(errs, Error{Line: i + 1, Field: "${", Msg: "unterminated variable reference"})
				break
			}
			name := s[start+2 : start+end]
			v, ok := lookup(name)
			switch {
			case !validVarName(name):
				errs = append(errs, Error{Line: i + 1, Field: "${" + name + "}", Msg: "not a variable name (letters, digits and _)"})
			case !ok:
				errs = append(errs, Error{Line: i + 1, Field: "${" + name + "}", Msg: "environment variable not set (deploy/settings.env sets it in the pods)"})
			case strings.ContainsAny(v, "\r\n"):
				errs = append(errs, Error{Line: i + 1, Field: "${" + name + "}", Msg: "value has a line break"})
			}
			out.WriteString(s[:start])
			out.WriteString(v)
			s = s[start+end+1:]
		}
		out.WriteString(s)
	}
	return out.Bytes(), errs
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkSelector accepts what archiver matches pods with: comma-separated
// key=value pairs (the matchLabels of a pod affinity).
func checkSelector(sel string) error {
	for _, p := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(k+v, "=!() ") {
			return fmt.Errorf("want key=value[,key=value...], got %q", p)
		}
	}
	return nil
}
