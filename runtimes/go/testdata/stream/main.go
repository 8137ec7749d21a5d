// A streaming function written as AWS documents it for Go: aws-lambda-go
// sends a handler's io.Reader to the Runtime API as a chunked body, each
// Read as it returns, and an error from Read as Lambda's error trailers.
//
//	{"mode": "url"}:   events.LambdaFunctionURLStreamingResponse (the
//	                   http-integration prelude, then server-sent events)
//	{"mode": "fail"}:  a reader that fails after its first piece
//	otherwise:         a plain io.Reader
//
// Pieces are gapMs (default 500) apart.
package main

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type Event struct {
	Mode  string `json:"mode"`
	GapMs int    `json:"gapMs"`
}

// BrokenStreamError is what the "fail" reader returns mid-stream; aws-lambda-go
// names the error by its type.
type BrokenStreamError struct{ msg string }

func (e *BrokenStreamError) Error() string { return e.msg }

// pieces writes each part into a pipe, gap apart; fail, when set, ends the
// pipe with that error after the first part.
func pieces(gap time.Duration, fail error, parts ...string) io.ReadCloser {
	r, w := io.Pipe()
	go func() {
		for i, p := range parts {
			if i > 0 {
				time.Sleep(gap)
			}
			if _, err := io.WriteString(w, p); err != nil {
				return
			}
			if fail != nil {
				w.CloseWithError(fail)
				return
			}
		}
		w.Close()
	}()
	return r
}

func handler(ctx context.Context, e Event) (io.Reader, error) {
	gap := 500 * time.Millisecond
	if e.GapMs > 0 {
		gap = time.Duration(e.GapMs) * time.Millisecond
	}
	switch e.Mode {
	case "url":
		return &events.LambdaFunctionURLStreamingResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/event-stream"},
			Body:       pieces(gap, nil, "data: one\n\n", "data: two\n\n"),
		}, nil
	case "fail":
		return pieces(gap, &BrokenStreamError{"the stream broke"}, "partial"), nil
	default:
		return pieces(gap, nil, "first", "second"), nil
	}
}

func main() {
	lambda.Start(handler)
}
