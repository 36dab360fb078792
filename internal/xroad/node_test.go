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

// FuzzParseNodeType: whatever the ini file holds, the result is one of
// the known node types or "", never a value copied from the file.
func FuzzParseNodeType(f *testing.F) {
	f.Add("[node]\ntype=slave\n")
	f.Add("[node]\r\ntype = MASTER\r\n")
	f.Add("[node\ntype=primary\n")
	f.Add("[ node ]\ntype=secondary=x\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseNodeType(strings.NewReader(in))
		if err != nil {
			return
		}
		switch got {
		case "", NodePrimary, NodeSecondary, NodeStandalone:
		default:
			t.Fatalf("ParseNodeType(%q) = %q", in, got)
		}
	})
}
