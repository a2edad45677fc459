package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// exprVars are the bindings every differential case sees (JSON-shaped, as references
// resolve).
func exprVars() map[string]any {
	return map[string]any{
		"n": 3.0, "f": 2.5, "z": 0.0, "neg": -7.0, "big": 1e21, "tiny": 1e-7, "i": int64(12),
		"s": "10", "e": "", "t": "abc", "sp": " 12 ", "hx": "0x1A", "ex": "1e3", "inf": "Infinity", "u": "é😀",
		"b": true, "no": false, "nl": nil,
		"arr": []any{1.0, "a", nil, true}, "obj": map[string]any{"x": 5.0, "y": "y", "nested": map[string]any{"k": []any{1.0, 2.0}}},
	}
}

// jsCanon runs expression src in goja and returns typeof:String(v) (-0 kept), or an error.
func jsCanon(t testing.TB, r sandbox.Runner, src string, vars map[string]any) (string, error) {
	// -0 prints as 0: goja's integers have no -0, and the evaluator defers every division
	// by zero, the one place a condition could tell them apart.
	code := "const __v = (\n" + src + "\n);\nreturn (typeof __v) + ':' + ((typeof __v === 'object' && __v !== null) ? (Array.isArray(__v) ? 'array' : 'object') : String(__v));"
	resp, err := r.Run(context.Background(), sandbox.Request{Code: code, Globals: vars})
	if err != nil {
		return "", err
	}
	s, ok := resp.Result.(string)
	if !ok {
		t.Fatalf("%s: result %T", src, resp.Result)
	}
	return s, nil
}

func nativeCanon(v any) string {
	switch x := v.(type) {
	case jsUndefined:
		return "undefined:undefined"
	case nil:
		return "object:null"
	case bool:
		return "boolean:" + strconv.FormatBool(x)
	case float64:
		return "number:" + numberToString(x)
	case string:
		return "string:" + x
	case []any:
		return "object:array"
	case map[string]any:
		return "object:object"
	}
	return fmt.Sprintf("?%T", v)
}

// checkExpr compares the native answer for src with goja's; it reports whether the
// native evaluator answered (rather than deferring to the sandbox).
func checkExpr(t *testing.T, r sandbox.Runner, src string) bool {
	t.Helper()
	ex, err := parseExpr(src)
	if err != nil {
		return false
	}
	vars := exprVars()
	v, err := evalExpr(ex, vars)
	if err != nil {
		return false
	}
	want, jsErr := jsCanon(t, r, src, vars)
	if jsErr != nil {
		t.Errorf("%s: native %s, JavaScript throws %v", src, nativeCanon(v), jsErr)
		return true
	}
	if got := nativeCanon(v); got != want {
		t.Errorf("%s: native %s, JavaScript %s", src, got, want)
	}
	return true
}

func TestNativeExprTable(t *testing.T) {
	r := sandbox.NewInProcess()
	native := []string{
		"n > 2", "n >= 3 && t === 'abc'", "s == 10", "s === 10", "s < 9", "'10' < '9'", "sp == 12", "e == 0",
		"e == false", "nl == undefined", "nl === undefined", "nl == 0", "b == 1", "b === 1", "no == ''",
		"n + s", "(1 < 2) < 3", "n - s", "t * 2", "n % 2", "neg % 4", "5 / 2", "-z",
		"big + ''", "tiny + ''", "0.1 + 0.2", "123456789012345680000 + ''", "1e-6 + ''", "1.5e-7 + ''",
		"t.length", "u.length", "arr.length", "obj.x > 4", "obj.nested.k.length === 2", "obj.missing === undefined",
		"arr[1] === 'a'", "arr[9]", "t[0]", "obj['y']", "t.includes('b')", "t.startsWith('ab')", "t.endsWith(n)",
		"arr.includes(null)", "arr.includes(1)", "arr.includes('1')", "s.includes(0)", "!t", "!!e", "typeof nl",
		"typeof arr", "typeof undefined", "typeof n", "n > 1 ? 'big' : 'small'", "nl || 'dflt'", "e && t", "obj || 1",
		"i * 2", "'a' + null + undefined + true", "inf == Infinity", "'-Infinity' - 0", "' \\n 5\\t' * 1",
		"'1e1000' * 1", "'.5' * 2", "'5.' * 2", "'1_000' * 1", "'+.e1' * 1", "s == 10.0", "sp == 12", "'1.5' == 1.5", "u > 'é'", "'Z' < 'a'", "NaN == NaN",
		"n === 3.0", "(n + 1) * 2 == 8", "-n + +s", "!n == false", "obj.nested.k[1] + arr[0]", "'x' + (n > 2)",
	}
	for _, src := range native {
		if !checkExpr(t, r, src) {
			t.Errorf("%s: not evaluated natively", src)
		}
	}
	// Outside the subset: parse or evaluation defers to the sandbox.
	for _, src := range []string{
		"Math.max(n, 1)", "obj.toString", "nl.x", "undefinedName > 1", "t.toUpperCase()", "arr + ''", "obj == 1",
		"arr === arr", "hx * 1", "0x10 > 1", "`a${n}`", "n ?? 1", "obj?.x", "n ** 2", "/a/.test(t)", "n = 4",
		"t.includes('a', 1)", "ex == 1000", "'1.0' == 1", "n / z", "1 < 2 < 3", "n >= 3 <= 2", "new Date()", "'\\u0041' == 'A'", "010 > 1", "1_000", "x in obj", "n, 1",
	} {
		if checkExpr(t, r, src) {
			t.Errorf("%s: evaluated natively, want the sandbox", src)
		}
	}
}

