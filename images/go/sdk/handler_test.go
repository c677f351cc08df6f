package hearth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type event struct {
	Key string `json:"key"`
}

func TestAcceptsTheNineSignatures(t *testing.T) {
	for _, fn := range []interface{}{
		func() {},
		func() error { return nil },
		func(event) error { return nil },
		func() (string, error) { return "", nil },
		func(*event) (map[string]int, error) { return nil, nil },
		func(context.Context) error { return nil },
		func(context.Context, []byte) error { return nil },
		func(context.Context) ([]byte, error) { return nil, nil },
		func(context.Context, string) (event, error) { return event{}, nil },
	} {
		if _, err := newHandler(fn); err != nil {
			t.Errorf("%T rejected: %v", fn, err)
		}
	}
}

func TestRejectsOtherSignaturesNamingThem(t *testing.T) {
	for _, c := range []struct {
		fn      interface{}
		problem string
	}{
		{nil, "the handler is nil"},
		{"index.Handler", "must be a function, got a string"},
		{func(context.Context, string, int) error { return nil }, "func(context.Context, string, int) error is not supported: it takes 3 arguments"},
		{func() string { return "" }, "func() string is not supported: a single result must be error"},
		{func() (error, string) { return nil, "" }, "func() (error, string) is not supported: the last result must be error"},
		{func(string, context.Context) error { return nil }, "func(string, context.Context) error is not supported: the first of two arguments"},
		{func(context.Context, context.Context) error { return nil }, "context.Context can only be the first argument"},
		{func() (int, int, error) { return 0, 0, nil }, "it returns 3 results"},
		{func(...string) error { return nil }, "func(...string) error is not supported: it is variadic"},
	} {
		_, err := newHandler(c.fn)
		if err == nil {
			t.Errorf("%T accepted", c.fn)
			continue
		}
		if !strings.Contains(err.Error(), c.problem) || !strings.Contains(err.Error(), acceptedForms) {
			t.Errorf("%T: message %q does not say %q and list the accepted forms", c.fn, err, c.problem)
		}
	}
}

func invoke(t *testing.T, fn interface{}, body string) (string, *functionError) {
	t.Helper()
	h, err := newHandler(fn)
	if err != nil {
		t.Fatal(err)
	}
	response, failure := h.invoke(context.Background(), []byte(body))
	return string(response), failure
}

func TestInputAndOutputEncoding(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   interface{}
		body string
		want string
	}{
		{"raw []byte in and out", func(in []byte) ([]byte, error) { return append(in, '!'), nil }, `not json`, `not json!`},
		{"raw string in, string out as JSON", func(in string) (string, error) { return in, nil }, `a "b"`, `"a \"b\""`},
		{"struct in", func(in event) (string, error) { return "hello, " + in.Key, nil }, `{"key":"value"}`, `"hello, value"`},
		{"pointer in", func(in *event) (*event, error) { return in, nil }, `{"key":"v"}`, `{"key":"v"}`},
		{"empty body is the zero value", func(in event) (event, error) { return in, nil }, ``, `{"key":""}`},
		{"no Out answers null", func(context.Context, event) error { return nil }, `{}`, `null`},
		{"no input at all", func() (int, error) { return 42, nil }, `ignored`, `42`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, failure := invoke(t, c.fn, c.body)
			if failure != nil || got != c.want {
				t.Errorf("got %q, %+v; want %q", got, failure, c.want)
			}
		})
	}
}

func TestUndecodableBodyIsAnUnmarshalError(t *testing.T) {
	called := false
	_, failure := invoke(t, func(event) error { called = true; return nil }, `{"key": 5}`)
	if called || failure == nil || failure.Type != "Runtime.UnmarshalError" || !strings.Contains(failure.Message, "hearth.event") {
		t.Errorf("called %v, failure %+v", called, failure)
	}
}

func TestUnencodableResultIsAMarshalError(t *testing.T) {
	_, failure := invoke(t, func() (interface{}, error) { return make(chan int), nil }, ``)
	if failure == nil || failure.Type != "Runtime.MarshalError" || !strings.Contains(failure.Message, "chan int") {
		t.Errorf("failure %+v", failure)
	}
}

func TestReturnedErrorIsAUserCodeError(t *testing.T) {
	_, failure := invoke(t, func() (string, error) { return "ignored", errors.New("not so lucky") }, ``)
	if failure == nil || failure.Type != "UserCodeError" || failure.Message != "not so lucky" || failure.StackTrace != nil {
		t.Errorf("failure %+v", failure)
	}
}

func explode(in []byte) error {
	var values map[string]int
	values[string(in)] = 1 // assignment to a nil map
	return nil
}

func TestPanicIsAUserCodePanicWithTheFramesOfTheHandler(t *testing.T) {
	_, failure := invoke(t, explode, `x`)
	if failure == nil || failure.Type != "UserCodePanic" || failure.Message != "assignment to entry in nil map" {
		t.Fatalf("failure %+v", failure)
	}
	if len(failure.StackTrace) != 1 || !strings.HasPrefix(failure.StackTrace[0], "hearth.dev/hearth.explode (") || !strings.Contains(failure.StackTrace[0], "handler_test.go:") {
		t.Errorf("stack trace %q: want only the frame of explode", failure.StackTrace)
	}
}

func TestPanicWithNilIsStillAPanic(t *testing.T) {
	_, failure := invoke(t, func() { panic(nil) }, ``)
	if failure == nil || failure.Type != "UserCodePanic" {
		t.Errorf("failure %+v", failure)
	}
}
