package goruntime

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const apiPrefix = "/2018-06-01/runtime"

// inlineFiles reads the `inline:` block scalars of a Function YAML such as
// examples/hello-go.yaml (just enough YAML for that: `name: |` literals).
func inlineFiles(text string) (map[string]string, error) {
	lines := strings.Split(text, "\n")
	indentOf := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	files := map[string]string{}
	inlineIndent := -1
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if inlineIndent < 0 {
			if strings.TrimSpace(line) == "inline:" {
				inlineIndent = indentOf(line)
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		keyIndent := indentOf(line)
		if keyIndent <= inlineIndent {
			break
		}
		key, ok := strings.CutSuffix(strings.TrimSpace(line), ": |")
		if !ok {
			return nil, fmt.Errorf("line %d: only `name: |` entries are supported: %q", i+1, line)
		}
		var body []string
		contentIndent := -1
		for i+1 < len(lines) {
			next := lines[i+1]
			if strings.TrimSpace(next) != "" {
				if indentOf(next) <= keyIndent {
					break
				}
				if contentIndent < 0 {
					contentIndent = indentOf(next)
				}
				next = next[contentIndent:]
			} else {
				next = ""
			}
			body = append(body, next)
			i++
		}
		for len(body) > 0 && body[len(body)-1] == "" {
			body = body[:len(body)-1]
		}
		files[key] = strings.Join(body, "\n") + "\n"
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no inline files found")
	}
	return files, nil
}

func TestHelloTestdataMatchesExample(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello-go.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := inlineFiles(string(text))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("testdata/hello has %d files, the example %d", len(entries), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("testdata", "hello", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != want {
			t.Errorf("testdata/hello/%s differs from examples/hello-go.yaml", name)
		}
	}
}

// ---------------------------------------------------------------------------
// A stub of the Runtime API (enough of Hearth's agent to drive one program)
// ---------------------------------------------------------------------------

type invocation struct {
	id      string
	payload string
}

type posted struct {
	kind      string // response, error, init_error
	id        string
	errorType string
	body      string
	header    http.Header
	chunked   bool        // Transfer-Encoding: chunked
	trailer   http.Header // trailers declared (nil value) or sent
	firstAt   time.Time   // when the first bytes of the body arrived
	endAt     time.Time   // when the body ended
}

// readTimed reads a body to its end, noting when its first bytes came.
func readTimed(r io.Reader) (body []byte, firstAt, endAt time.Time) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if firstAt.IsZero() {
				firstAt = time.Now()
			}
			body = append(body, buf[:n]...)
		}
		if err != nil {
			return body, firstAt, time.Now()
		}
	}
}

type fakeAPI struct {
	srv     *httptest.Server
	next    chan invocation
	results chan posted
	stop    chan struct{}
	once    sync.Once
	// GET /next requests waiting for an event right now.
	polling atomic.Int32
}

func newFakeAPI(t *testing.T) *fakeAPI {
	a := &fakeAPI{next: make(chan invocation, 16), results: make(chan posted, 16), stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		a.polling.Add(1)
		defer a.polling.Add(-1)
		select {
		case inv := <-a.next:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(30*time.Second).UnixMilli()))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:hello-go")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			h.Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, inv.payload)
		case <-a.stop:
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, firstAt, endAt := readTimed(r.Body)
		kind := r.PathValue("kind")
		if kind != "response" && kind != "error" {
			http.NotFound(w, r)
			return
		}
		a.results <- posted{
			kind: kind, id: r.PathValue("id"), errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type"), body: string(body),
			header: r.Header, chunked: slices.Contains(r.TransferEncoding, "chunked"), trailer: r.Trailer, firstAt: firstAt, endAt: endAt,
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST "+apiPrefix+"/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.results <- posted{kind: "init_error", errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type"), body: string(body)}
		w.WriteHeader(http.StatusAccepted)
	})
	a.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(func() {
		a.close()
		a.srv.Close()
	})
	return a
}

func (a *fakeAPI) close() { a.once.Do(func() { close(a.stop) }) }

