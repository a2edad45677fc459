package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// Interrupt reasons, set at most once per call so the first cause wins.
const (
	reasonNone int32 = iota
	reasonTimeout
	reasonMemory
	reasonCancel
)

// execOutcome is what one execution produced. result is the JSON text of the
// returned value (nil for undefined).
type execOutcome struct {
	result []byte
	stdout string
	err    error
}

// watchFunc starts a watchdog for one call; it calls interrupt when the call
// must be stopped for exceeding memory and returns a stop function.
type watchFunc func(limit int64, interrupt func()) (stop func())

// execute runs one function body in a fresh runtime: s if not nil (a
// runtime prepared by newScriptState and never used before), else a new one.
// It never panics: any panic from goja or from Go callbacks is turned into
// an error.
func execute(ctx context.Context, s *scriptState, code string, globals map[string]any, timeout time.Duration, memLimit int64, watch watchFunc, fetch func(FetchRequest) (FetchResponse, error)) (out execOutcome) {
	if err := ctx.Err(); err != nil {
		out.err = fmt.Errorf("sandbox: cancelled before start: %w", err)
		return out
	}
	prg, err := compile(code)
	if err != nil {
		out.err = err
		return out
	}

	if s == nil {
		if s, err = newScriptState(); err != nil {
			out.err = err
			return out
		}
	}
	vm := s.vm
	s.memLimit = memLimit

	var reason atomic.Int32
	s.interrupt = func(r int32) {
		if reason.CompareAndSwap(reasonNone, r) {
			vm.Interrupt(r)
		}
	}
	// Armed for the whole call, including result conversion and error
	// formatting: both can run user code (toJSON, toString, getters).
	timer := time.AfterFunc(timeout, func() { s.interrupt(reasonTimeout) })
	defer timer.Stop()
	stopCtx := context.AfterFunc(ctx, func() { s.interrupt(reasonCancel) })
	defer stopCtx()
	if watch != nil {
		stop := watch(memLimit, func() { s.interrupt(reasonMemory) })
		defer stop()
	}

	// interrupted maps an interrupt cause to its error (nil if none).
	interrupted := func() error {
		switch reason.Load() {
		case reasonTimeout:
			return fmt.Errorf("sandbox: %w after %s", ErrTimeout, timeout)
		case reasonMemory:
			return fmt.Errorf("sandbox: %w (limit %d MiB)", ErrMemoryLimit, memLimit>>20)
		case reasonCancel:
			return fmt.Errorf("sandbox: cancelled: %w", context.Cause(ctx))
		}
		return nil
	}
	// classify explains a failure. Formatting a thrown value can run user
	// code that is then interrupted, so the interrupt is checked last too.
	classify := func(err error) error {
		if ierr := interrupted(); ierr != nil {
			return ierr
		}
		err = s.scriptError(err)
		if ierr := interrupted(); ierr != nil {
			return ierr
		}
		return err
	}

	defer func() {
		if x := recover(); x != nil {
			out.result = nil
			if err, ok := x.(error); ok {
				out.err = classify(err)
			} else {
				out.err = fmt.Errorf("sandbox: internal error: %v", x)
			}
		}
		out.stdout = s.stdout.String()
	}()

	if inner := fetch; inner != nil {
		fetch = func(r FetchRequest) (FetchResponse, error) {
			res, err := inner(r)
			if ctx.Err() != nil {
				// Cancelled while fetching: stop here, not with the script
				// handling a failed fetch (context.AfterFunc may not have run yet).
				s.interrupt(reasonCancel)
			}
			return res, err
		}
	}
	if err := s.installFetch(fetch); err != nil {
		out.err = err
		return out
	}
	if err := s.bindGlobals(globals); err != nil {
		out.err = err
		return out
	}
	v, err := vm.RunProgram(prg)
	if err != nil {
		out.err = classify(err)
		return out
	}
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		// Cannot happen for an async IIFE; be defensive anyway.
		out.err = fmt.Errorf("sandbox: internal error: wrapper returned %T, not a promise", v.Export())
		return out
	}
	switch p.State() {
	case goja.PromiseStateRejected:
		out.err = s.errorFromValue(p.Result())
		if ierr := interrupted(); ierr != nil {
			// Formatting the rejection reason was itself interrupted.
			out.err = ierr
		}
		return out
	case goja.PromiseStatePending:
		// All promise jobs have run and nothing can settle it later: the
		// sandbox has no timers or I/O.
		out.err = &ScriptError{Message: "Error: the function awaited a promise that never settles (no timers or I/O are available in the sandbox)"}
		return out
	}
	res, err := s.stringify(p.Result())
	if err != nil {
		out.err = classify(err)
		if e, ok := out.err.(*ScriptError); ok {
			e.Message = "returned value cannot be converted to JSON: " + e.Message
		}
		return out
	}
	if len(res) > maxResultBytes {
		out.err = fmt.Errorf("sandbox: %w: result is %d bytes, more than the %d MiB cap", ErrMemoryLimit, len(res), maxResultBytes>>20)
		return out
	}
	out.result = res
	return out
}

