package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/dop251/goja"
)

// FetchRequest is one fetch() call from a script.
type FetchRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// FetchResponse is what the script's Response is built from.
type FetchResponse struct {
	Status     int               `json:"status"`
	StatusText string            `json:"statusText,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"` // lower-case names
	Body       string            `json:"body,omitempty"`
}

// Fetcher performs a script's fetch() outside the script. With Pool it runs in
// the parent process: a worker never opens sockets itself. The context ends when
// the call's time is up.
type Fetcher func(ctx context.Context, req FetchRequest) (FetchResponse, error)

// maxFetchBodyBytes caps a request body a script sends.
const maxFetchBodyBytes = 10 << 20

// installFetch binds fetch(url, {method, headers, body}) to do. The call blocks the
// script while the request runs (the sandbox has no event loop) and returns a
// settled Promise, so `await fetch(...)` reads as in Sim. With do nil there is no
// fetch at all.
func (s *scriptState) installFetch(do func(FetchRequest) (FetchResponse, error)) error {
	if do == nil {
		return nil
	}
	vm := s.vm
	jsonParse, ok := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	if !ok {
		return fmt.Errorf("sandbox: internal error: JSON.parse missing")
	}
	fetch := func(call goja.FunctionCall) goja.Value {
		p, resolve, reject := vm.NewPromise()
		fail := func(msg string) goja.Value {
			_ = reject(vm.NewTypeError("fetch failed: %s", msg))
			return vm.ToValue(p)
		}
		req := FetchRequest{Method: http.MethodGet, URL: call.Argument(0).String()}
		if o, ok := call.Argument(1).(*goja.Object); ok {
			if m := o.Get("method"); m != nil && !goja.IsUndefined(m) {
				req.Method = strings.ToUpper(m.String())
			}
			if h, ok := o.Get("headers").(*goja.Object); ok {
				req.Headers = map[string]string{}
				for _, k := range h.Keys() {
					req.Headers[k] = h.Get(k).String()
				}
			}
			if b := o.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
				req.Body = b.String()
				if len(req.Body) > maxFetchBodyBytes {
					return fail(fmt.Sprintf("request body over %d MiB", maxFetchBodyBytes>>20))
				}
			}
		}
		res, err := do(req)
		if err != nil {
			return fail(err.Error())
		}
		_ = resolve(s.fetchResponse(res, jsonParse))
		return vm.ToValue(p)
	}
	return vm.GlobalObject().DefineDataProperty("fetch", vm.ToValue(fetch), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// fetchResponse is the minimal Response: status, ok, statusText, headers.get,
// text() and json().
func (s *scriptState) fetchResponse(res FetchResponse, jsonParse goja.Callable) *goja.Object {
	vm := s.vm
	settled := func(f func() (goja.Value, error)) goja.Value {
		p, resolve, reject := vm.NewPromise()
		if v, err := f(); err != nil {
			if ex, ok := err.(*goja.Exception); ok {
				_ = reject(ex.Value())
			} else {
				_ = reject(vm.NewTypeError("%s", err.Error()))
			}
		} else {
			_ = resolve(v)
		}
		return vm.ToValue(p)
	}
	headers := vm.NewObject()
	_ = headers.Set("get", func(call goja.FunctionCall) goja.Value {
		if v, ok := res.Headers[strings.ToLower(call.Argument(0).String())]; ok {
			return vm.ToValue(v)
		}
		return goja.Null()
	})
	_ = headers.Set("has", func(call goja.FunctionCall) goja.Value {
		_, ok := res.Headers[strings.ToLower(call.Argument(0).String())]
		return vm.ToValue(ok)
	})
	r := vm.NewObject()
	_ = r.Set("status", res.Status)
	_ = r.Set("statusText", res.StatusText)
	_ = r.Set("ok", res.Status >= 200 && res.Status <= 299)
	_ = r.Set("headers", headers)
	_ = r.Set("text", func(goja.FunctionCall) goja.Value {
		return settled(func() (goja.Value, error) { return vm.ToValue(res.Body), nil })
	})
	_ = r.Set("json", func(goja.FunctionCall) goja.Value {
		return settled(func() (goja.Value, error) { return jsonParse(goja.Undefined(), vm.ToValue(res.Body)) })
	})
	return r
}
