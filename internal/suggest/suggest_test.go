package suggest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNearest(t *testing.T) {
	ids := []string{"python3.14", "python3.13", "python3.12", "nodejs22.x", "nodejs20.x", "provided.al2023"}
	tests := []struct {
		word string
		max  int
		want []string
	}{
		{"pyhton3.12", 2, []string{"python3.12"}}, // swapped letters: one edit
		{"python3.12", 2, []string{"python3.12"}},
		{"python312", 2, []string{"python3.12"}},
		{"python3", 2, []string{"python3.14", "python3.13", "python3.12"}}, // equally near: all, in order
		{"nodejs22", 2, []string{"nodejs22.x"}},                            // a prefix is one edit; nodejs20.x is three
		{"PROVIDED.AL2023", 2, []string{"provided.al2023"}},
		{"cobol1", 2, []string{}},
		{"", 2, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			assert.Equal(t, tt.want, Nearest(tt.word, ids, tt.max))
		})
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"arch", "arch", 0}, {"arhc", "arch", 1}, {"tga", "tag", 1},
		{"platform", "arch", 7}, {"kitten", "sitting", 3},
	} {
		assert.Equal(t, tt.want, distance(tt.a, tt.b), "%s/%s", tt.a, tt.b)
	}
}
