package xroad

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		rel  string
		want Kind
	}{
		{"mlog-20210901100858-20210901100905-95b1f27097524105.zip", KindArchive},
		{"mlog-INSTANCE_CLASS_CODE-20210901100858-20210901100905-95b1f27097524105.zip.gpg", KindEncryptedArchive},
		{"mlog-anything.zip", KindArchive},
		{"tmp-mlog-4711.tmp", KindIgnored},
		{"dbdump.dat", KindIgnored},
		{"restore_lock", KindIgnored},
		{"restore_in_progress", KindIgnored},
		{"conf_prerestore_backup.tar", KindIgnored},
		{"conf_backup_20240101-101010_presubsystem.tar", KindIgnored},
		{"backup/ss-automatic-backup-2026_11_20_031500.gpg", KindBackup},
		{"backup/conf_backup_20261121-101010.gpg", KindBackup},
		{"backup/ss-automatic-backup-2019_01_01_031500.tar", KindBackup},
		{"backup/.hidden.gpg", KindIgnored},
		{"backup/notes.txt", KindIgnored},
		{"backup/sub/x.gpg", KindIgnored},
		{"sub/mlog-20210901100858-20210901100905-95b1f27097524105.zip", KindIgnored},
		{".mlog-x.zip", KindIgnored},
		{"mlog-.zip", KindIgnored},
		{"mlog-x.zip.tmp", KindIgnored},
		{"", KindIgnored},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			if got := Classify(tc.rel); got != tc.want {
				t.Errorf("Classify(%q) = %v, want %v", tc.rel, got, tc.want)
			}
		})
	}
}

