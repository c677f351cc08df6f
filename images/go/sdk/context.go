package hearth

import (
	"context"
	"time"
)

// InvocationContext describes the invocation a handler is running and the function it belongs to.
type InvocationContext struct {
	RequestID       string
	FunctionName    string
	FunctionVersion string
	// Handler is the function's entry point setting, e.g. "index.Handler".
	Handler       string
	MemoryLimitMB int
	Region        string
	LogGroupName  string
	LogStreamName string
	// Deadline is when the invocation times out (zero if the runtime API did not say).
	Deadline time.Time
	// Timeout is the function's timeout setting.
	Timeout time.Duration
	// RetryCount is how many times this request was tried before.
	RetryCount int
}

type invocationContextKey struct{}

// FromContext returns the InvocationContext of the invocation a handler's ctx belongs to.
func FromContext(ctx context.Context) (*InvocationContext, bool) {
	info, ok := ctx.Value(invocationContextKey{}).(*InvocationContext)
	return info, ok
}

// invocationCtx answers Value for the typed key and for the string keys of Yandex Cloud Functions
// (which context.WithValue would need one wrapper each for).
type invocationCtx struct {
	context.Context
	info *InvocationContext
}

func (c *invocationCtx) Value(key interface{}) interface{} {
	switch key {
	case invocationContextKey{}:
		return c.info
	case "lambdaRuntimeFunctionName":
		return c.info.FunctionName
	case "lambdaRuntimeFunctionVersion":
		return c.info.FunctionVersion
	case "lambdaRuntimeMemoryLimit":
		return c.info.MemoryLimitMB
	case "lambdaRuntimeRequestID":
		return c.info.RequestID
	case "lambdaRuntimeLogGroupName":
		return c.info.LogGroupName
	case "lambdaRuntimeLogStreamName":
		return c.info.LogStreamName
	}
	return c.Context.Value(key)
}

// newInvocationContext is the context one handler call receives; cancel it when the call returns.
func newInvocationContext(info *InvocationContext) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if info.Deadline.IsZero() {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		ctx, cancel = context.WithDeadline(context.Background(), info.Deadline)
	}
	return &invocationCtx{Context: ctx, info: info}, cancel
}
