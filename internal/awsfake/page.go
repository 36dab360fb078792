package awsfake

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

const tokenPrefix = "awsfake-next:"

// page returns the part of items that a request with maxResults (0: all)
// and pagination token asks for, and the token of the next page ("" after
// the last). ok is false for a token this server did not hand out.
func page[T any](items []T, maxResults int, token string) (_ []T, next string, ok bool) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", false
		}
		n, err := strconv.Atoi(strings.TrimPrefix(string(raw), tokenPrefix))
		if err != nil || !strings.HasPrefix(string(raw), tokenPrefix) || n < 0 || n > len(items) {
			return nil, "", false
		}
		start = n
	}
	end := len(items)
	if maxResults > 0 && start+maxResults < end {
		end = start + maxResults
	}
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(end)))
	}
	return items[start:end], next, true
}

// glob reports whether s matches pattern, where * matches any run of
// characters and ? any single one (EC2 filter value wildcards).
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// globAny reports whether s matches any of patterns.
func globAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

// sortBy sorts items by a string key.
func sortBy[T any](items []T, key func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
