package codec

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestRoundTripAndDeterminism(t *testing.T) {
	src := bytes.Repeat([]byte("<xrd:id>0123</xrd:id>"), 100000)
	var a, b bytes.Buffer
	if _, err := Compress(&a, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	Compress(&b, bytes.NewReader(src))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("compressing twice gave different bytes; resumed uploads could not reuse parts")
	}
	if int64(a.Len()) > MaxCompressed(int64(len(src))) || a.Len() >= len(src) {
		t.Fatalf("compressed %d of %d", a.Len(), len(src))
	}
	rc, err := Decode(io.NopCloser(&a), Zstd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("round trip: %v", err)
	}
	if !Shrinks(src[:65536]) {
		t.Error("XML does not shrink?")
	}
	if _, err := Decode(io.NopCloser(strings.NewReader("x")), "lz4"); err == nil {
		t.Error("unknown encoding accepted")
	}
}

func TestDecodeCorruptFails(t *testing.T) {
	var a bytes.Buffer
	Compress(&a, bytes.NewReader(bytes.Repeat([]byte("abc"), 10000)))
	b := a.Bytes()
	b[len(b)/2] ^= 0xff
	rc, err := Decode(io.NopCloser(bytes.NewReader(b)), Zstd)
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if err == nil {
		t.Fatal("corrupt zstd decoded without error")
	}
}
