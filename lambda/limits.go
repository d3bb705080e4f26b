package lambda

// MaxImageSize is Lambda's limit on an image's uncompressed size, every
// layer counted, base included: 10 GiB. AWS's documentation says "10 GB";
// the failure Lambda reports says GiB, and that is what it enforces.
const MaxImageSize int64 = 10 * 1024 * 1024 * 1024 // 10,737,418,240 bytes

// ManifestSizeAdvice is the manifest size above which AWS says image pulls
// slow down: a warning, not a refusal.
const ManifestSizeAdvice = 25400

// MaxExtensions is how many extensions (executables in /opt/extensions)
// Lambda starts at most.
const MaxExtensions = 10
