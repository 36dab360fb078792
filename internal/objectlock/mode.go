// Package objectlock names the S3 Object Lock retention modes an operator
// may ask for (GOVERNANCE, COMPLIANCE) as a Mode that parses itself, the
// same way, from a flag, from YAML and from text, so the configuration,
// the sync command and the jobs share one check and one error text. It
// must not know S3 or how retention is applied (internal/store does).
package objectlock

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The two retention modes S3 knows.
const (
	Governance = "GOVERNANCE"
	Compliance = "COMPLIANCE"
)

// Mode is an Object Lock retention mode. The zero Mode is unset (no Object
// Lock). A YAML value that does not parse does not stop the decoder: it is
// kept, and Err returns it for the validator to report with its field and
// line (as units.Size does).
type Mode struct {
	name string // Governance or Compliance once parsed
	text string // as written
	set  bool
	err  error
}

// Parse reads a mode; anything but GOVERNANCE or COMPLIANCE (exact case,
// as S3 spells them) is refused, the empty string too.
func Parse(s string) (Mode, error) {
	switch s {
	case Governance, Compliance:
		return Mode{name: s, text: s, set: true}, nil
	}
	return Mode{}, fmt.Errorf("%q: want %s or %s", s, Governance, Compliance)
}

// IsSet reports whether a value was given (even one that did not parse).
func (m Mode) IsSet() bool { return m.set }

// Err is the parse error of a YAML value, nil when it parsed or is unset.
func (m Mode) Err() error { return m.err }

// Name is GOVERNANCE or COMPLIANCE, as S3 takes it; "" when unset or bad.
func (m Mode) Name() string { return m.name }

// String is the mode as written.
func (m Mode) String() string { return m.text }

// Set implements pflag.Value: a bad value is refused with its error; an
// empty one leaves the Mode unset (no Object Lock), so a script may pass
// "--object-lock-mode=$MODE" with MODE empty.
func (m *Mode) Set(v string) error {
	if v == "" {
		*m = Mode{}
		return nil
	}
	x, err := Parse(v)
	if err != nil {
		return err
	}
	*m = x
	return nil
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "mode" }

// UnmarshalYAML implements yaml.Unmarshaler; it never fails (see Mode).
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		*m = Mode{text: "?", set: true, err: fmt.Errorf("want %s or %s", Governance, Compliance)}
		return nil
	}
	x, err := Parse(n.Value)
	if err != nil {
		*m = Mode{text: n.Value, set: true, err: err}
		return nil
	}
	*m = x
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (m Mode) MarshalYAML() (any, error) { return m.text, nil }
