package hearth

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
)

const acceptedForms = "func(), func() error, func(In) error, func() (Out, error), func(In) (Out, error), " +
	"func(context.Context) error, func(context.Context, In) error, func(context.Context) (Out, error), " +
	"func(context.Context, In) (Out, error)"

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
	bytesType   = reflect.TypeOf([]byte(nil))
	stringType  = reflect.TypeOf("")
)

const panicErrorType = "UserCodePanic"

// functionError is the body posted to .../error: what the caller of a failed invocation receives.
type functionError struct {
	Message    string   `json:"errorMessage"`
	Type       string   `json:"errorType"`
	StackTrace []string `json:"stackTrace,omitempty"`
}

// handler calls a user function of one of the accepted forms through reflection.
type handler struct {
	fn           reflect.Value
	takesContext bool
	in           reflect.Type // nil when the function takes no input
	returnsOut   bool
	// rawOut: the function returns []byte, sent as it is rather than as JSON.
	rawOut bool
}

func newHandler(fn interface{}) (*handler, error) {
	if fn == nil {
		return nil, fmt.Errorf("hearth.Start: the handler is nil; use one of: %s", acceptedForms)
	}
	t := reflect.TypeOf(fn)
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("hearth.Start: the handler must be a function, got a %s; use one of: %s", t, acceptedForms)
	}
	if problem := signatureProblem(t); problem != "" {
		return nil, fmt.Errorf("hearth.Start: handler signature %s is not supported: %s; use one of: %s", t, problem, acceptedForms)
	}
	h := &handler{fn: reflect.ValueOf(fn), returnsOut: t.NumOut() == 2}
	h.rawOut = h.returnsOut && t.Out(0) == bytesType
	inputs := t.NumIn()
	if inputs > 0 && t.In(0) == contextType {
		h.takesContext = true
		inputs--
	}
	if inputs == 1 {
		h.in = t.In(t.NumIn() - 1)
	}
	return h, nil
}

// signatureProblem says what makes t none of the accepted forms, or "" when it is one.
func signatureProblem(t reflect.Type) string {
	switch {
	case t.IsVariadic():
		return "it is variadic"
	case t.NumIn() > 2:
		return fmt.Sprintf("it takes %d arguments (at most 2)", t.NumIn())
	case t.NumIn() == 2 && t.In(0) != contextType:
		return "the first of two arguments must be context.Context"
	case t.NumIn() == 2 && t.In(1) == contextType:
		return "context.Context can only be the first argument"
	case t.NumOut() > 2:
		return fmt.Sprintf("it returns %d results (at most 2)", t.NumOut())
	case t.NumOut() == 1 && t.Out(0) != errorType:
		return "a single result must be error"
	case t.NumOut() == 2 && t.Out(1) != errorType:
		return "the last result must be error"
	}
	return ""
}

// contentType is that of the function's response bodies.
func (h *handler) contentType() string {
	if h.rawOut {
		return "application/octet-stream"
	}
	return "application/json"
}

// invoke calls the function for one request body. It returns the response body, or the error to
// post instead; panics in the function become UserCodePanic errors.
func (h *handler) invoke(ctx context.Context, body []byte) (response []byte, failure *functionError) {
	var args []reflect.Value
	if h.takesContext {
		args = append(args, reflect.ValueOf(ctx))
	}
	if h.in != nil {
		in, err := decodeInput(h.in, body)
		if err != nil {
			return nil, &functionError{Type: "Runtime.UnmarshalError", Message: err.Error()}
		}
		args = append(args, in)
	}

	returned := false
	defer func() {
		if !returned { // a panic, even panic(nil)
			response, failure = nil, panicError(recover())
		}
	}()
	results := h.fn.Call(args)
	returned = true

	if len(results) > 0 {
		if err, _ := results[len(results)-1].Interface().(error); err != nil {
			return nil, &functionError{Type: "UserCodeError", Message: err.Error()}
		}
	}
	if !h.returnsOut {
		return []byte("null"), nil
	}
	out := results[0]
	if h.rawOut {
		return out.Bytes(), nil
	}
	encoded, err := json.Marshal(out.Interface())
	if err != nil {
		return nil, &functionError{Type: "Runtime.MarshalError", Message: fmt.Sprintf("could not encode the handler's %s result as JSON: %v", out.Type(), err)}
	}
	return encoded, nil
}

func decodeInput(t reflect.Type, body []byte) (reflect.Value, error) {
	switch t {
	case bytesType:
		return reflect.ValueOf(body), nil
	case stringType:
		return reflect.ValueOf(string(body)), nil
	}
	target := reflect.New(t)
	if len(body) == 0 {
		return target.Elem(), nil
	}
	if err := json.Unmarshal(body, target.Interface()); err != nil {
		return reflect.Value{}, fmt.Errorf("could not decode the request body as %s: %v", t, err)
	}
	return target.Elem(), nil
}

// panicError describes a recovered panic with the frames of the code that panicked, leaving out the
// Go runtime's own frames and those of this package and of reflect (which called the handler).
func panicError(value interface{}) *functionError {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var trace []string
	for {
		frame, more := frames.Next()
		if frame.Function == "reflect.Value.Call" {
			break // the frames below are the SDK's
		}
		if !strings.HasPrefix(frame.Function, "runtime.") && !strings.HasPrefix(frame.Function, "reflect.") {
			trace = append(trace, fmt.Sprintf("%s (%s:%d)", frame.Function, frame.File, frame.Line))
		}
		if !more {
			break
		}
	}
	return &functionError{Type: panicErrorType, Message: fmt.Sprint(value), StackTrace: trace}
}
