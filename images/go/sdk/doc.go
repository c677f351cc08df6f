// Package hearth runs a Go function in a Hearth container: it takes one request at a time from the
// Function Compute runtime API (2020-11-11) that Hearth's runtime adapter serves at FC_RUNTIME_API,
// calls the handler, and posts its result or error back.
//
// A function is a package main whose main calls Start with its handler. Hearth's Go builder writes
// that main for Yandex-style sources (package main with an exported handler and no main):
//
//	func main() { hearth.Start(Handler) }
//
// # Handler signatures
//
// Start accepts exactly these forms, where In and Out are any types encoding/json can decode and
// encode. Anything else stops the program at Start: the message, naming the signature, is posted to
// /runtime/init/error (errorType "Runtime.InvalidHandler") and printed to stderr, and it exits 1.
//
//	func()
//	func() error
//	func(In) error
//	func() (Out, error)
//	func(In) (Out, error)
//	func(context.Context) error
//	func(context.Context, In) error
//	func(context.Context) (Out, error)
//	func(context.Context, In) (Out, error)
//
// # Input and output
//
// An In of type []byte or string receives the request body as it is. Any other In is decoded from
// the body with json.Unmarshal into a new value (pointer types included); an empty body counts as
// JSON null, leaving In at its zero value. A body that does not decode answers errorType
// "Runtime.UnmarshalError" without calling the handler.
//
// An Out of type []byte is the response body as it is. Any other Out, string included, is encoded
// with json.Marshal ("Runtime.MarshalError" if that fails); a handler without Out answers null.
// The POST of a response says which: Content-Type application/octet-stream for raw bytes,
// application/json otherwise.
//
// # Errors
//
// A returned error answers {"errorMessage": err.Error(), "errorType": "UserCodeError"}. A panic is
// recovered and answers {"errorMessage": fmt.Sprint(value), "errorType": "UserCodePanic",
// "stackTrace": [...]}, one "function (file:line)" line per frame of the panicking goroutine, and
// is printed to stderr. The program goes on serving requests after either.
//
// # Lifecycle hooks
//
// RegisterInitializerFunction and RegisterPreStopFunction set the hooks of Function Compute's
// instance lifecycle, which run when the function's settings name an initializer or a preStop: the
// initializer once per runtime before its first invocation, preStop before the container retires.
// They take func(context.Context), as Function Compute's Go SDK does, or a handler form without input.
//
// # Context
//
// The context.Context a handler receives carries the invocation's deadline (x-fc-function-deadline)
// and is cancelled when the handler returns. FromContext gives the whole InvocationContext; for
// handlers written for Yandex Cloud Functions the context also answers Value with these string keys:
//
//	"lambdaRuntimeFunctionName"     string  the function's name
//	"lambdaRuntimeFunctionVersion"  string  its deployed version
//	"lambdaRuntimeMemoryLimit"      int     its memory limit in MiB
//	"lambdaRuntimeRequestID"        string  the request id
//	"lambdaRuntimeLogGroupName"     string  the log group name
//	"lambdaRuntimeLogStreamName"    string  the log stream name (one per container)
package hearth
