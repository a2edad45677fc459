package engine

import "strings"

// Price is what a model costs in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// DefaultPrices are list prices of common models (USD per million tokens, late 2026).
// Operators extend or override them (RunInput.Prices, the --model-prices file); a
// model not listed costs 0.
var DefaultPrices = map[string]Price{
	"gpt-4o":            {2.5, 10},
	"gpt-4o-mini":       {0.15, 0.6},
	"gpt-4.1":           {2, 8},
	"gpt-4.1-mini":      {0.4, 1.6},
	"gpt-4.1-nano":      {0.1, 0.4},
	"gpt-5":             {1.25, 10},
	"gpt-5-mini":        {0.25, 2},
	"gpt-5-nano":        {0.05, 0.4},
	"o3":                {2, 8},
	"o4-mini":           {1.1, 4.4},
	"claude-opus-4":     {15, 75},
	"claude-opus-4-1":   {15, 75},
	"claude-opus-4-5":   {5, 25},
	"claude-sonnet-4":   {3, 15},
	"claude-sonnet-4-5": {3, 15},
	"claude-sonnet-5":   {3, 15},
	"claude-haiku-4-5":  {1, 5},
	"claude-3-5-sonnet": {3, 15},
	"claude-3-5-haiku":  {0.8, 4},
	"claude-3-7-sonnet": {3, 15},
	"deepseek-chat":     {0.27, 1.1},
	"deepseek-reasoner": {0.55, 2.19},
}

// priceOf finds a model's price: an exact name, else the longest listed name the
// model starts with (dated snapshots such as claude-sonnet-4-5-20250929).
func priceOf(table map[string]Price, model string) (Price, bool) {
	m := strings.ToLower(model)
	if p, ok := table[m]; ok {
		return p, true
	}
	best, found := "", false
	var bp Price
	for name, p := range table {
		if strings.HasPrefix(m, name) && len(name) > len(best) {
			best, bp, found = name, p, true
		}
	}
	return bp, found
}

// costOut is Sim's cost output for the tokens a block used.
func (x *execCtx) costOut(model string, in, out float64) map[string]any {
	table := x.r.in.Prices
	if table == nil {
		table = DefaultPrices
	}
	p, _ := priceOf(table, model)
	ci, co := in*p.Input/1e6, out*p.Output/1e6
	return map[string]any{"input": ci, "output": co, "total": ci + co}
}

// PricesUpdatedAt dates DefaultPrices; Sim reports it as cost.pricing.updatedAt.
const PricesUpdatedAt = "2026-11-01"

// agentCostOut is costOut plus the price used, as Sim's agent output carries it
// (providers/types.ts ProviderResponse.cost.pricing); a model without a price has none.
func (x *execCtx) agentCostOut(model string, in, out float64) map[string]any {
	c := x.costOut(model, in, out)
	table := x.r.in.Prices
	if table == nil {
		table = DefaultPrices
	}
	if p, ok := priceOf(table, model); ok {
		c["pricing"] = map[string]any{"input": p.Input, "output": p.Output, "updatedAt": PricesUpdatedAt}
	}
	return c
}