// scriptState is the per-call state shared with Go callbacks.
type scriptState struct {
	vm        *goja.Runtime
	memLimit  int64
	interrupt func(reason int32)
	// jsonStringify is captured before user code runs so that overwriting
	// JSON.stringify cannot change how results are converted.
	jsonStringify goja.Callable
	stdout        limitedBuffer
}

// newScriptState creates a runtime with the sandbox's console and guards
// installed but no globals bound, so it can be prepared ahead of a request.
func newScriptState() (s *scriptState, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("sandbox: internal error preparing runtime: %v", x)
		}
	}()
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallDepth)
	s = &scriptState{vm: vm, interrupt: func(int32) {}}
	if err := s.setup(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *scriptState) setup() error {
	vm := s.vm
	var ok bool
	jsonObj := vm.Get("JSON").ToObject(vm)
	if s.jsonStringify, ok = goja.AssertFunction(jsonObj.Get("stringify")); !ok {
		return fmt.Errorf("sandbox: internal error: JSON.stringify missing")
	}
	if err := s.installGuards(); err != nil {
		return err
	}
	// Sim's bootstrap (apps/sim/lib/execution/isolated-vm-worker.cjs) prefixes warn
	// and error lines with "WARN: " and "ERROR: " in stdout.
	console := vm.NewObject()
	for name, prefix := range map[string]string{"log": "", "info": "", "debug": "", "trace": "", "warn": "WARN: ", "error": "ERROR: "} {
		if err := console.Set(name, s.consoleWith(prefix)); err != nil {
			return fmt.Errorf("sandbox: setting up console: %w", err)
		}
	}
	if err := vm.GlobalObject().DefineDataProperty("console", console, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return fmt.Errorf("sandbox: setting up console: %w", err)
	}
	return nil
}

func (s *scriptState) bindGlobals(globals map[string]any) error {
	vm := s.vm
	global := vm.GlobalObject()
	names := make([]string, 0, len(globals))
	for k := range globals {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic property order
	for _, name := range names {
		v, err := toJS(vm, globals[name])
		if err != nil {
			return fmt.Errorf("sandbox: global %q: %w", name, err)
		}
		if err := global.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
			return fmt.Errorf("sandbox: cannot bind global %q: %w", name, err)
		}
	}
	return nil
}

