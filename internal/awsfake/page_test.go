package awsfake

import (
	"slices"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"xroad-*", "xroad-prod", true},
		{"xroad-*", "xroad-", true},
		{"xroad-*", "other", false},
		{"*-prod", "xroad-prod", true},
		{"*", "", true},
		{"a*b*c", "a-b-b-c", true},
		{"a*b*c", "a-b-b-d", false},
		{"pro?", "prod", true},
		{"pro?", "pro", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tc := range tests {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestPageWalksAllItemsOnce(t *testing.T) {
	items := []int{1, 2, 3, 4, 5, 6, 7}
	var got []int
	token, pages := "", 0
	for {
		pg, next, ok := page(items, 3, token)
		if !ok {
			t.Fatalf("page refused its own token %q", token)
		}
		got, pages = append(got, pg...), pages+1
		if next == "" {
			break
		}
		token = next
	}
	if !slices.Equal(got, items) || pages != 3 {
		t.Errorf("got %v in %d pages, want %v in 3", got, pages, items)
	}
	if all, next, _ := page(items, 0, ""); len(all) != len(items) || next != "" {
		t.Errorf("maxResults 0 gave %v, next %q; want everything and no token", all, next)
	}
	if _, _, ok := page(items, 3, "bogus"); ok {
		t.Errorf("page accepted a token it never handed out")
	}
}
