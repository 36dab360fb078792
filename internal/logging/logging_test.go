package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLevelAndFormatParse(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		wantErr       string
		debug, info   bool // which records are written
		json          bool
	}{
		{level: "", format: "", info: true, json: true},
		{level: "debug", format: "json", debug: true, info: true, json: true},
		{level: "WARN", format: "text"},
		{level: "error", format: "json", json: true},
		{level: "info+2", format: "text"},
		{level: "loud", format: "json", wantErr: `"loud": want debug, info, warn or error`},
		{level: "info", format: "yaml", wantErr: `"yaml": want json or text`},
	} {
		t.Run(tc.level+"/"+tc.format, func(t *testing.T) {
			var o Options
			var err error
			if tc.level != "" {
				err = o.Level.Set(tc.level)
			}
			if err == nil && tc.format != "" {
				err = o.Format.Set(tc.format)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if (tc.level == "loud" && o.Level.String() != "") || (tc.format == "yaml" && o.Format != "") {
					t.Fatalf("a refused value changed the options: level %q, format %q", o.Level.String(), o.Format)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := o.New(&buf)
			log.Debug("d")
			log.Info("i")
			log.Error("e")
			out := buf.String()
			if got := strings.Contains(out, `"msg":"d"`) || strings.Contains(out, "msg=d"); got != tc.debug {
				t.Errorf("debug written %v, want %v: %q", got, tc.debug, out)
			}
			if got := strings.Contains(out, `"msg":"i"`) || strings.Contains(out, "msg=i"); got != tc.info {
				t.Errorf("info written %v, want %v: %q", got, tc.info, out)
			}
			first, _, _ := strings.Cut(out, "\n")
			if got := json.Valid([]byte(first)); got != tc.json {
				t.Errorf("JSON %v, want %v: %q", got, tc.json, first)
			}
		})
	}
}

func TestQuietRaisesOnlyTheDefault(t *testing.T) {
	var quiet, chosen Options
	if err := chosen.Level.Set("info"); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	la, lb := quiet.New(&a), chosen.New(&b)
	quiet.Quiet() // after New: the logger follows the level
	chosen.Quiet()
	la.Info("hidden")
	la.Warn("shown")
	lb.Info("kept")
	if strings.Contains(a.String(), "hidden") || !strings.Contains(a.String(), "shown") {
		t.Errorf("default level under a progress bar: %q, want warn and above", a.String())
	}
	if !strings.Contains(b.String(), "kept") {
		t.Errorf("a chosen level was overridden: %q", b.String())
	}
	if quiet.Level.String() != "" || chosen.Level.String() != "info" {
		t.Errorf("String: %q, %q; want \"\" (not set) and info", quiet.Level.String(), chosen.Level.String())
	}
}

func FuzzLevelSet(f *testing.F) {
	for _, s := range []string{"debug", "INFO", "warn-4", "error+8", "", "x", "info+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l Level
		if err := l.Set(s); err != nil {
			if l.set || l.String() != "" {
				t.Fatalf("refused %q but changed the level", s)
			}
			return
		}
		var again Level
		if err := again.Set(l.String()); err != nil || again.v.Level() != l.v.Level() {
			t.Fatalf("%q parsed to %q, which does not parse back (%v)", s, l.String(), err)
		}
	})
}
