package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// suggest returns the candidate a user most likely meant when typing word:
// the closest one within an edit distance of 2, or else the shortest one
// that word is a prefix of (or that is a prefix of word). It returns "" when
// nothing is close.
func suggest(word string, candidates []string) string {
	// Nobody mistypes a word that long; and the edit distance of long
	// strings is costly.
	const maxLen = 200
	if len(word) > maxLen {
		return ""
	}
	w := strings.ToLower(word)
	if !sort.StringsAreSorted(candidates) {
		candidates = sorted(candidates)
	}
	best, bestDist := "", 3
	for _, c := range candidates {
		if len(c) > maxLen {
			continue
		}
		d := levenshtein(w, strings.ToLower(c))
		// A distance as large as the word itself means nothing in common.
		if d < bestDist && d < len([]rune(w)) && d < len([]rune(c)) {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	if len(w) < 3 {
		return ""
	}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if len(lc) >= 3 && (strings.HasPrefix(lc, w) || strings.HasPrefix(w, lc)) {
			if best == "" || len(c) < len(best) {
				best = c
			}
		}
	}
	return best
}

// didYouMean returns a hint naming the closest candidate, or else fallback.
func didYouMean(word string, candidates []string, fallback string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return fallback
}

// levenshtein returns the edit distance between a and b, counted in runes,
// with a swap of two neighbouring runes counting as one edit (the optimal
// string alignment distance): "retires" is one edit from "retries" and two
// from "requires".
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the one before the previous is needed for swaps.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
