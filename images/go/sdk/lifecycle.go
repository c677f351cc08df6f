package hearth

import (
	"context"
	"fmt"
)

// Function Compute's lifecycle hooks, as its Go SDK registers them: the adapter delivers a hook
// through GET .../invocation/next like an event, marked by x-fc-function-type ("1" initializer,
// "3" preStop, "0" or absent the handler), when the function's settings name an initializer or a
// preStop.
const (
	initializerFunctionType = "1"
	preStopFunctionType     = "3"
)

var hooks = map[string]*handler{}

// hookErrors are registrations whose hook has no supported form: the hook's call fails with it.
var hookErrors = map[string]error{}

// RegisterInitializerFunction sets the function's initializer, run once per runtime before its
// first invocation (the function's "initializer" setting turns it on). It takes the forms of
// Function Compute's SDK, func(context.Context), or any handler form without input; an error it
// returns, or a panic, fails the container's init (Function.InitializerError) and the container
// serves nothing.
func RegisterInitializerFunction(hook interface{}) {
	registerHook(initializerFunctionType, hook)
}

// RegisterPreStopFunction sets the function's preStop hook, run before its container retires (the
// function's "preStop" setting turns it on); same forms as RegisterInitializerFunction.
func RegisterPreStopFunction(hook interface{}) {
	registerHook(preStopFunctionType, hook)
}

func registerHook(functionType string, hook interface{}) {
	if plain, ok := hook.(func(context.Context)); ok {
		hook = func(ctx context.Context) error {
			plain(ctx)
			return nil
		}
	}
	h, err := newHandler(hook)
	if err != nil {
		hookErrors[functionType] = err
		return
	}
	hooks[functionType] = h
}

// hookFor is the handler of a hook event (ok false for an ordinary event), or the failure its call answers.
func hookFor(functionType string) (h *handler, failure *functionError, ok bool) {
	if functionType != initializerFunctionType && functionType != preStopFunctionType {
		return nil, nil, false
	}
	name := map[string]string{initializerFunctionType: "initializer", preStopFunctionType: "preStop"}[functionType]
	if err := hookErrors[functionType]; err != nil {
		return nil, &functionError{Type: "Runtime.InvalidHandler", Message: fmt.Sprintf("the %s: %v", name, err)}, true
	}
	if h := hooks[functionType]; h != nil {
		return h, nil, true
	}
	register := map[string]string{initializerFunctionType: "RegisterInitializerFunction", preStopFunctionType: "RegisterPreStopFunction"}[functionType]
	return nil, &functionError{Type: "Runtime.HandlerNotFound", Message: fmt.Sprintf("the function's settings name a %s, but the program registers none (hearth.%s)", name, register)}, true
}
