// Package goruntime holds the tests of Hearth's `go` runtime. The runtime
// itself is build.sh (the build recipe) and start.sh (build on first start,
// then run); the programs it builds speak the Lambda Runtime API themselves,
// through github.com/aws/aws-lambda-go.
package goruntime
