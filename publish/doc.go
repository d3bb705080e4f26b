// Package publish writes built images to their destinations: an OCI image
// layout, a `docker load` tarball, the image references a CI step reads.
package publish
