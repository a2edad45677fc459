package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// reservedInputNames collide with fields the executor reads from block outputs.
var reservedInputNames = map[string]bool{"error": true, "selectedOption": true, "selectedRoute": true, "_pauseMetadata": true}

type startPlan struct {
	fields []InputField
}

var startType = &blockType{
	raw: map[string]bool{"inputFormat": true},
	compile: func(p *Plan, n *node) error {
		sp := &startPlan{fields: inputFields(n.b)}
		var bad []string
		for _, f := range sp.fields {
			if reservedInputNames[f.Name] {
				bad = append(bad, f.Name)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("input field name(s) %s are reserved", strings.Join(bad, ", "))
		}
		n.ext = sp
		return nil
	},
	run: runStart,
}

// runStart builds the trigger's output from the caller's payload: each input-format
// field from input[name] (else payload[name]), else its default, coerced to its type;
// plus every other key of the payload (Sim's executor/utils/start-block.ts).
func runStart(_ context.Context, x *execCtx) (map[string]any, error) {
	sp := x.n.ext.(*startPlan)
	in := payloadObject(x.r.in.Input)
	x.input = in
	out := make(map[string]any, len(in)+len(sp.fields)+3)
	for k, v := range in {
		if !reservedInputNames[k] {
			out[k] = v
		}
	}
	fields := structuredInput(sp.fields, in)
	for k, v := range fields {
		out[k] = v
	}
	switch x.n.typ {
	case TypeStartTrigger:
		if _, ok := in["input"]; !ok {
			out["input"] = fields
		}
		if _, ok := out["conversationId"]; !ok {
			out["conversationId"] = nil
		}
		if _, ok := out["files"]; !ok {
			out["files"] = nil
		}
	case TypeAPITrigger, TypeInputTrigger:
		out["input"] = fields
	case TypeStarter:
		if _, ok := out["input"]; !ok {
			out["input"] = in
		}
	}
	return out, nil
}

func payloadObject(input map[string]any) map[string]any {
	in, _ := cloneJSON(input).(map[string]any)
	if in == nil {
		in = map[string]any{}
	}
	return in
}

// structuredInput is Sim's deriveInputFromFormat: each field from payload.input[name],
// else payload[name], else its default, through coerceValue.
func structuredInput(fields []InputField, in map[string]any) map[string]any {
	nested, _ := in["input"].(map[string]any)
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		v, ok := nested[f.Name]
		if !ok {
			v = in[f.Name]
		}
		if v == nil {
			v = f.Default
		}
		out[f.Name] = coerceValue(f.Type, v)
	}
	return out
}

// coerceValue is Sim's coerceValue (executor/utils/start-block.ts): it converts what it
// can and passes anything else through unchanged, so a wrong type reaches the workflow
// instead of failing the run.
func coerceValue(typ string, v any) any {
	if v == nil {
		return nil
	}
	switch typ {
	case "string":
		if s, ok := v.(string); ok {
			return s
		}
		return jsString(v)
	case "number":
		switch x := v.(type) {
		case float64:
			return x
		case bool:
			if x {
				return 1.0
			}
			return 0.0
		case string:
			if f, ok := jsNumberFromString(x); ok {
				return f
			}
		}
		return v
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x
		case string:
			if x == "true" || x == "1" {
				return true
			}
			if x == "false" || x == "0" {
				return false
			}
		case float64:
			if x == 1 {
				return true
			}
			if x == 0 {
				return false
			}
		}
		return v
	case "object", "array":
		if s, ok := v.(string); ok {
			var parsed any
			if err := json.Unmarshal([]byte(s), &parsed); err == nil {
				return parsed
			}
		}
		return v
	}
	return v
}

// jsNumberFromString is JavaScript's Number(string) for the forms JSON can carry: blank
// is 0, decimal and 0x/0o/0b literals parse, anything else is NaN (false).
func jsNumberFromString(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			n, err := strconv.ParseUint(s[2:], base, 64)
			return float64(n), err == nil
		}
	}
	if strings.ContainsAny(s, "_nN") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "i") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "I") {
		return 0, false // Go accepts 1_000, NaN, Inf; JavaScript does not (Infinity has no JSON form)
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// jsString is JavaScript's String(v) for JSON values.
func jsString(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if e != nil {
				parts[i] = jsString(e)
			}
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return "[object Object]"
	}
	return formatValue(v)
}

func describe(v any) string {
	s := formatValue(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%T %q", v, s)
}
