package gpg

import (
	"errors"
	"testing"
)

func TestSourceLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        Source
		wantKeys bool
		wantErr  error
	}{
		{"nothing configured: integrity only", Source{}, false, nil},
		{"home", Source{Home: "testdata/gpghome"}, true, nil},
		{"key file", Source{Keys: []string{"testdata/ss1.sec.asc"}}, true, nil},
		{"home, key file and signer", Source{Home: "testdata/gpghome", Keys: []string{"testdata/ss1.sec.gpg"}, Signers: []string{"testdata/ss1.pub.asc"}}, true, nil},
		{"signers alone", Source{Signers: []string{"testdata/ss1.pub.asc"}}, false, ErrSignersWithoutKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.s.Load()
			if !errors.Is(err, tc.wantErr) || (k != nil) != tc.wantKeys {
				t.Fatalf("got keys %v, error %v; want keys %v, error %v", k != nil, err, tc.wantKeys, tc.wantErr)
			}
		})
	}
	if _, err := (Source{Home: "testdata/no-such-home"}).Load(); err == nil {
		t.Fatal("a missing home loaded")
	}
}