// installGuards wraps the builtins that build a huge string in one native
// call. Native calls cannot be interrupted, so without this
// 'x'.repeat(1e10) would allocate before any watchdog could react
// (in-process, that can take the whole server down).
func (s *scriptState) installGuards() error {
	vm := s.vm
	proto := vm.Get("String").ToObject(vm).Get("prototype").ToObject(vm)
	wrap := func(name string, size func(strLen int64, call goja.FunctionCall) float64) error {
		orig, ok := goja.AssertFunction(proto.Get(name))
		if !ok {
			return fmt.Errorf("sandbox: internal error: String.prototype.%s missing", name)
		}
		fn := func(call goja.FunctionCall) goja.Value {
			if goja.IsUndefined(call.This) || goja.IsNull(call.This) {
				panic(vm.NewTypeError("String.prototype.%s called on null or undefined", name))
			}
			// Convert once here and pass primitives on, so user
			// toString/valueOf run exactly once.
			str, _ := call.This.ToString().(goja.String)
			if str == nil {
				panic(vm.NewTypeError("String.prototype.%s: cannot convert receiver to string", name))
			}
			args := make([]goja.Value, len(call.Arguments))
			copy(args, call.Arguments)
			if len(args) > 0 {
				args[0] = vm.ToValue(args[0].ToFloat())
			}
			// UTF-16 code units; goja uses 1 byte for ASCII and 2 otherwise,
			// so 2 bytes per unit is a safe upper bound.
			if need := 2 * size(int64(str.Length()), goja.FunctionCall{This: str, Arguments: args}); need > float64(s.memLimit) {
				s.interrupt(reasonMemory)
				return goja.Undefined()
			}
			v, err := orig(str, args...)
			if err != nil {
				panic(err)
			}
			return v
		}
		return proto.DefineDataProperty(name, vm.ToValue(fn), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	repeat := func(n int64, call goja.FunctionCall) float64 {
		return float64(n) * call.Argument(0).ToFloat()
	}
	pad := func(_ int64, call goja.FunctionCall) float64 { return call.Argument(0).ToFloat() }
	for name, size := range map[string]func(int64, goja.FunctionCall) float64{"repeat": repeat, "padStart": pad, "padEnd": pad} {
		if err := wrap(name, size); err != nil {
			return fmt.Errorf("sandbox: installing guard for %s: %w", name, err)
		}
	}
	return nil
}

// consoleLog implements console.*: arguments are formatted and joined with
// spaces, one line per call.
func (s *scriptState) consoleWith(prefix string) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		s.stdout.WriteString(prefix)
		return s.consoleLog(call)
	}
}

func (s *scriptState) consoleLog(call goja.FunctionCall) goja.Value {
	var b strings.Builder
	for i, a := range call.Arguments {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.format(a))
	}
	b.WriteByte('\n')
	s.stdout.WriteString(b.String())
	return goja.Undefined()
}

func (s *scriptState) format(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return v.String()
	}
	if _, isFn := goja.AssertFunction(v); isFn {
		return "[Function]"
	}
	if obj.ClassName() == "Error" {
		if st := obj.Get("stack"); st != nil && !goja.IsUndefined(st) {
			return st.String()
		}
		return v.String()
	}
	if j, err := s.jsonStringify(goja.Undefined(), v); err == nil && !goja.IsUndefined(j) {
		return j.String()
	}
	return v.String()
}

// stringify converts the result to JSON text using the captured
// JSON.stringify; nil means undefined (no result).
func (s *scriptState) stringify(v goja.Value) ([]byte, error) {
	if v == nil || goja.IsUndefined(v) {
		return nil, nil
	}
	j, err := s.jsonStringify(goja.Undefined(), v)
	if err != nil {
		return nil, err
	}
	if goja.IsUndefined(j) {
		return nil, nil
	}
	return []byte(j.String()), nil
}

// scriptError turns a goja error into *ScriptError where it is the script's
// fault, or an internal error otherwise.
func (s *scriptState) scriptError(err error) error {
	switch e := err.(type) {
	case *goja.CompilerSyntaxError:
		return &ScriptError{Message: e.Error()}
	case *goja.StackOverflowError:
		return &ScriptError{Message: "RangeError: Maximum call stack size exceeded", Stack: e.String()}
	case *goja.InterruptedError:
		return fmt.Errorf("sandbox: interrupted: %v", e.Value())
	case *goja.Exception:
		if e.Value() == nil {
			return &ScriptError{Message: e.Error()}
		}
		return s.errorFromValue(e.Value())
	}
	return fmt.Errorf("sandbox: %w", err)
}

// errorFromValue describes a thrown/rejected value. Formatting can run user
// code (toString, getters) which may throw again; fall back to a generic
// message rather than let that escape.
func (s *scriptState) errorFromValue(v goja.Value) (err error) {
	se := &ScriptError{Message: "Uncaught exception"}
	defer func() {
		if x := recover(); x != nil {
			if se.Message == "" {
				se.Message = "Uncaught exception"
			}
		}
		err = se
	}()
	if v == nil || goja.IsUndefined(v) {
		se.Message = "Uncaught undefined"
		return se
	}
	se.Message = v.String()
	if obj, ok := v.(*goja.Object); ok {
		if st := obj.Get("stack"); st != nil && !goja.IsUndefined(st) && !goja.IsNull(st) {
			se.Stack = st.String()
		}
		if obj.ClassName() != "Error" {
			// Plain objects print as "[object Object]"; JSON is more useful.
			if j, jerr := s.jsonStringify(goja.Undefined(), v); jerr == nil && !goja.IsUndefined(j) {
				se.Message = "Uncaught " + j.String()
			}
		}
	}
	return se
}

