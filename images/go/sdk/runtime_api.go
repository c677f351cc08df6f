package hearth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// invocation is one request taken from GET .../invocation/next.
type invocation struct {
	info *InvocationContext
	body []byte
	// functionType is x-fc-function-type: a lifecycle hook's event ("1", "3") or the handler's.
	functionType string
}

// backoff bounds the retries of GET .../next: when the adapter stops answering for longer than the
// sum of the delays, it is gone, and so is the reason to run.
type backoff struct {
	attempts   int
	firstDelay time.Duration
	maxDelay   time.Duration
}

var defaultBackoff = backoff{attempts: 10, firstDelay: 10 * time.Millisecond, maxDelay: 500 * time.Millisecond}

// runtimeAPI is a client of the Function Compute runtime API (2020-11-11). Requests go one after
// another over a single keep-alive connection.
type runtimeAPI struct {
	base    string
	client  *http.Client
	backoff backoff
	// process is what the environment says about the function; each invocation adds its own details.
	process InvocationContext
}

func newRuntimeAPI(address string, process InvocationContext, retry backoff) *runtimeAPI {
	transport := &http.Transport{
		Proxy:               nil, // loopback: never through an HTTP_PROXY of the function's environment
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		// One connection, reused: without this a request made just as the last response's body was
		// read can race the connection's return to the idle pool and dial a second one.
		MaxConnsPerHost:    1,
		DisableCompression: true,
	}
	return &runtimeAPI{
		base:    "http://" + address + "/2020-11-11/runtime",
		client:  &http.Client{Transport: transport}, // no timeout: /next blocks until there is work
		backoff: retry,
		process: process,
	}
}

// next blocks until the adapter hands over a request, retrying failed calls within the backoff.
func (api *runtimeAPI) next() (*invocation, error) {
	delay := api.backoff.firstDelay
	for attempt := 1; ; attempt++ {
		inv, err := api.tryNext()
		if err == nil {
			return inv, nil
		}
		if attempt >= api.backoff.attempts {
			return nil, fmt.Errorf("the runtime API failed %d times in a row, last: %v", attempt, err)
		}
		time.Sleep(delay)
		if delay *= 2; delay > api.backoff.maxDelay {
			delay = api.backoff.maxDelay
		}
	}
}

func (api *runtimeAPI) tryNext() (*invocation, error) {
	response, err := api.client.Get(api.base + "/invocation/next")
	if err != nil {
		return nil, err
	}
	body, err := readAll(response)
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /invocation/next answered %s: %s", response.Status, truncate(body))
	}
	header := response.Header
	info := api.process
	info.RequestID = header.Get("x-fc-request-id")
	if info.RequestID == "" {
		return nil, fmt.Errorf("GET /invocation/next answered without x-fc-request-id")
	}
	if ms, err := strconv.ParseInt(header.Get("x-fc-function-deadline"), 10, 64); err == nil {
		info.Deadline = time.UnixMilli(ms)
	}
	if seconds, err := strconv.ParseFloat(header.Get("x-fc-function-timeout"), 64); err == nil {
		info.Timeout = time.Duration(seconds * float64(time.Second))
	}
	if name := header.Get("x-fc-function-name"); name != "" {
		info.FunctionName = name
	}
	if handler := header.Get("x-fc-function-handler"); handler != "" {
		info.Handler = handler
	}
	if memory, err := strconv.Atoi(header.Get("x-fc-function-memory")); err == nil {
		info.MemoryLimitMB = memory
	}
	if region := header.Get("x-fc-region"); region != "" {
		info.Region = region
	}
	info.RetryCount, _ = strconv.Atoi(header.Get("x-fc-retry-count"))
	return &invocation{info: &info, body: body, functionType: header.Get("x-fc-function-type")}, nil
}

func (api *runtimeAPI) respond(requestID, contentType string, body []byte) error {
	return api.post("/invocation/"+url.PathEscape(requestID)+"/response", contentType, body)
}

func (api *runtimeAPI) fail(requestID string, failure *functionError) error {
	return api.postJSON("/invocation/"+url.PathEscape(requestID)+"/error", failure)
}

func (api *runtimeAPI) initError(failure *functionError) error {
	return api.postJSON("/init/error", failure)
}

func (api *runtimeAPI) postJSON(path string, value interface{}) error {
	body, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return api.post(path, "application/json", body)
}

func (api *runtimeAPI) post(path, contentType string, body []byte) error {
	response, err := api.client.Post(api.base+path, contentType, bytes.NewReader(body))
	if err != nil {
		return err
	}
	answer, err := readAll(response)
	if err != nil {
		return err
	}
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s answered %s: %s", path, response.Status, truncate(answer))
	}
	return nil
}

// readAll reads and closes a response body; a body read to its end lets the connection be reused.
func readAll(response *http.Response) ([]byte, error) {
	defer response.Body.Close()
	return io.ReadAll(response.Body)
}

func truncate(body []byte) string {
	const limit = 200
	if len(body) > limit {
		return string(body[:limit]) + "..."
	}
	return string(body)
}
