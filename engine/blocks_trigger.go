package engine

import "context"

// triggerType runs schedule and webhook triggers: Sim's external-trigger start path
// (executor/utils/start-block.ts buildIntegrationTriggerOutput). The output is the
// input-format fields, coerced, plus every key of the payload that is not one of them;
// a schedule's payload is empty, a webhook's is the request body (and query).
var triggerType = &blockType{
	raw: map[string]bool{"inputFormat": true},
	compile: func(p *Plan, n *node) error {
		n.ext = &startPlan{fields: inputFields(n.b)}
		return nil
	},
	run: func(_ context.Context, x *execCtx) (map[string]any, error) {
		sp := x.n.ext.(*startPlan)
		in := payloadObject(x.r.in.Input)
		x.input = in
		fields := structuredInput(sp.fields, in)
		out := make(map[string]any, len(in)+len(fields))
		for k, v := range fields {
			out[k] = v
		}
		for k, v := range in {
			if _, structured := fields[k]; !structured {
				out[k] = v
			}
		}
		return out, nil
	},
}
