package xroad

import (
	"bufio"
	"io"
	"strings"
)

// Node types of a Security Server ([node] type= in /etc/xroad/conf.d/*.ini).
// The Sidecar images write master (primary) and slave (secondary); newer
// X-Road also accepts primary and secondary.
const (
	NodeStandalone = "standalone"
	NodePrimary    = "primary"
	NodeSecondary  = "secondary"
)

// ParseNodeType returns the node type an ini file sets, or "" if it sets
// none. Later assignments win, as in X-Road's own ini handling.
func ParseNodeType(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	section, typ := "", ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "node" || strings.TrimSpace(k) != "type" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "master", "primary":
			typ = NodePrimary
		case "slave", "secondary":
			typ = NodeSecondary
		case "standalone":
			typ = NodeStandalone
		}
	}
	return typ, sc.Err()
}
