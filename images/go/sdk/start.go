package hearth

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Start serves invocations of handler, one at a time, for as long as the runtime API answers; it
// never returns. A handler of an unsupported signature is reported as an init error, and the
// program exits with status 1.
func Start(handler interface{}) {
	os.Exit(run(handler, os.Getenv, os.Stderr, defaultBackoff))
}

// run is Start with its surroundings as arguments; it returns the exit status once it cannot go on.
func run(fn interface{}, getenv func(string) string, stderr io.Writer, retry backoff) int {
	address := getenv("FC_RUNTIME_API")
	h, err := newHandler(fn)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if address != "" {
			api := newRuntimeAPI(address, InvocationContext{}, retry)
			if postErr := api.initError(&functionError{Type: "Runtime.InvalidHandler", Message: err.Error()}); postErr != nil {
				fmt.Fprintf(stderr, "hearth: could not report the init error: %v\n", postErr)
			}
		}
		return 1
	}
	if address == "" {
		fmt.Fprintln(stderr, "hearth: FC_RUNTIME_API is not set: this program is a Hearth Go function, started by Hearth's runtime adapter")
		return 1
	}

	api := newRuntimeAPI(address, processContext(getenv), retry)
	for {
		inv, err := api.next()
		if err != nil {
			fmt.Fprintf(stderr, "hearth: stopping: %v\n", err)
			return 1
		}
		ctx, cancel := newInvocationContext(inv.info)
		var body []byte
		var failure *functionError
		if hook, hookFailure, isHook := hookFor(inv.functionType); !isHook {
			body, failure = h.invoke(ctx, inv.body)
		} else if hook != nil {
			_, failure = hook.invoke(ctx, nil)
		} else {
			failure = hookFailure
		}
		cancel()
		id := inv.info.RequestID
		if failure == nil {
			err = api.respond(id, h.contentType(), body)
		} else {
			if failure.Type == panicErrorType {
				fmt.Fprintf(stderr, "hearth: request %s: the handler panicked: %s\n\t%s\n", id, failure.Message, strings.Join(failure.StackTrace, "\n\t"))
			}
			err = api.fail(id, failure)
		}
		if err != nil {
			fmt.Fprintf(stderr, "hearth: could not post the result of request %s: %v\n", id, err)
		}
	}
}

// processContext is what the environment the adapter gives the runtime says about the function.
func processContext(getenv func(string) string) InvocationContext {
	memory, _ := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	return InvocationContext{
		FunctionName:    getenv("AWS_LAMBDA_FUNCTION_NAME"),
		FunctionVersion: getenv("AWS_LAMBDA_FUNCTION_VERSION"),
		Handler:         getenv("_HANDLER"),
		MemoryLimitMB:   memory,
		Region:          getenv("AWS_REGION"),
		LogGroupName:    getenv("AWS_LAMBDA_LOG_GROUP_NAME"),
		LogStreamName:   getenv("AWS_LAMBDA_LOG_STREAM_NAME"),
	}
}
