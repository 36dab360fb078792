// Package extsort orders records by a string key in bounded memory: it
// keeps at most a fixed number of records, spills sorted runs to unlinked
// temporary files (JSON lines, deflated) and merges them when read. It is how
// verify and the local store handle a million entries without holding
// them all.
//
// It knows nothing of what the records are, and never keeps a file name
// on disk once created (a spill vanishes when closed or when the process
// dies).
package extsort

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/klauspost/compress/flate"
)

// DefaultLimit is how many records a Sorter keeps in memory by default.
const DefaultLimit = 16384

// ErrSpill marks a failure of the local spill files (a full disk): the
// caller could not sort, which says nothing about its records.
var ErrSpill = errors.New("spill records for sorting")

// Sorter orders records of type T (JSON-encodable) by key; records with
// equal keys keep the order they were added in. The zero value is not
// usable: call New. A Sorter is not safe for concurrent use.
type Sorter[T any] struct {
	dir   string
	limit int
	buf   []item[T]
	runs  []*os.File
	// Spilled counts the records written to spill files.
	Spilled int64
}

type item[T any] struct {
	K string
	V T
}

// onDisk is a spilled record; the key is kept as bytes (base64 in JSON)
// so keys that are not UTF-8 survive the round trip.
type onDisk[T any] struct {
	K []byte `json:"k"`
	V T      `json:"v"`
}

// New returns a Sorter that spills to dir ("" the system's temporary
// directory) once it holds limit records (<= 0: DefaultLimit).
func New[T any](dir string, limit int) *Sorter[T] {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Sorter[T]{dir: dir, limit: limit}
}

// Add adds a record.
func (s *Sorter[T]) Add(key string, v T) error {
	s.buf = append(s.buf, item[T]{key, v})
	if len(s.buf) >= s.limit {
		return s.spill()
	}
	return nil
}

func (s *Sorter[T]) sortBuf() {
	slices.SortStableFunc(s.buf, func(a, b item[T]) int { return strings.Compare(a.K, b.K) })
}

func (s *Sorter[T]) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.dir, "archiver-sort-*")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	s.runs = append(s.runs, f)
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	// Deflate, not zstd: merging holds one decompressor per run, and
	// deflate's is about 50 kB where zstd's is several hundred.
	zw, err := flate.NewWriter(w, flate.BestSpeed)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	enc := json.NewEncoder(zw)
	for _, it := range s.buf {
		if err := enc.Encode(onDisk[T]{[]byte(it.K), it.V}); err != nil {
			return fmt.Errorf("%w: %v", ErrSpill, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %v", ErrSpill, err)
	}
	s.Spilled += int64(len(s.buf))
	s.buf = make([]item[T], 0, min(s.limit, 1024))
	return nil
}

// Close releases the spill files; Each closes them too.
func (s *Sorter[T]) Close() {
	for _, f := range s.runs {
		f.Close()
	}
	s.runs, s.buf = nil, nil
}

// Each calls fn for every record in key order, then releases the Sorter
// (it cannot be used again). An error from fn stops it and is returned.
func (s *Sorter[T]) Each(fn func(key string, v T) error) error {
	defer s.Close()
	if len(s.runs) == 0 {
		s.sortBuf()
		for _, it := range s.buf {
			if err := fn(it.K, it.V); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	h := &runHeap[T]{}
	for i, f := range s.runs {
		zr := flate.NewReader(bufio.NewReaderSize(f, 16<<10))
		defer zr.Close()
		r := &run[T]{n: i, dec: json.NewDecoder(zr)}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h.rs = append(h.rs, r)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		r := h.rs[0]
		if err := fn(r.cur.K, r.cur.V); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type run[T any] struct {
	n   int
	dec *json.Decoder
	cur item[T]
}

func (r *run[T]) next() (bool, error) {
	var d onDisk[T]
	err := r.dec.Decode(&d)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: read back: %v", ErrSpill, err)
	}
	r.cur = item[T]{string(d.K), d.V}
	return true, nil
}

// runHeap orders runs by their current key, then by run (the order the
// records were added in).
type runHeap[T any] struct{ rs []*run[T] }

func (h *runHeap[T]) Len() int { return len(h.rs) }
func (h *runHeap[T]) Less(i, j int) bool {
	if c := strings.Compare(h.rs[i].cur.K, h.rs[j].cur.K); c != 0 {
		return c < 0
	}
	return h.rs[i].n < h.rs[j].n
}
func (h *runHeap[T]) Swap(i, j int) { h.rs[i], h.rs[j] = h.rs[j], h.rs[i] }
func (h *runHeap[T]) Push(x any)    { h.rs = append(h.rs, x.(*run[T])) }
func (h *runHeap[T]) Pop() any {
	r := h.rs[len(h.rs)-1]
	h.rs = h.rs[:len(h.rs)-1]
	return r
}
