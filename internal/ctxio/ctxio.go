// Package ctxio makes long copies stop when their context ends: io.Copy
// has no context, and a multi-GB blob copy must honour Ctrl-C.
package ctxio

import (
	"context"
	"io"
)

// Reader reads from r until ctx ends; then every Read returns ctx's error.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
