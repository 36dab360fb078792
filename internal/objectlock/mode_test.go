package objectlock

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr string
	}{
		{"GOVERNANCE", Governance, ""},
		{"COMPLIANCE", Compliance, ""},
		{"governance", "", `"governance": want GOVERNANCE or COMPLIANCE`},
		{"FOREVER", "", `"FOREVER": want GOVERNANCE or COMPLIANCE`},
		{"", "", `"": want GOVERNANCE or COMPLIANCE`},
		{" GOVERNANCE", "", `" GOVERNANCE": want GOVERNANCE or COMPLIANCE`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := Parse(tc.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if m.Name() != tc.want || gotErr != tc.wantErr {
				t.Fatalf("Parse(%q) = %q, %q; want %q, %q", tc.in, m.Name(), gotErr, tc.want, tc.wantErr)
			}
			if err == nil && (!m.IsSet() || m.String() != tc.in) {
				t.Errorf("Parse(%q): set %v, text %q", tc.in, m.IsSet(), m.String())
			}
		})
	}
}

func TestFlagAndYAMLAgree(t *testing.T) {
	var doc struct {
		Good  Mode `yaml:"good"`
		Bad   Mode `yaml:"bad"`
		Empty Mode `yaml:"empty"`
		List  Mode `yaml:"list"`
		Unset Mode `yaml:"unset"`
	}
	if err := yaml.Unmarshal([]byte("good: COMPLIANCE\nbad: FOREVER\nempty: \"\"\nlist: [a]\n"), &doc); err != nil {
		t.Fatalf("a bad value stopped the decoder: %v", err)
	}
	var flag Mode
	if err := flag.Set("COMPLIANCE"); err != nil {
		t.Fatal(err)
	}
	if flag != doc.Good || doc.Good.Err() != nil || doc.Good.Name() != Compliance {
		t.Errorf("flag %+v, YAML %+v: want the same parsed COMPLIANCE", flag, doc.Good)
	}
	for name, m := range map[string]Mode{"bad": doc.Bad, "empty": doc.Empty, "list": doc.List} {
		if !m.IsSet() || m.Err() == nil || m.Name() != "" {
			t.Errorf("%s: %+v: want set, with an error and no name", name, m)
		}
	}
	if !strings.Contains(doc.Bad.Err().Error(), `"FOREVER"`) {
		t.Errorf("bad: error %v does not name the value", doc.Bad.Err())
	}
	if doc.Unset.IsSet() || doc.Unset.Err() != nil {
		t.Errorf("unset: %+v", doc.Unset)
	}
	if err := flag.Set("FOREVER"); err == nil || flag.Name() != Compliance {
		t.Errorf("Set(FOREVER) = %v, left %q: want an error and the old value kept", err, flag.Name())
	}
	if err := flag.Set(""); err != nil || flag.IsSet() {
		t.Errorf("Set(\"\") = %v, set %v: want no error and unset", err, flag.IsSet())
	}
	out, err := yaml.Marshal(doc.Good)
	if err != nil || strings.TrimSpace(string(out)) != "COMPLIANCE" {
		t.Errorf("marshal = %q, %v", out, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("GOVERNANCE")
	f.Add("compliance")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			if m.IsSet() || m.Name() != "" {
				t.Fatalf("Parse(%q) failed but returned %+v", s, m)
			}
			return
		}
		if m.Name() != Governance && m.Name() != Compliance || m.String() != s {
			t.Fatalf("Parse(%q) = %+v", s, m)
		}
	})
}
