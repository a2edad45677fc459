package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
)

// jsonRequested reports whether the command line asked for --json output, so failures
// are written as JSON too (scripts parse one format).
func jsonRequested(args []string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// writeJSONError writes {"error","code","details"?}, the HTTP API's error shape.
func writeJSONError(w io.Writer, err error) {
	body := map[string]any{"error": err.Error(), "code": "error"}
	var ce *core.Error
	var ve *engine.ValidationError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		body["error"] = ae.msg
		if ae.code != "" {
			body["code"] = ae.code
		}
		if len(ae.details) > 0 {
			body["details"] = ae.details
		}
	case errors.As(err, &ce):
		body["error"], body["code"] = ce.Message, ce.Code
		if ce.Details != nil {
			body["details"] = ce.Details
		}
	case errors.As(err, &ve):
		body["code"], body["details"] = "invalid_workflow", ve.Problems
	}
	body["error"] = strings.TrimSpace(body["error"].(string))
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}
