package config

import "strings"

// maxSuggestCandidates bounds the candidate lists worth searching for a
// suggestion.
const maxSuggestCandidates = 256

// suggest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo. Closeness is the edit distance, compared
// case-insensitively; at most a third of the word may differ (and at least
// one edit is always allowed).
func suggest(word string, candidates []string) string {
	if word == "" || len(word) > 2*maxQuoted {
		return ""
	}
	w := strings.ToLower(word)
	limit := max(len(w)/3, 1)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(w, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	// A shortened key ("path" for "path_prefix") is far in edits but
	// unambiguous when exactly one candidate starts or ends with it.
	if len(w) < 3 {
		return ""
	}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if strings.HasPrefix(lc, w) || strings.HasSuffix(lc, w) {
			if best != "" {
				return ""
			}
			best = c
		}
	}
	return best
}

// Suggest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo; the command line uses it for flags and
// commands, as configuration errors do for keys.
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }

// didYouMean returns " (did you mean X?)" for the closest candidate, or "".
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b in
// bytes (Levenshtein plus swaps of adjacent bytes, the commonest typo), which
// is enough for the ASCII names it compares.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