func TestParseArchiveName(t *testing.T) {
	ts := func(s string) time.Time { v, _ := time.Parse(TimeLayout, s); return v }
	tests := []struct {
		name    string
		want    ArchiveName
		wantErr bool
	}{
		{name: "mlog-20210901100858-20210901100905-95b1f27097524105.zip",
			want: ArchiveName{First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}},
		{name: "mlog-INSTANCE_CLASS_CODE-PROVIDERSUBSYSTEM-20210901100858-20210901100905-b1f27097524105ac.zip.gpg",
			want: ArchiveName{Group: "INSTANCE_CLASS_CODE-PROVIDERSUBSYSTEM", First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "b1f27097524105ac", Encrypted: true}},
		// X-Road 6.x: Z is randomAlphanumeric(10), no group, no .gpg.
		{name: "mlog-20170419125323-20170419125323-T2bPbuQyYW.zip",
			want: ArchiveName{First: ts("20170419125323"), Last: ts("20170419125323"), Random: "T2bPbuQyYW", Legacy: true}},
		// Spaces are kept in groups; dashes in member codes too.
		{name: "mlog-EE_GOV_7000 0310-a_my sub-20210901100858-20210901100905-95b1f27097524105.zip",
			want: ArchiveName{Group: "EE_GOV_7000 0310-a_my sub", First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}},
		// %.200s over "<group>-": a 199-character group keeps its dash...
		{name: "mlog-" + strings.Repeat("g", 199) + "-20210901100858-20210901100905-95b1f27097524105.zip",
			want: ArchiveName{Group: strings.Repeat("g", 199), First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}},
		// ...a longer one is cut to 200 and loses it.
		{name: "mlog-" + strings.Repeat("g", 200) + "20210901100858-20210901100905-95b1f27097524105.zip",
			want: ArchiveName{Group: strings.Repeat("g", 200), First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}},
		// Java counts UTF-16 units: 100 two-unit characters fill the field.
		{name: "mlog-" + strings.Repeat("𝄞", 100) + "20210901100858-20210901100905-95b1f27097524105.zip",
			want: ArchiveName{Group: strings.Repeat("𝄞", 100), First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}},
		{name: "mlog-" + strings.Repeat("g", 199) + "20210901100858-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog-" + strings.Repeat("g", 200) + "-20210901100858-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog-20170419125323-20170419125323-T2bPbuQyY.zip", wantErr: true},
		{name: "mlog-20170419125323-20170419125323-T2bPbuQy_W.zip", wantErr: true},
		{name: "mlog-20210901100858-20210901100905-95B1F27097524105.zip", wantErr: true},
		{name: "mlog-20210901100858-20210901100905-95b1f2709752410.zip", wantErr: true},
		{name: "mlog-2021090110085-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog-20211301100858-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog--20210901100858-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog-20210901100858-95b1f27097524105.zip", wantErr: true},
		{name: "xlog-20210901100858-20210901100905-95b1f27097524105.zip", wantErr: true},
		{name: "mlog-20210901100858-20210901100905-95b1f27097524105.tar", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArchiveName(tc.name)
			if tc.wantErr {
				if !errors.Is(err, ErrNotArchiveName) {
					t.Fatalf("ParseArchiveName(%q) error = %v, want ErrNotArchiveName", tc.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseArchiveName(%q): %v", tc.name, err)
			}
			if got != tc.want {
				t.Errorf("ParseArchiveName(%q) = %+v, want %+v", tc.name, got, tc.want)
			}
			if s := got.String(); s != tc.name {
				t.Errorf("String() = %q, want %q", s, tc.name)
			}
		})
	}
}

func TestEscapeGroup(t *testing.T) {
	for in, want := range map[string]string{
		"EE/GOV/70000310/my:sub*?":             "EE_GOV_70000310_my_sub__",
		"EE/GOV/7000 0310/my sub":              "EE_GOV_7000 0310_my sub", // spaces kept
		"EE/GOV/a\x00b\x1fc\x7fd\u0085e\u009f": "EE_GOV_a_b_c_d_e_",       // C0, DEL, C1
		"EE/GOV/\u00a0é<x>|y\\z":               "EE_GOV_\u00a0é_x__y_z",
	} {
		if got := EscapeGroup(in); got != want {
			t.Errorf("EscapeGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLongGroupName builds names the way LogArchiveWriter does and parses
// them back: the group comes back cut, its successor's line 1 names the
// cut name.
func TestLongGroupName(t *testing.T) {
	ts := func(s string) time.Time { v, _ := time.Parse(TimeLayout, s); return v }
	long := EscapeGroup("EE/GOV/" + strings.Repeat("7", 250) + "/sub")
	an := ArchiveName{Group: long, First: ts("20210901100858"), Last: ts("20210901100905"), Digest: "95b1f27097524105"}
	name := an.String()
	if want := "mlog-" + long[:200] + "20210901100858-"; !strings.HasPrefix(name, want) {
		t.Fatalf("String() = %q, want prefix %q", name, want)
	}
	got, err := ParseArchiveName(name)
	if err != nil || got.Group != long[:200] {
		t.Fatalf("ParseArchiveName(%q) = %+v, %v", name, got, err)
	}
	// A cut through a surrogate pair: Java writes the lone half as '?'.
	odd := ArchiveName{Group: strings.Repeat("g", 199) + "𝄞", First: an.First, Last: an.Last, Digest: an.Digest}
	if got, err := ParseArchiveName(odd.String()); err != nil || got.Group != strings.Repeat("g", 199)+"?" {
		t.Fatalf("surrogate cut: %q -> %+v, %v", odd.String(), got, err)
	}
}

func TestArchiveNameIn(t *testing.T) {
	an, err := ParseArchiveName("mlog-20210901100858-20210901100905-95b1f27097524105.zip")
	if err != nil {
		t.Fatal(err)
	}
	tallinn, err := time.LoadLocation("Europe/Tallinn")
	if err != nil {
		testenv.Skip(t, fmt.Sprint("no time zone database: ", err))
	}
	first, _ := an.In(tallinn)
	if want := time.Date(2021, 9, 1, 7, 8, 58, 0, time.UTC); !first.Equal(want) {
		t.Errorf("X in Europe/Tallinn = %v, want %v", first.UTC(), want)
	}
}

func FuzzParseArchiveName(f *testing.F) {
	f.Add("mlog-20210901100858-20210901100905-95b1f27097524105.zip")
	f.Add("mlog-A-B-20210901100858-20210901100905-95b1f27097524105.zip.gpg")
	f.Add("mlog---.zip")
	f.Add("mlog-20170419125323-20170419125323-T2bPbuQyYW.zip")
	f.Add("mlog-" + strings.Repeat("g", 200) + "20210901100858-20210901100905-95b1f27097524105.zip")
	f.Fuzz(func(t *testing.T, name string) {
		an, err := ParseArchiveName(name)
		if err != nil {
			return
		}
		// Every accepted name must survive a round trip.
		again, err := ParseArchiveName(an.String())
		if err != nil || again != an {
			t.Fatalf("round trip of %q: %+v / %v", name, again, err)
		}
	})
}
