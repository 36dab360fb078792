package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Changes are what Plan found or Apply did to the alarms, as archiver
// alarms prints them: JSON is the list itself.
type Changes struct {
	List    []Change
	Applied bool // Apply made them; false: Plan would
}

// MarshalJSON writes the list alone.
func (c Changes) MarshalJSON() ([]byte, error) {
	if c.List == nil {
		return []byte("null"), nil
	}
	return json.Marshal(c.List)
}

// WriteText writes one line per alarm: what was (or would be) done, its
// name and the fields that differ.
func (c Changes) WriteText(w io.Writer) error {
	verb := map[string]string{"create": "would create", "update": "would update", "unchanged": "unchanged"}
	if c.Applied {
		verb = map[string]string{"create": "created", "update": "updated", "unchanged": "unchanged"}
	}
	for _, ch := range c.List {
		extra := ""
		if len(ch.Fields) > 0 {
			extra = " (" + strings.Join(ch.Fields, ", ") + ")"
		}
		if _, err := fmt.Fprintf(w, "%-12s %s%s\n", verb[ch.Action], ch.Alarm, extra); err != nil {
			return err
		}
	}
	return nil
}
