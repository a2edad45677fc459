package httpapi

import (
	"embed"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"sort"
	"sync"
)

// The OpenAPI 3.1 description of the API, served at GET /api/openapi.json. It is
// assembled from every embedded openapi*.json: openapi.json is the base document, and
// each further file (e.g. openapi_management.json) contributes its "paths" and
// "components" sections, so an endpoint group documents itself in its own file.
//
//go:embed openapi*.json
var openapiFS embed.FS

func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/openapi.json", a.openapi)
	})
}

var (
	openapiOnce sync.Once
	openapiDoc  []byte
	openapiErr  error
)

// OpenAPIDocument returns the merged OpenAPI document.
func OpenAPIDocument() ([]byte, error) {
	openapiOnce.Do(func() { openapiDoc, openapiErr = buildOpenAPI() })
	return openapiDoc, openapiErr
}

func buildOpenAPI() ([]byte, error) {
	base, err := readOpenAPIFile("openapi.json")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(openapiFS, "openapi*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "openapi.json" {
			continue
		}
		part, err := readOpenAPIFile(name)
		if err != nil {
			return nil, err
		}
		mergeSection(base, part, "paths")
		comps, _ := part["components"].(map[string]any)
		for kind := range comps {
			baseComps := ensureMap(base, "components")
			mergeSection(baseComps, comps, kind)
		}
		if tags, ok := part["tags"].([]any); ok {
			baseTags, _ := base["tags"].([]any)
			base["tags"] = append(baseTags, tags...)
		}
	}
	return json.MarshalIndent(base, "", "  ")
}

func readOpenAPIFile(name string) (map[string]any, error) {
	b, err := openapiFS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func ensureMap(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

// mergeSection adds src[key]'s entries to dst[key]; for paths, methods of one path
// from different files are combined.
func mergeSection(dst, src map[string]any, key string) {
	from, ok := src[key].(map[string]any)
	if !ok {
		return
	}
	to := ensureMap(dst, key)
	for k, v := range from {
		existing, ok1 := to[k].(map[string]any)
		add, ok2 := v.(map[string]any)
		if key == "paths" && ok1 && ok2 {
			maps.Copy(existing, add)
			continue
		}
		to[k] = v
	}
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	doc, err := OpenAPIDocument()
	if err != nil {
		a.log.Error("openapi document", "err", err)
		writeError(w, r, errInternal)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(doc)
}
