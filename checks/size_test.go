package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lambda-oci/lambda-oci/lambda"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		lambda.MaxImageSize: "10 GiB (10,737,418,240 bytes)",
		25088:               "25 KiB (25,088 bytes)",
		3 << 20:             "3.0 MiB (3,145,728 bytes)",
		999:                 "999 bytes",
	} {
		assert.Equal(t, want, HumanBytes(n))
	}
}
