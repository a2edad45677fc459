package engine

import (
	"context"
	"encoding/json"
	"fmt"
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
// field from input[name] (or payload.input[name]), else its default, coerced to its type;
// plus every other key of the payload.
func runStart(_ context.Context, x *execCtx) (map[string]any, error) {
	sp := x.n.ext.(*startPlan)
	payload := cloneJSON(x.r.in.Input)
	in, _ := payload.(map[string]any)
	if in == nil {
		in = map[string]any{}
	}
	x.input = in
	out := make(map[string]any, len(in)+len(sp.fields)+3)
	for k, v := range in {
		if !reservedInputNames[k] {
			out[k] = v
		}
	}
	nested, _ := in["input"].(map[string]any)
	fields := make(map[string]any, len(sp.fields))
	var errs []string
	for _, f := range sp.fields {
		v, ok := in[f.Name]
		if !ok && nested != nil {
			v, ok = nested[f.Name]
		}
		if !ok || v == nil {
			v = f.Default
		}
		cv, err := coerceInput(f.Type, v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("input %q: %v", f.Name, err))
			continue
		}
		out[f.Name] = cv
		fields[f.Name] = cv
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid workflow input: %s", strings.Join(errs, "; "))
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

// coerceInput converts a caller value to the declared input type.
func coerceInput(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "number":
		switch x := v.(type) {
		case float64:
			return x, nil
		case string:
			if strings.TrimSpace(x) == "" {
				return nil, nil
			}
			if f, ok := toNumber(x); ok {
				return f, nil
			}
		case bool, int, int64, float32, json.Number:
			f, _ := toNumber(x)
			return f, nil
		}
		return nil, fmt.Errorf("expected a number, got %s", describe(v))
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "1", "yes":
				return true, nil
			case "false", "0", "no", "":
				return false, nil
			}
		case float64:
			return x != 0, nil
		}
		return nil, fmt.Errorf("expected a boolean, got %s", describe(v))
	case "object", "array":
		if s, ok := v.(string); ok {
			if strings.TrimSpace(s) == "" {
				return nil, nil
			}
			var parsed any
			if err := json.Unmarshal([]byte(s), &parsed); err != nil {
				return nil, fmt.Errorf("expected %s JSON, got %s", typ, describe(v))
			}
			v = parsed
		}
		if _, isMap := v.(map[string]any); typ == "object" && !isMap {
			return nil, fmt.Errorf("expected an object, got %s", describe(v))
		}
		if _, isArr := v.([]any); typ == "array" && !isArr {
			return nil, fmt.Errorf("expected an array, got %s", describe(v))
		}
		return v, nil
	case "string":
		switch v.(type) {
		case string:
			return v, nil
		case float64, bool:
			return formatValue(v), nil
		}
		return v, nil // objects pass through: Sim does not reject them
	}
	return v, nil // files, file[] and unknown types pass through
}

func describe(v any) string {
	s := formatValue(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%T %q", v, s)
}
