// Package publish writes a built image to its destinations: an OCI image
// layout, a `docker load` tarball, a registry, or several at once.
//
// Every destination is a Publisher: Check refuses, before any build work,
// a destination that cannot be written; Publish writes all or nothing; the
// Publication it returns can Undo exactly what that call added. Multi fans
// one image out to several destinations and undoes the earlier ones when a
// later one fails, so a failed build leaves no outputs. The package prints
// nothing.
package publish
