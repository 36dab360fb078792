package gpg

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
)

// sexp is a parsed S-expression: an atom (list nil) or a list.
type sexp struct {
	atom []byte
	list []sexp
}

func (s sexp) isList() bool { return s.list != nil }

// head is the first atom of a list, as a string.
func (s sexp) head() string {
	if len(s.list) == 0 || s.list[0].isList() {
		return ""
	}
	return string(s.list[0].atom)
}

// find returns the sub-list whose head is name.
func (s sexp) find(name string) (sexp, bool) {
	for _, e := range s.list {
		if e.isList() && e.head() == name {
			return e, true
		}
	}
	return sexp{}, false
}

const maxDepth = 16

// parseSexp reads one S-expression in canonical form (the binary
// private-keys-v1.d files of GnuPG before 2.2.20: "(11:private-key(3:rsa
// (1:n257:...") or advanced form (the "Key:" value of the extended key
// format: "(private-key (rsa (n #00B9...#) ...))").
func parseSexp(b []byte) (sexp, error) {
	p := &sexpParser{b: b}
	p.space()
	s, err := p.value(0)
	if err != nil {
		return s, err
	}
	if !s.isList() {
		return s, errors.New("not a list")
	}
	return s, nil
}

type sexpParser struct {
	b []byte
	i int
}

func (p *sexpParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *sexpParser) value(depth int) (sexp, error) {
	if depth > maxDepth {
		return sexp{}, errors.New("nested too deeply")
	}
	if p.i >= len(p.b) {
		return sexp{}, errors.New("unexpected end")
	}
	c := p.b[p.i]
	switch {
	case c == '(':
		return p.list(depth)
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		if j < len(p.b) && p.b[j] == ':' { // canonical: <len>:<bytes>
			n, err := strconv.Atoi(string(p.b[p.i:j]))
			if err != nil || n > len(p.b)-j-1 {
				return sexp{}, errors.New("bad length")
			}
			a := p.b[j+1 : j+1+n]
			p.i = j + 1 + n
			return sexp{atom: a}, nil
		}
		return p.token()
	case c == '#':
		j := bytes.IndexByte(p.b[p.i+1:], '#')
		if j < 0 {
			return sexp{}, errors.New("unclosed hex string")
		}
		h := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
				return -1
			}
			return r
		}, p.b[p.i+1:p.i+1+j])
		p.i += j + 2
		a, err := hex.DecodeString(string(h))
		if err != nil {
			return sexp{}, fmt.Errorf("hex string: %w", err)
		}
		return sexp{atom: a}, nil
	case c == '|':
		j := bytes.IndexByte(p.b[p.i+1:], '|')
		if j < 0 {
			return sexp{}, errors.New("unclosed base64 string")
		}
		a, err := base64.StdEncoding.DecodeString(string(p.b[p.i+1 : p.i+1+j]))
		p.i += j + 2
		if err != nil {
			return sexp{}, fmt.Errorf("base64 string: %w", err)
		}
		return sexp{atom: a}, nil
	case c == '"':
		j := bytes.IndexByte(p.b[p.i+1:], '"')
		if j < 0 {
			return sexp{}, errors.New("unclosed string")
		}
		a := p.b[p.i+1 : p.i+1+j]
		p.i += j + 2
		return sexp{atom: a}, nil
	}
	return p.token()
}

// list parses the values up to the ')' that closes the '(' at p.i.
func (p *sexpParser) list(depth int) (sexp, error) {
	p.i++
	l := sexp{list: []sexp{}}
	for {
		p.space()
		if p.i >= len(p.b) {
			return sexp{}, errors.New("unclosed list")
		}
		if p.b[p.i] == ')' {
			p.i++
			return l, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return sexp{}, err
		}
		l.list = append(l.list, v)
	}
}

func (p *sexpParser) token() (sexp, error) {
	j := p.i
	for j < len(p.b) && bytes.IndexByte([]byte(" \t\r\n()#|\""), p.b[j]) < 0 {
		j++
	}
	if j == p.i {
		return sexp{}, fmt.Errorf("unexpected %q", p.b[p.i])
	}
	a := p.b[p.i:j]
	p.i = j
	return sexp{atom: a}, nil
}

// extendedKey returns the "Key:" value of a private-keys-v1.d file in the
// extended key format (name-value lines, continuations indented), or the
// whole file when it is a bare S-expression.
func extendedKey(b []byte) []byte {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '(' {
		return t
	}
	var key []byte
	in := false
	for _, line := range bytes.Split(b, []byte("\n")) {
		switch {
		case in && len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			key = append(append(key, ' '), line...)
		case bytes.HasPrefix(line, []byte("Key:")):
			in = true
			key = append(key, line[len("Key:"):]...)
		default:
			in = false
		}
	}
	return key
}

// ErrKeyProtected means a secret key file is passphrase-protected or kept
// on a smartcard: it cannot be used without gpg-agent.
var ErrKeyProtected = errors.New("the secret key is passphrase-protected or on a smartcard: export it without a passphrase (gpg --export-secret-keys) and give that file instead")

// parsePrivateKey reads an RSA private key from a private-keys-v1.d file:
// X-Road's generate_gpg_keypair.sh makes an RSA key without passphrase
// (%no-protection). Other algorithms are read from exported key files.
func parsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	s, err := parseSexp(extendedKey(b))
	if err != nil {
		return nil, fmt.Errorf("private key file: %w", err)
	}
	switch s.head() {
	case "private-key":
	case "protected-private-key", "shadowed-private-key":
		return nil, ErrKeyProtected
	default:
		return nil, fmt.Errorf("private key file: unknown form %q", s.head())
	}
	r, ok := s.find("rsa")
	if !ok {
		return nil, errors.New("private key file: not an RSA key (export other keys with gpg --export-secret-keys)")
	}
	num := func(name string) (*big.Int, error) {
		e, ok := r.find(name)
		if !ok || len(e.list) != 2 || e.list[1].isList() {
			return nil, fmt.Errorf("private key file: no %s", name)
		}
		return new(big.Int).SetBytes(e.list[1].atom), nil
	}
	var v [5]*big.Int
	for i, name := range []string{"n", "e", "d", "p", "q"} {
		if v[i], err = num(name); err != nil {
			return nil, err
		}
	}
	if !v[1].IsInt64() || v[1].Int64() > 1<<31-1 {
		return nil, errors.New("private key file: bad RSA exponent")
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: v[0], E: int(v[1].Int64())}, D: v[2], Primes: []*big.Int{v[3], v[4]}}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("private key file: %w", err)
	}
	k.Precompute()
	return k, nil
}