// genExpr builds a random expression of the subset's shape (and some outside it).
func genExpr(rng *rand.Rand, depth int) string {
	leaves := []string{"0", "1", "2.5", "10", "1e21", "0.1", "-0", "3", "''", "'a'", "'10'", "' 12 '", "'abc'",
		"'0x1A'", "'1e3'", "'Infinity'", "'é'", "'true'", "true", "false", "null", "undefined", "NaN", "Infinity",
		"n", "f", "z", "neg", "big", "tiny", "i", "s", "e", "t", "sp", "hx", "ex", "inf", "u", "b", "no", "nl",
		"arr", "obj", "obj.x", "obj.y", "obj.nested.k", "obj.nested.k.length", "obj.missing", "arr[0]", "arr[2]",
		"arr.length", "t.length", "u.length", "t[1]", "s[0]"}
	if depth <= 0 || rng.IntN(4) == 0 {
		return leaves[rng.IntN(len(leaves))]
	}
	sub := func() string {
		x := genExpr(rng, depth-1)
		if rng.IntN(3) > 0 {
			return "(" + x + ")"
		}
		return x
	}
	switch rng.IntN(6) {
	case 0:
		return []string{"!", "-", "+", "typeof "}[rng.IntN(4)] + sub()
	case 1:
		return sub() + "." + []string{"includes", "startsWith", "endsWith"}[rng.IntN(3)] + "(" + genExpr(rng, depth-1) + ")"
	case 2:
		return sub() + " ? " + sub() + " : " + sub()
	case 3:
		return sub() + []string{".length", "[0]", "[1]", ".x"}[rng.IntN(4)]
	default:
		ops := []string{"===", "!==", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%"}
		return sub() + " " + ops[rng.IntN(len(ops))] + " " + sub()
	}
}

// TestNativeExprDifferential runs generated expressions through the native evaluator
// and goja and requires the same answer wherever the native side answers.
// STEELENGINE_EXPR_CASES raises the count (default 3000).
func TestNativeExprDifferential(t *testing.T) {
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("STEELENGINE_EXPR_CASES")); err == nil && v > 0 {
		n = v
	}
	r := sandbox.NewInProcess()
	rng := rand.New(rand.NewPCG(16, 1))
	answered := 0
	for range n {
		if checkExpr(t, r, genExpr(rng, 3)) {
			answered++
		}
		if t.Failed() {
			break
		}
	}
	if answered < n/3 {
		t.Fatalf("native evaluator answered %d of %d generated expressions", answered, n)
	}
	t.Logf("native evaluator answered %d of %d", answered, n)
}

func FuzzNativeExpr(f *testing.F) {
	for _, s := range []string{"n > 2 && t === 'abc'", "s == 10", "obj.nested.k.length", "t.includes(n)", "-z", "'1e3' * 1"} {
		f.Add(s)
	}
	r := sandbox.NewInProcess()
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 200 || strings.ContainsAny(src, "\x00") {
			return
		}
		checkExpr(t, r, src)
	})
}
