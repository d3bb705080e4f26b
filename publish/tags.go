package publish

// tagged is a publisher that pushes to registry tags; a decorator
// forwards Tags so the tags stay visible through it.
type tagged interface{ Tags() []string }

// Tags are the registry tags p pushes to, through Multi and the
// decorators of this package: where a later build finds this one's image
// (build.Options.CacheFrom defaults to them).
func Tags(p Publisher) []string {
	switch t := p.(type) {
	case multi:
		var out []string
		for _, q := range t {
			out = append(out, Tags(q)...)
		}
		return out
	case tagged:
		return t.Tags()
	}
	return nil
}

// Tags are the tags the registry publisher pushes to.
func (r *registryPublisher) Tags() []string { return append([]string(nil), r.tags...) }

// Tags forwards the decorated publisher's tags.
func (r *recorder) Tags() []string { return Tags(r.Publisher) }
