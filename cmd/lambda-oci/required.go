package main

import (
	"fmt"
	"strings"
)

// missingFlags reports every missing required flag in one error, so a
// first try at a command line is not corrected one flag per run.
func missingFlags(missing ...string) error {
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("missing required flag: %s", missing[0])
	}
	return fmt.Errorf("missing required flags: %s", strings.Join(missing, "; "))
}
