package lambdaapi_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
)

// BenchmarkFetchLayer measures a cold fetch (API call, download over
// loopback, SHA-256 verification, rename into the cache) and a warm one (the
// index by ARN: no API call, no download).
func BenchmarkFetchLayer(b *testing.B) {
	const size = 50 << 20
	body := make([]byte, size)
	_, err := rand.Read(body)
	require.NoError(b, err)
	fake := fakelambda.New(b, fakelambda.Options{})
	opts := lambdaapi.Options{Region: "us-east-1", Endpoint: fake.URL, Credentials: fake.Credentials()}
	ctx := context.Background()

	b.Run("cold", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			arn := fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:layer:bench:%d", i+1)
			fake.AddLayer(fakelambda.Layer{ARN: arn, Zip: body})
			o := opts
			o.CacheDir = b.TempDir()
			if _, err := lambdaapi.FetchLayer(ctx, arn, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		arn := "arn:aws:lambda:us-east-1:123456789012:layer:bench-warm:1"
		fake.AddLayer(fakelambda.Layer{ARN: arn, Zip: body})
		o := opts
		o.CacheDir = b.TempDir()
		if _, err := lambdaapi.FetchLayer(ctx, arn, o); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			l, err := lambdaapi.FetchLayer(ctx, arn, o)
			if err != nil || !l.FromCache {
				b.Fatal("not from cache", err)
			}
		}
	})
}
