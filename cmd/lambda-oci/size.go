package main

import (
	"fmt"
	"math/big"
	"strings"
	"unicode"

	"github.com/dustin/go-humanize"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// defaultMaxSize is the --max-size default, Lambda's limit in its own unit.
func defaultMaxSize() string { return humanize.IBytes(uint64(lambda.MaxImageSize)) }

// parseSize reads "10GiB", "10 GiB", "500MB", "10G", "1073741824". The
// units are go-humanize's (G = GB = 10^9, GiB = 2^30); the arithmetic is
// exact, so a fraction of a byte is refused rather than truncated.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	bad := fmt.Errorf("%q: want a positive size such as 10GiB, 500MB or a number of bytes", s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	n, ok := new(big.Rat).SetString(num)
	if num == "" || !ok || n.Sign() <= 0 {
		return 0, bad
	}
	mult := big.NewInt(1)
	if unit != "" {
		m, err := humanize.ParseBigBytes("1" + unit)
		if err != nil {
			return 0, bad
		}
		mult = m
	}
	n.Mul(n, new(big.Rat).SetInt(mult))
	if !n.IsInt() {
		return 0, fmt.Errorf("%q is %s bytes: want a whole number of bytes", s, n.FloatString(3))
	}
	if n.Num().Cmp(big.NewInt(1<<62)) > 0 {
		return 0, bad
	}
	return n.Num().Int64(), nil
}
