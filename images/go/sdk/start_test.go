package hearth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI serves the Function Compute runtime API: /next hands out the queued invocations, and
// every POST is recorded.
type fakeAPI struct {
	server      *httptest.Server
	stopped     chan struct{}
	queue       chan map[string]string // headers, plus "body"
	posts       chan post
	connections int32
}

type post struct {
	path, contentType, body string
}

func startFakeAPI(t *testing.T) *fakeAPI {
	api := &fakeAPI{queue: make(chan map[string]string, 16), posts: make(chan post, 16), stopped: make(chan struct{})}
	api.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/2020-11-11/runtime/invocation/next" {
			select {
			case next := <-api.queue:
				for name, value := range next {
					if name != "body" {
						w.Header().Set(name, value)
					}
				}
				io.WriteString(w, next["body"])
			case <-r.Context().Done():
			case <-api.stopped:
				panic(http.ErrAbortHandler) // drops the connection: the runtime sees the API go away
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		api.posts <- post{r.URL.EscapedPath(), r.Header.Get("Content-Type"), string(body)}
	}))
	api.server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			atomic.AddInt32(&api.connections, 1)
		}
	}
	api.server.Start()
	t.Cleanup(api.stop)
	return api
}

func (api *fakeAPI) address() string { return strings.TrimPrefix(api.server.URL, "http://") }

// stop ends the held /next call too, so that the runtime sees a connection error. The listener goes
// first: a runtime retrying in between must be refused, not served by a handler that never returns.
func (api *fakeAPI) stop() {
	select {
	case <-api.stopped:
		return // stopped by the test already; this is its cleanup
	default:
	}
	api.server.Listener.Close()
	close(api.stopped)
	api.server.CloseClientConnections()
	api.server.Close()
}

func (api *fakeAPI) nextPost(t *testing.T) post {
	t.Helper()
	select {
	case p := <-api.posts:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no POST from the runtime")
		return post{}
	}
}

var fastBackoff = backoff{attempts: 3, firstDelay: time.Millisecond, maxDelay: time.Millisecond}

// runInBackground runs the runtime against api and returns its exit status and stderr once it ends.
func runInBackground(handler interface{}, env map[string]string) <-chan string {
	done := make(chan string, 1)
	go func() {
		var stderr bytes.Buffer
		status := run(handler, func(name string) string { return env[name] }, &stderr, fastBackoff)
		done <- strings.TrimSpace(fmt.Sprintf("%d %s", status, stderr.String()))
	}()
	return done
}

func TestServesInvocationsInTurnOverOneConnection(t *testing.T) {
	api := startFakeAPI(t)
	type seen struct {
		Input          event
		RequestID      string
		FunctionName   string
		MemoryLimit    int
		LogStreamName  string
		TypedRequestID string
		Region         string
		RetryCount     int
		Timeout        time.Duration
		Deadline       time.Time
	}
	handler := func(ctx context.Context, in event) (seen, error) {
		switch in.Key {
		case "fail":
			return seen{}, errors.New("failed as asked")
		case "panic":
			panic("panicked as asked")
		}
		info, ok := FromContext(ctx)
		if !ok {
			return seen{}, errors.New("no InvocationContext")
		}
		deadline, _ := ctx.Deadline()
		return seen{
			Input:          in,
			RequestID:      ctx.Value("lambdaRuntimeRequestID").(string),
			FunctionName:   ctx.Value("lambdaRuntimeFunctionName").(string),
			MemoryLimit:    ctx.Value("lambdaRuntimeMemoryLimit").(int),
			LogStreamName:  ctx.Value("lambdaRuntimeLogStreamName").(string),
			TypedRequestID: info.RequestID,
			Region:         info.Region,
			RetryCount:     info.RetryCount,
			Timeout:        info.Timeout,
			Deadline:       deadline,
		}, nil
	}
	deadline := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	api.queue <- map[string]string{
		"x-fc-request-id":        "req-1",
		"x-fc-function-deadline": fmt.Sprint(deadline.UnixMilli()),
		"x-fc-function-timeout":  "60",
		"x-fc-function-memory":   "256",
		"x-fc-region":            "local",
		"x-fc-retry-count":       "2",
		"body":                   `{"key":"value"}`,
	}
	api.queue <- map[string]string{"x-fc-request-id": "req-2", "body": `{"key":"fail"}`}
	api.queue <- map[string]string{"x-fc-request-id": "req-3", "body": `{"key":"panic"}`}
	api.queue <- map[string]string{"x-fc-request-id": "req 4", "body": `not json`}
	done := runInBackground(handler, map[string]string{
		"FC_RUNTIME_API":             api.address(),
		"AWS_LAMBDA_FUNCTION_NAME":   "hello",
		"AWS_LAMBDA_LOG_STREAM_NAME": "stream-1",
	})

	first := api.nextPost(t)
	var got seen
	if err := json.Unmarshal([]byte(first.body), &got); err != nil {
		t.Fatalf("response %q: %v", first.body, err)
	}
	want := seen{event{"value"}, "req-1", "hello", 256, "stream-1", "req-1", "local", 2, time.Minute, deadline}
	if first.path != "/2020-11-11/runtime/invocation/req-1/response" || first.contentType != "application/json" || !got.Deadline.Equal(want.Deadline) {
		t.Errorf("first POST %+v", first)
	}
	got.Deadline = want.Deadline
	if got != want {
		t.Errorf("handler saw %+v, want %+v", got, want)
	}

	if p := api.nextPost(t); p.path != "/2020-11-11/runtime/invocation/req-2/error" || p.body != `{"errorMessage":"failed as asked","errorType":"UserCodeError"}` {
		t.Errorf("second POST %+v", p)
	}
	third := api.nextPost(t)
	var panicked functionError
	json.Unmarshal([]byte(third.body), &panicked)
	if third.path != "/2020-11-11/runtime/invocation/req-3/error" || panicked.Type != "UserCodePanic" || panicked.Message != "panicked as asked" || len(panicked.StackTrace) == 0 {
		t.Errorf("third POST %+v", third)
	}
	if p := api.nextPost(t); p.path != "/2020-11-11/runtime/invocation/req%204/error" || !strings.Contains(p.body, `"errorType":"Runtime.UnmarshalError"`) {
		t.Errorf("fourth POST %+v", p)
	}

	api.stop()
	if result := <-done; !strings.HasPrefix(result, "1 hearth: request req-3: the handler panicked: panicked as asked") || !strings.Contains(result, "hearth: stopping: the runtime API failed 3 times in a row") {
		t.Errorf("exit: %q", result)
	}
	if n := atomic.LoadInt32(&api.connections); n != 1 {
		t.Errorf("%d connections to the runtime API, want 1 kept alive", n)
	}
}

