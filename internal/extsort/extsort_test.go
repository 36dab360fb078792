package extsort

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

type rec struct {
	N   int    `json:"n"`
	Tag string `json:"t"`
}

func TestSorterOrdersStablyAcrossSpills(t *testing.T) {
	for _, tc := range []struct {
		name         string
		n, limit     int
		wantSpilled  bool
		distinctKeys int
	}{
		{"in memory", 100, 1000, false, 37},
		{"one spill", 1000, 1000, true, 50},
		{"many spills", 5000, 64, true, 200},
		{"empty", 0, 10, false, 1},
		{"keys that are not UTF-8", 300, 16, true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New[rec](t.TempDir(), tc.limit)
			r := rand.New(rand.NewPCG(1, 2))
			type kv struct {
				k string
				v rec
			}
			var want []kv
			for i := 0; i < tc.n; i++ {
				k := fmt.Sprintf("key-%05d", r.IntN(tc.distinctKeys))
				if tc.name == "keys that are not UTF-8" {
					k = string([]byte{0xff, byte(r.IntN(tc.distinctKeys)), 0xfe})
				}
				v := rec{N: i, Tag: fmt.Sprintf("%q", k)} // values' strings go through JSON
				want = append(want, kv{k, v})
				if err := s.Add(k, v); err != nil {
					t.Fatal(err)
				}
			}
			sort.SliceStable(want, func(i, j int) bool { return want[i].k < want[j].k })
			var got []kv
			if err := s.Each(func(k string, v rec) error { got = append(got, kv{k, v}); return nil }); err != nil {
				t.Fatal(err)
			}
			if (s.Spilled > 0) != tc.wantSpilled {
				t.Errorf("spilled %d records, want spill %v", s.Spilled, tc.wantSpilled)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestSorterStopsOnCallbackError(t *testing.T) {
	s := New[rec](t.TempDir(), 4)
	for i := 0; i < 10; i++ {
		if err := s.Add(fmt.Sprint(i), rec{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	stop := fmt.Errorf("stop")
	n := 0
	err := s.Each(func(string, rec) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("got %v after %d calls, want the callback's error after 1", err, n)
	}
}

func TestSpillToMissingDirectoryIsAnError(t *testing.T) {
	s := New[rec](t.TempDir()+"/absent", 2)
	s.Add("a", rec{})
	if err := s.Add("b", rec{}); !errors.Is(err, ErrSpill) {
		t.Fatal("spill to a missing directory succeeded")
	}
	s.Close()
}