func (a *fakeAPI) address() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *fakeAPI) invoke(t *testing.T, id, payload string) posted {
	t.Helper()
	a.next <- invocation{id: id, payload: payload}
	select {
	case p := <-a.results:
		if p.id != id && p.kind != "init_error" {
			t.Fatalf("got a result for %q, want %q", p.id, id)
		}
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("no result for %s within 30s", id)
		return posted{}
	}
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

func copyDir(t *testing.T, from, to string, skip ...string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
outer:
	for _, e := range entries {
		for _, s := range skip {
			if e.Name() == s {
				continue outer
			}
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runScript(t *testing.T, env []string, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{script}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
}

// functionEnv is the environment Hearth's agent gives a function instance.
func functionEnv(api *fakeAPI, taskRoot string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "LAMBDA_") && !strings.HasPrefix(kv, "_HANDLER=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_LAMBDA_RUNTIME_API="+api.address(),
		"LAMBDA_TASK_ROOT="+taskRoot,
		"_HANDLER=bootstrap",
		"AWS_LAMBDA_FUNCTION_NAME=hello-go",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/hello-go",
		"AWS_LAMBDA_LOG_STREAM_NAME=local",
	)
	return append(env, extra...)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startProcess(t *testing.T, env []string, name string, args ...string) *lockedBuffer {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 2 * time.Second // do not wait for grandchildren holding the pipes
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, out.String())
		}
	})
	return out
}

func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has PT_INTERP)", bin)
		}
	}
}

func checkHello(t *testing.T, api *fakeAPI) {
	t.Helper()
	res := api.invoke(t, "req-go-1", `{"name":"Hearth"}`)
	if res.kind != "response" {
		t.Fatalf("got %s %s: %s", res.kind, res.errorType, res.body)
	}
	want := `{"statusCode":200,"body":"Hello from Go, Hearth! (request req-go-1)"}`
	if strings.TrimSpace(res.body) != want {
		t.Fatalf("response %s, want %s", res.body, want)
	}
	res = api.invoke(t, "req-go-2", `{}`)
	var body struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.Body != "Hello from Go, world! (request req-go-2)" {
		t.Fatalf("second response %s (%v)", res.body, err)
	}
	// An event that does not fit the handler's type is a function error, posted
	// by aws-lambda-go to /error. Note: aws-lambda-go (v1.55.1) sends no
	// Lambda-Runtime-Function-Error-Type header; the errorType is only in the
	// body, so the agent must read it from there when the header is missing.
	res = api.invoke(t, "req-go-3", `"not an object"`)
	if res.kind != "error" {
		t.Fatalf("got %s %q: %s", res.kind, res.errorType, res.body)
	}
	var errJSON map[string]any
	if err := json.Unmarshal([]byte(res.body), &errJSON); err != nil || errJSON["errorType"] != "UnmarshalTypeError" {
		t.Fatalf("error body %s (%v)", res.body, err)
	}
	if res.errorType != "" && res.errorType != "UnmarshalTypeError" {
		t.Fatalf("error type header %q disagrees with the body %s", res.errorType, res.body)
	}
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

func TestBuildAndRunHello(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	out := filepath.Join(t.TempDir(), "out")
	copyDir(t, filepath.Join("testdata", "hello"), src)
	runScript(t, os.Environ(), "./build.sh", src, out)
	bin := filepath.Join(out, "bootstrap")
	first, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)
	// Idempotent: building again succeeds and leaves one bootstrap behind.
	runScript(t, os.Environ(), "./build.sh", src, out)
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "bootstrap" {
		t.Fatalf("out dir holds %v", entries)
	}
	if second, err := os.Stat(bin); err != nil || second.Size() != first.Size() {
		t.Fatalf("rebuild changed the binary size (%v)", err)
	}
	api := newFakeAPI(t)
	startProcess(t, functionEnv(api, src), bin)
	checkHello(t, api)
}

func TestBuildWithoutGoSum(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	out := filepath.Join(t.TempDir(), "out")
	copyDir(t, filepath.Join("testdata", "hello"), src, "go.sum")
	runScript(t, os.Environ(), "./build.sh", src, out)
	if _, err := os.Stat(filepath.Join(out, "bootstrap")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src, "go.sum")); !os.IsNotExist(err) {
		t.Fatalf("build.sh wrote into the source directory (go.sum: %v)", err)
	}
}

