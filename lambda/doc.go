// Package lambda holds AWS Lambda's facts as data, defined once: the runtime
// table and each runtime's base image, architectures and the platforms they
// run on, the paths Lambda uses (/opt, the task root, the runtime
// bootstrap), its limits, the environment variables it reserves, and how
// each runtime family finds a handler. Every other package asks this one;
// nobody spells a Lambda path, limit or reserved name anywhere else (a test
// in this package enforces it).
//
// Sources: the AWS Lambda developer guide (images, layers, runtimes,
// environment variables) and the Dockerfiles and bootstraps of
// aws/aws-lambda-base-images, summarised in the project's lambda.md.
package lambda