func TestRawBytesResponseIsSentAsItIs(t *testing.T) {
	api := startFakeAPI(t)
	api.queue <- map[string]string{"x-fc-request-id": "r", "body": "ping"}
	runInBackground(func(in []byte) ([]byte, error) { return append([]byte("raw "), in...), nil }, map[string]string{"FC_RUNTIME_API": api.address()})
	if p := api.nextPost(t); p.body != "raw ping" || p.contentType != "application/octet-stream" {
		t.Errorf("POST %+v", p)
	}
}

func TestUnsupportedSignatureIsAnInitError(t *testing.T) {
	api := startFakeAPI(t)
	done := runInBackground(func(a, b, c string) error { return nil }, map[string]string{"FC_RUNTIME_API": api.address()})
	p := api.nextPost(t)
	if p.path != "/2020-11-11/runtime/init/error" || !strings.Contains(p.body, `"errorType":"Runtime.InvalidHandler"`) || !strings.Contains(p.body, "func(string, string, string) error is not supported") {
		t.Errorf("POST %+v", p)
	}
	if result := <-done; !strings.HasPrefix(result, "1 hearth.Start: handler signature func(string, string, string) error is not supported") {
		t.Errorf("exit: %q", result)
	}
}

func TestNeedsTheRuntimeAPIAddress(t *testing.T) {
	if result := <-runInBackground(func() {}, nil); result != "1 hearth: FC_RUNTIME_API is not set: this program is a Hearth Go function, started by Hearth's runtime adapter" {
		t.Errorf("exit: %q", result)
	}
}

func TestRunsRegisteredLifecycleHooksOnTheirEvents(t *testing.T) {
	defer func() { hooks, hookErrors = map[string]*handler{}, map[string]error{} }()
	api := startFakeAPI(t)
	var initialized, stopped int32
	RegisterInitializerFunction(func(ctx context.Context) { atomic.AddInt32(&initialized, 1) })
	RegisterPreStopFunction(func(ctx context.Context) error {
		atomic.AddInt32(&stopped, 1)
		return errors.New("could not flush")
	})
	done := runInBackground(func() (string, error) { return "handled", nil }, map[string]string{"FC_RUNTIME_API": api.address()})
	deadline := fmt.Sprint(time.Now().Add(time.Minute).UnixMilli())
	for _, event := range []struct{ id, functionType string }{{"init-1", "1"}, {"req-1", "0"}, {"stop-1", "3"}} {
		api.queue <- map[string]string{"x-fc-request-id": event.id, "x-fc-function-deadline": deadline, "x-fc-function-timeout": "3", "x-fc-function-type": event.functionType}
	}
	if p := api.nextPost(t); p.path != "/2020-11-11/runtime/invocation/init-1/response" {
		t.Fatalf("initializer: got %+v", p)
	}
	if p := api.nextPost(t); p.path != "/2020-11-11/runtime/invocation/req-1/response" || p.body != `"handled"` {
		t.Fatalf("handler: got %+v", p)
	}
	if p := api.nextPost(t); p.path != "/2020-11-11/runtime/invocation/stop-1/error" || p.body != `{"errorMessage":"could not flush","errorType":"UserCodeError"}` {
		t.Fatalf("preStop: got %+v", p)
	}
	if initialized != 1 || stopped != 1 {
		t.Fatalf("hooks ran %d and %d times, want 1 each", initialized, stopped)
	}
	api.stop()
	<-done
}

func TestAnswersAHookThatIsNotRegistered(t *testing.T) {
	api := startFakeAPI(t)
	done := runInBackground(func() {}, map[string]string{"FC_RUNTIME_API": api.address()})
	api.queue <- map[string]string{"x-fc-request-id": "init-1", "x-fc-function-deadline": fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()), "x-fc-function-timeout": "3", "x-fc-function-type": "1"}
	p := api.nextPost(t)
	if p.path != "/2020-11-11/runtime/invocation/init-1/error" || !strings.Contains(p.body, "RegisterInitializerFunction") {
		t.Fatalf("got %+v", p)
	}
	api.stop()
	<-done
}
