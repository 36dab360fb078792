package gpg

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzParsePrivateKey feeds private-keys-v1.d files (extended and bare
// S-expression forms) to the parser: it must return a key or an error,
// never panic, and a key it returns must be a valid RSA key.
func FuzzParsePrivateKey(f *testing.F) {
	b, err := os.ReadFile("testdata/gpghome/private-keys-v1.d/C9B812ED95D2299EF020A751D98602C47D02FC4C.key")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/3])
	f.Add([]byte("(11:private-key(3:rsa(1:n1:\x05)(1:e1:\x03)))"))
	f.Add([]byte("(21:protected-private-key)"))
	f.Add([]byte("Key: (11:private-key\n (3:rsa))\n"))
	f.Add([]byte("((((((((((((((((((((((((((((((((((((((((((((((((((((((((("))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parsePrivateKey(data)
		if err != nil {
			if k != nil {
				t.Fatal("a key returned with an error")
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("accepted an invalid key: %v", err)
		}
	})
}

// FuzzReadKeybox feeds pubring.kbx files to the keybox reader: every
// blob boundary and keyblock offset comes from the file, so none may
// index outside it.
func FuzzReadKeybox(f *testing.F) {
	b, err := os.ReadFile("testdata/gpghome/pubring.kbx")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:32])
	f.Add([]byte{0, 0, 0, 8, 2, 1, 0, 0})
	f.Add([]byte{0, 0, 0, 16, 2, 1, 0, 0, 0, 0, 0, 16, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := readKeybox(bytes.NewReader(data))
		if err != nil && len(el) > 0 {
			t.Fatal("keys returned with an error")
		}
		if err == nil && len(data) == 0 && len(el) != 0 {
			t.Fatal("keys read from an empty keybox")
		}
	})
}

func TestParsePrivateKeyRefusesProtectedKeys(t *testing.T) {
	for _, in := range []string{"(21:protected-private-key(3:rsa))", "(20:shadowed-private-key(3:rsa))"} {
		if _, err := parsePrivateKey([]byte(in)); !errors.Is(err, ErrKeyProtected) {
			t.Errorf("%s: got %v, want ErrKeyProtected", in, err)
		}
	}
}
