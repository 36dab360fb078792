package output

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

type result struct {
	Status string `json:"status"`
	fail   bool
}

func (r result) WriteText(w io.Writer) error {
	if r.fail {
		return errors.New("cannot write")
	}
	_, err := io.WriteString(w, "status: "+r.Status+"\n")
	return err
}

func TestFormatParsesOnce(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Format
		wantErr bool
	}{{"text", Text, false}, {"json", JSON, false}, {"yaml", Text, true}, {"JSON", Text, true}, {"", Text, true}} {
		f := Text
		err := f.Set(tc.in)
		if (err != nil) != tc.wantErr || f != tc.want {
			t.Errorf("Set(%q): got %s, %v; want %s (error %v)", tc.in, f, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "want text or json") {
			t.Errorf("Set(%q): error %q does not say what is wanted", tc.in, err)
		}
	}
	if f := JSON; f.String() != "json" || f.Type() != "text|json" {
		t.Errorf("String %q, Type %q", f.String(), f.Type())
	}
}

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       Format
		r       result
		want    string
		wantErr bool
	}{
		{"text is the result's own", Text, result{Status: "ok"}, "status: ok\n", false},
		{"JSON is one line off a terminal", JSON, result{Status: "partial"}, "{\"status\":\"partial\"}\n", false},
		{"a result that cannot write says so", Text, result{fail: true}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			err := Write(&b, tc.f, tc.r)
			if b.String() != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("got %q, %v; want %q (error %v)", b.String(), err, tc.want, tc.wantErr)
			}
		})
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&strings.Builder{}) {
		t.Fatal("a file or a buffer taken for a terminal")
	}
}

// droppingResult writes lines and drops every write error, as a text
// written with fmt.Fprintf does.
type droppingResult struct{ lines int }

func (r droppingResult) WriteText(w io.Writer) error {
	for i := range r.lines {
		io.WriteString(w, strings.Repeat("x", 98)+string(rune('0'+i%10))+"\n")
	}
	return nil
}

// TestWriteReportsADroppedWriteError: Write returns the writer's error
// whichever line failed, even when WriteText did not look at it, for
// texts shorter and longer than Write's buffer.
func TestWriteReportsADroppedWriteError(t *testing.T) {
	for _, lines := range []int{1, 3, 200} {
		if err := Write(failWriter{}, Text, droppingResult{lines}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%d lines to a failing writer: %v, want disk full", lines, err)
		}
		var b strings.Builder
		if err := Write(&b, Text, droppingResult{lines}); err != nil || b.Len() != 100*lines {
			t.Errorf("%d lines to a buffer: %d bytes, %v; want %d bytes", lines, b.Len(), err, 100*lines)
		}
	}
}
