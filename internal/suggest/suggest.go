// Package suggest finds the words a user probably meant: the nearest
// runtime id to a typo, the nearest flag name.
package suggest

import (
	"strings"
)

// Nearest returns the candidates nearest to word (case folded), if they
// are within maxDist edits, in the candidates' order: one suggestion when
// one is clearly meant, several only when they are equally near. A
// candidate that word is a prefix of counts as one edit away: "python3"
// means one of the python3.x ids, "nodejs22" nodejs22.x. (Not the other
// way round: "provided.al2024" does not mean "provided".)
func Nearest(word string, candidates []string, maxDist int) []string {
	w := strings.ToLower(word)
	type scored struct {
		s string
		d int
	}
	var hits []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := distance(w, lc)
		if w != "" && strings.HasPrefix(lc, w) && d > 1 {
			d = 1
		}
		if d <= maxDist {
			hits = append(hits, scored{c, d})
		}
	}
	best := maxDist
	for _, h := range hits {
		best = min(best, h.d)
	}
	out := []string{}
	for _, h := range hits {
		if h.d == best {
			out = append(out, h.s)
		}
	}
	return out
}

// distance is the Damerau-Levenshtein distance (optimal string alignment):
// a swapped pair of letters, the commonest typo, is one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
