package xroad

import (
	"strings"
	"testing"
)

func TestParseNodeType(t *testing.T) {
	for in, want := range map[string]string{
		"[node]\ntype=slave\n":                               NodeSecondary,
		"[node]\ntype = master\n":                            NodePrimary,
		"[message-log]\narchive-interval=0 * * ? * * 2099\n": "",
		"[node]\n# type=slave\ntype=standalone\n":            NodeStandalone,
		"[proxy]\ntype=slave\n":                              "",
		"[node]\ntype=slave\n[node]\ntype=primary\n":         NodePrimary,
	} {
		if got, err := ParseNodeType(strings.NewReader(in)); err != nil || got != want {
			t.Errorf("ParseNodeType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
