package main

// describeError turns an error into the one line printed on stderr, adding a
// hint for the typed errors the libraries return.
func describeError(err error) string {
	return err.Error()
}
