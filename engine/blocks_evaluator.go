package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

var evaluatorType = &blockType{run: runEvaluator}

// evaluatorTemperature is Sim's EVALUATOR.DEFAULT_TEMPERATURE.
var evaluatorTemperature = 0.1

var jsonObjectIn = regexp.MustCompile(`(?s)\{.*\}`)

// runEvaluator asks the model to score content against metrics ({name, description,
// range{min,max}}) with Sim's prompt and schema. Output: {content, model, tokens, cost}
// plus one number per metric under its lower-cased name (0 when the model gave none).
func runEvaluator(ctx context.Context, x *execCtx) (map[string]any, error) {
	var metrics []map[string]any
	for _, m := range asSlice(parseMaybeJSON(x.input["metrics"])) {
		if mm, ok := m.(map[string]any); ok && toStr(mm["name"]) != "" {
			metrics = append(metrics, mm)
		}
	}
	ep, err := x.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	content := evaluatorContent(x.input["content"])
	var desc []string
	props := map[string]any{}
	var required []any
	for _, m := range metrics {
		name := toStr(m["name"])
		if rg, ok := m["range"].(map[string]any); ok {
			desc = append(desc, fmt.Sprintf("%q (%s-%s): %s", name, toStr(rg["min"]), toStr(rg["max"]), toStr(m["description"])))
		}
		props[strings.ToLower(name)] = map[string]any{"type": "number"}
		required = append(required, strings.ToLower(name))
	}
	if required == nil {
		required = []any{}
	}
	system := `You are an evaluation agent. Analyze this content against the metrics and provide scores.
      
    Metrics:
    ` + strings.Join(desc, "\n") + `

    Content:
    ` + content + `

    Return a JSON object with each metric name as a key and a numeric score as the value. No explanations, only scores.`
	rep, err := x.callModel(ctx, ep, llmRequest{
		Messages: []llmMessage{{Role: "system", Content: system},
			{Role: "user", Content: "Please evaluate the content provided in the system prompt. Return ONLY a valid JSON with metric scores."}},
		Temperature: &evaluatorTemperature, SchemaName: "evaluation_response",
		Schema: map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false},
	})
	if err != nil {
		return nil, err
	}
	parsed := map[string]any{}
	if js := jsonObjectIn.FindString(rep.Content); js != "" {
		_ = json.Unmarshal([]byte(js), &parsed)
	}
	out := map[string]any{"content": x.input["content"], "model": rep.Model, "tokens": tokensOut(rep.InputTokens, rep.OutputTokens),
		"cost": x.costOut(rep.Model, rep.InputTokens, rep.OutputTokens)}
	for _, m := range metrics {
		name := toStr(m["name"])
		out[strings.ToLower(name)] = metricScore(parsed, name)
	}
	return out, nil
}

// metricScore finds a metric in the reply by exact, lower-cased or case-insensitive
// name, as Sim does; a missing or non-numeric score is 0.
func metricScore(parsed map[string]any, name string) float64 {
	v, ok := parsed[name]
	if !ok {
		v, ok = parsed[strings.ToLower(name)]
	}
	if !ok {
		for k, val := range parsed {
			if strings.EqualFold(k, name) {
				v, ok = val, true
				break
			}
		}
	}
	if f, isNum := toNumber(v); ok && isNum {
		return f
	}
	return 0
}

func evaluatorContent(v any) string {
	switch t := v.(type) {
	case string:
		var parsed any
		if json.Unmarshal([]byte(t), &parsed) == nil {
			if b, err := json.Marshal(parsed); err == nil {
				return string(b)
			}
		}
		return t
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
