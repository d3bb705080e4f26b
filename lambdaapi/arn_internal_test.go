package lambdaapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFunctionRegion(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"orders", ""},
		{"orders:live", ""},
		{"123456789012:function:orders", ""},
		{"arn:aws:lambda:eu-west-1:123456789012:function:orders", "eu-west-1"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:orders:live", "eu-west-1"},
		{"arn:aws-cn:lambda:cn-north-1:123456789012:function:orders", "cn-north-1"},
		{"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:orders:3", "us-gov-west-1"},
		// Not a function ARN: the configured region applies.
		{"arn:aws:lambda:eu-west-1:123456789012:layer:l:1", ""},
		{"arn:aws:s3:eu-west-1:123456789012:function:orders", ""},
		{"arn:aws:lambda:eu-west-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, functionRegion(tt.in))
		})
	}
}
