//go:build !linux

package build

import "testing"

type openWatch struct{}

func watchOpens(t *testing.T, path string) *openWatch {
	t.Skip("counting file opens needs inotify (Linux)")
	return nil
}

func (w *openWatch) opens(t *testing.T) int { return 0 }
