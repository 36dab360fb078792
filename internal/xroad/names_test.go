package xroad

import (
	"errors"
	"testing"
	"time"
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
	if got, want := EscapeGroup("EE/GOV/70000310/my:sub*?"), "EE_GOV_70000310_my_sub__"; got != want {
		t.Errorf("EscapeGroup = %q, want %q", got, want)
	}
}

func FuzzParseArchiveName(f *testing.F) {
	f.Add("mlog-20210901100858-20210901100905-95b1f27097524105.zip")
	f.Add("mlog-A-B-20210901100858-20210901100905-95b1f27097524105.zip.gpg")
	f.Add("mlog---.zip")
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