func TestBuildRejectsMissingGoMod(t *testing.T) {
	cmd := exec.Command("sh", "./build.sh", t.TempDir(), t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no go.mod") {
		t.Fatalf("want a failure naming go.mod, got %v: %s", err, out)
	}
}

func TestStartBuildsOnFirstStartThenRuns(t *testing.T) {
	src := filepath.Join(t.TempDir(), "task")
	copyDir(t, filepath.Join("testdata", "hello"), src)
	buildDir := t.TempDir()
	api := newFakeAPI(t)
	abs, _ := filepath.Abs("start.sh")
	startProcess(t, functionEnv(api, src, "HEARTH_GO_BUILD_DIR="+buildDir), "sh", abs)
	checkHello(t, api)
	// The build was cached under the build dir.
	matches, _ := filepath.Glob(filepath.Join(buildDir, "*", "bootstrap"))
	if len(matches) != 1 {
		t.Fatalf("want one cached bootstrap, got %v", matches)
	}
}

func TestStartRunsAShippedBootstrap(t *testing.T) {
	task := t.TempDir()
	script := "#!/bin/sh\necho \"shipped bootstrap for $AWS_LAMBDA_FUNCTION_NAME\"\nexec sleep 30\n"
	if err := os.WriteFile(filepath.Join(task, "bootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI(t)
	abs, _ := filepath.Abs("start.sh")
	out := startProcess(t, functionEnv(api, task), "sh", abs)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "shipped bootstrap for hello-go") {
		if time.Now().After(deadline) {
			t.Fatalf("the shipped bootstrap did not run; output %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPolling waits (bounded) until n loops of the program wait on /next at once.
func (a *fakeAPI) waitPolling(t *testing.T, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.polling.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d loops polling /next, want %d", a.polling.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// aws-lambda-go (>= 1.52 on Go >= 1.22) runs AWS_LAMBDA_MAX_CONCURRENCY
// /next loops, each a goroutine, in one process. start.sh must hand the
// variable to the program; this runs the program the way Hearth does.
func TestStartServesMaxConcurrencyInvocationsAtOnce(t *testing.T) {
	src := filepath.Join(t.TempDir(), "task")
	copyDir(t, filepath.Join("testdata", "sleepy"), src)
	api := newFakeAPI(t)
	abs, _ := filepath.Abs("start.sh")
	startProcess(t, functionEnv(api, src, "HEARTH_GO_BUILD_DIR="+t.TempDir(), "AWS_LAMBDA_MAX_CONCURRENCY=4"), "sh", abs)
	if r := api.invoke(t, "warm", `{"ms":0}`); r.kind != "response" {
		t.Fatalf("warm-up: %s %s", r.kind, r.body)
	}
	api.waitPolling(t, 4)
	start := time.Now()
	for i := range 4 {
		api.next <- invocation{id: fmt.Sprintf("req-%d", i), payload: `{"ms":500}`}
	}
	pids := map[int]bool{}
	ids := map[string]bool{}
	for range 4 {
		select {
		case p := <-api.results:
			var r struct {
				Pid       int    `json:"pid"`
				RequestID string `json:"requestId"`
			}
			if p.kind != "response" || json.Unmarshal([]byte(p.body), &r) != nil || r.RequestID != p.id {
				t.Fatalf("result %+v", p)
			}
			pids[r.Pid] = true
			ids[r.RequestID] = true
		case <-time.After(10 * time.Second):
			t.Fatal("fewer than 4 results within 10s")
		}
	}
	// One after the other the four would take 2 s.
	if elapsed := time.Since(start); elapsed > 1200*time.Millisecond {
		t.Fatalf("4 invocations of 500 ms took %v", elapsed)
	}
	if len(pids) != 1 || len(ids) != 4 {
		t.Fatalf("pids %v, request ids %v: want one process serving four requests", pids, ids)
	}
}

func TestWithoutMaxConcurrencyOneLoopPolls(t *testing.T) {
	src := filepath.Join(t.TempDir(), "task")
	copyDir(t, filepath.Join("testdata", "sleepy"), src)
	api := newFakeAPI(t)
	abs, _ := filepath.Abs("start.sh")
	startProcess(t, functionEnv(api, src, "HEARTH_GO_BUILD_DIR="+t.TempDir()), "sh", abs)
	if r := api.invoke(t, "warm", `{"ms":0}`); r.kind != "response" {
		t.Fatalf("warm-up: %s %s", r.kind, r.body)
	}
	api.waitPolling(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := api.polling.Load(); n != 1 {
		t.Fatalf("%d loops polling /next, want 1", n)
	}
}

// aws-lambda-go streams a handler's io.Reader (AWS's way for Go, e.g.
// events.LambdaFunctionURLStreamingResponse): a chunked /response, each Read
// sent as it returns, and a Read error as Lambda's error trailers. It sends
// no Lambda-Runtime-Function-Response-Mode header, so the agent must take a
// chunked /response that declares the error trailers as a stream.
func TestStreamingReaderIsPostedAsItIsRead(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	out := filepath.Join(t.TempDir(), "out")
	copyDir(t, filepath.Join("testdata", "stream"), src)
	runScript(t, os.Environ(), "./build.sh", src, out)
	// Built as AWS builds for provided runtimes, without aws-lambda-go's RPC mode.
	info, err := buildinfo.ReadFile(filepath.Join(out, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.Settings, debug.BuildSetting{Key: "-tags", Value: "lambda.norpc"}) {
		t.Fatalf("bootstrap not built with -tags lambda.norpc: %v", info.Settings)
	}
	api := newFakeAPI(t)
	startProcess(t, functionEnv(api, src), filepath.Join(out, "bootstrap"))

	res := api.invoke(t, "req-stream-1", `{}`)
	if res.kind != "response" || res.body != "firstsecond" {
		t.Fatalf("got %s %q", res.kind, res.body)
	}
	if !res.chunked {
		t.Fatal("the /response is not chunked")
	}
	// net/http moves the Trailer header's names into Request.Trailer.
	for _, name := range []string{"Lambda-Runtime-Function-Error-Type", "Lambda-Runtime-Function-Error-Body"} {
		if _, declared := res.trailer[name]; !declared {
			t.Fatalf("trailer %s not declared (trailers %v)", name, res.trailer)
		}
	}
	if got := res.header.Get("Lambda-Runtime-Function-Response-Mode"); got != "" {
		t.Fatalf("aws-lambda-go now sends Lambda-Runtime-Function-Response-Mode %q: the agent's detection can rely on it", got)
	}
	// The reader gives "first", then "second" 500 ms later: the first is not held back.
	if gap := res.endAt.Sub(res.firstAt); gap < 400*time.Millisecond {
		t.Fatalf("first bytes came %v before the end, want >= 400ms", gap)
	}

	res = api.invoke(t, "req-stream-url", `{"mode":"url","gapMs":50}`)
	if ct := res.header.Get("Content-Type"); ct != "application/vnd.awslambda.http-integration-response" {
		t.Fatalf("content type %q", ct)
	}
	want := `{"statusCode":200,"headers":{"Content-Type":"text/event-stream"}}` + strings.Repeat("\x00", 8) + "data: one\n\ndata: two\n\n"
	if res.body != want {
		t.Fatalf("body %q, want %q", res.body, want)
	}

	res = api.invoke(t, "req-stream-fail", `{"mode":"fail"}`)
	if res.kind != "response" || res.body != "partial" {
		t.Fatalf("got %s %q", res.kind, res.body)
	}
	if got := res.trailer.Get("Lambda-Runtime-Function-Error-Type"); got != "BrokenStreamError" {
		t.Fatalf("error type trailer %q (trailers %v)", got, res.trailer)
	}
	errJSON, err := base64.StdEncoding.DecodeString(res.trailer.Get("Lambda-Runtime-Function-Error-Body"))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(errJSON, &body); err != nil || body["errorMessage"] != "the stream broke" || body["errorType"] != "BrokenStreamError" {
		t.Fatalf("error body %s (%v)", errJSON, err)
	}
}
