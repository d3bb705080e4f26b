// Package checks holds Lambda's rules for container images as pure
// functions over one merged view of an image: its manifest media type, its
// config, and every layer's listing (base layers included), stacked the way
// a container runtime stacks them (whiteouts, opaque directories and type
// changes applied once, in view.go). Each rule returns findings with a
// stable id, a severity, the layer and path concerned, a message and, where
// Lambda has one, Lambda's own error name.
//
// Reading a layer (listing.go) is the only I/O here: one streaming pass over
// the blob that measures it, verifies it against its diffID and records its
// entries; listings are cached by layer digest (cache.go). Rules never read
// blobs, so they run on images from any source: a build, a registry, a
// layout, a tarball.
package checks