// limitedBuffer is a bytes.Buffer that stops growing at maxStdoutBytes.
type limitedBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (b *limitedBuffer) WriteString(s string) {
	if b.truncated {
		return
	}
	if room := maxStdoutBytes - b.buf.Len(); len(s) > room {
		b.buf.WriteString(s[:room])
		b.buf.WriteString("\n[stdout truncated]\n")
		b.truncated = true
		return
	}
	b.buf.WriteString(s)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// Compiled programs are cached by source: goja.Program is immutable and may
// be shared across runtimes, and workflows run the same code repeatedly.
var (
	compileMu    sync.Mutex
	compileCache = map[string]*goja.Program{}
)

const (
	compileCacheEntries = 256
	compileCacheMaxCode = 64 << 10
)

func compile(code string) (*goja.Program, error) {
	cacheable := len(code) <= compileCacheMaxCode
	if cacheable {
		compileMu.Lock()
		prg := compileCache[code]
		compileMu.Unlock()
		if prg != nil {
			return prg, nil
		}
	}
	// The body starts on line 1 so reported line numbers match the user's
	// code; the closing brace is on its own line so a trailing // comment
	// cannot swallow it.
	prg, err := goja.Compile("function", "(async function(){"+code+"\n})()", false)
	if err != nil {
		if se, ok := err.(*goja.CompilerSyntaxError); ok {
			return nil, &ScriptError{Message: se.Error()}
		}
		return nil, &ScriptError{Message: err.Error()}
	}
	if cacheable {
		compileMu.Lock()
		if len(compileCache) >= compileCacheEntries {
			clear(compileCache)
		}
		compileCache[code] = prg
		compileMu.Unlock()
	}
	return prg, nil
}

// normalizeGlobals deep-copies globals into JSON-shaped values so the script
// never shares memory with the caller, and both runners see identical input.
func normalizeGlobals(in map[string]any) (map[string]any, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		nv, err := normalizeValue(v, 0)
		if err != nil {
			return nil, fmt.Errorf("sandbox: global %q: %w", k, err)
		}
		out[k] = nv
	}
	return out, nil
}

const maxValueDepth = 1000

func normalizeValue(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxValueDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		return normalizeFloat(x), nil
	case float32:
		return normalizeFloat(float64(x)), nil
	case json.Number:
		return numberValue(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ne, err := normalizeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = ne
		}
		return m, nil
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			ne, err := normalizeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			a[i] = ne
		}
		return a, nil
	}
	// Anything else (structs, typed maps/slices, time.Time, …): JSON is the
	// contract, so take its JSON form.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value of type %T is not JSON-encodable: %w", v, err)
	}
	var decoded any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return nil, fmt.Errorf("value of type %T: %w", v, err)
	}
	return normalizeValue(decoded, depth+1)
}

// normalizeFloat mirrors JSON: NaN and ±Inf have no JSON form and become
// null; integral values in the exactly-representable range become int64.
func normalizeFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int64(f)
	}
	return f
}

func numberValue(n json.Number) (any, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("bad number %q: %w", s, err)
	}
	return normalizeFloat(f), nil
}

// decodeResult parses result JSON into plain Go values.
func decodeResult(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("sandbox: decoding result: %w", err)
	}
	return normalizeValue(v, 0)
}

// toJS builds native JS values (not goja's Go-backed wrappers) from
// normalised values, so scripts get ordinary objects and arrays.
func toJS(vm *goja.Runtime, v any) (goja.Value, error) {
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case bool, string, int64, float64:
		return vm.ToValue(x), nil
	case json.Number:
		n, err := numberValue(x)
		if err != nil {
			return nil, err
		}
		return toJS(vm, n)
	case map[string]any:
		obj := vm.NewObject()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e, err := toJS(vm, x[k])
			if err != nil {
				return nil, err
			}
			// Define, not Set: a "__proto__" key must become an own
			// property (as with JSON.parse), not change the prototype.
			if err := obj.DefineDataProperty(k, e, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, err
			}
		}
		return obj, nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			je, err := toJS(vm, e)
			if err != nil {
				return nil, err
			}
			items[i] = je
		}
		return vm.NewArray(items...), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}
