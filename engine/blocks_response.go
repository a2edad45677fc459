package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

var responseType = &blockType{run: runResponse}

// runResponse builds {data, status, headers}; completing it ends the run.
func runResponse(_ context.Context, x *execCtx) (map[string]any, error) {
	var data any
	mode := strings.ToLower(x.str("dataMode"))
	if mode == "json" {
		switch d := x.input["data"].(type) {
		case string:
			t := strings.TrimSpace(d)
			if t == "" {
				data = map[string]any{}
			} else if err := json.Unmarshal([]byte(t), &data); err != nil {
				data = d // Sim falls back to the string
			}
		case nil:
			data = map[string]any{}
		default:
			data = d
		}
	} else {
		obj, err := builderObject(x.input["builderData"])
		if err != nil {
			return nil, err
		}
		// Sim's response handler passes the built object through parseObjectStrings
		// (apps/sim/executor/handlers/response/response-handler.ts): a string field
		// holding JSON becomes its value ("5" → 5, "{\"a\":1}" → {a:1}).
		data = parseObjectStrings(obj)
	}
	status := 200
	if s := toInt(x.input["status"], 200); s >= 100 && s <= 599 {
		status = s
	}
	headers := map[string]any{}
	hasCT := false
	for k, v := range tableRows(x.input["headers"]) {
		headers[k] = v
		if strings.EqualFold(k, "content-type") {
			hasCT = true
		}
	}
	if !hasCT {
		headers["Content-Type"] = "application/json"
	}
	return map[string]any{"data": data, "status": float64(status), "headers": headers}, nil
}

// builderObject converts structured-mode rows [{name, type, value}] into an object,
// converting each value to its declared type.
func builderObject(v any) (map[string]any, error) {
	obj := map[string]any{}
	for _, r := range asSlice(parseMaybeJSON(v)) {
		m, _ := r.(map[string]any)
		name := strings.TrimSpace(toStr(m["name"]))
		if name == "" {
			continue
		}
		typ := toStr(m["type"])
		val := m["value"]
		if kids := asSlice(m["children"]); len(kids) > 0 && (typ == "object" || typ == "") {
			child, err := builderObject(kids)
			if err != nil {
				return nil, err
			}
			obj[name] = child
			continue
		}
		cv, err := convertTyped(typ, val)
		if err != nil {
			return nil, fmt.Errorf("response field %q: %w", name, err)
		}
		obj[name] = cv
	}
	return obj, nil
}

// convertTyped is the response builder's lenient conversion: values that do not parse
// are kept as given rather than failing the response.
func convertTyped(typ string, v any) (any, error) {
	s, isStr := v.(string)
	switch typ {
	case "number":
		if isStr {
			if strings.TrimSpace(s) == "" {
				return nil, nil
			}
			if f, ok := toNumber(s); ok {
				return f, nil
			}
		}
	case "boolean":
		if isStr {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				return true, nil
			case "false", "":
				return false, nil
			}
		}
	case "object", "array", "json", "files":
		if isStr {
			t := strings.TrimSpace(s)
			if t == "" {
				return nil, nil
			}
			var parsed any
			if json.Unmarshal([]byte(t), &parsed) == nil {
				return parsed, nil
			}
		}
	}
	return v, nil
}

func responseSpecOf(out map[string]any) *ResponseSpec {
	rs := &ResponseSpec{Status: toInt(out["status"], 200), Body: out["data"], Headers: map[string]string{}}
	if h, ok := out["headers"].(map[string]any); ok {
		for k, v := range h {
			rs.Headers[k] = toStr(v)
		}
	}
	return rs
}

// parseObjectStrings is Sim's parseObjectStrings (apps/sim/executor/utils/json.ts):
// every string that parses as JSON is replaced by the parsed value, recursively.
func parseObjectStrings(v any) any {
	switch x := v.(type) {
	case string:
		var parsed any
		if err := json.Unmarshal([]byte(x), &parsed); err != nil {
			return x
		}
		return parseObjectStrings(parsed)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = parseObjectStrings(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = parseObjectStrings(e)
		}
		return out
	}
	return v
}
