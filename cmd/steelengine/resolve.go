package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// obj is a JSON object as the API answers it.
type obj = map[string]any

// str reads a string field ("" when absent or not a string).
func str(m obj, key string) string {
	s, _ := m[key].(string)
	return s
}

// objs reads a list of objects.
func objs(m obj, key string) []obj {
	raw, _ := m[key].([]any)
	out := make([]obj, 0, len(raw))
	for _, v := range raw {
		if o, ok := v.(obj); ok {
			out = append(out, o)
		}
	}
	return out
}

// findByName resolves ref against a list the caller may see: an exact id, else a
// unique name (or email). A ref that matches nothing is passed on as an id, so the
// server answers for it (not found, or an id this caller cannot list).
func (cl *apiClient) findByName(ctx context.Context, path, listKey, nameKey, what, ref string) (string, error) {
	var page obj
	if err := cl.do(ctx, http.MethodGet, path, nil, nil, &page); err != nil {
		return "", err
	}
	var matches []string
	for _, o := range objs(page, listKey) {
		if str(o, "id") == ref {
			return ref, nil
		}
		if strings.EqualFold(str(o, nameKey), ref) {
			matches = append(matches, str(o, "id"))
		}
	}
	switch len(matches) {
	case 0:
		return ref, nil
	case 1:
		return matches[0], nil
	}
	return "", usagef("%s %q is ambiguous (%d match); use its id", what, ref, len(matches))
}

func (cl *apiClient) workspaceID(ctx context.Context, ref string) (string, error) {
	return cl.findByName(ctx, "/api/workspaces", "workspaces", "name", "workspace", ref)
}

func (cl *apiClient) orgID(ctx context.Context, ref string) (string, error) {
	return cl.findByName(ctx, "/api/organizations", "organizations", "name", "organization", ref)
}

// userID resolves an email (or id) through the instance's user list.
func (cl *apiClient) userID(ctx context.Context, ref string) (string, error) {
	var page obj
	if err := cl.do(ctx, http.MethodGet, "/api/admin/users", nil, nil, &page); err != nil {
		return "", err
	}
	for _, u := range objs(page, "users") {
		if str(u, "id") == ref || strings.EqualFold(str(u, "email"), ref) {
			return str(u, "id"), nil
		}
	}
	return "", fmt.Errorf("user %s not found", ref)
}

// setID resolves ref (an id, a name or an email; empty sets nothing) with resolve and
// puts the id into q under key: the optional owner filters of the list commands.
func setID(ctx context.Context, q url.Values, key, ref string, resolve func(context.Context, string) (string, error)) error {
	if ref == "" {
		return nil
	}
	id, err := resolve(ctx, ref)
	if err != nil {
		return err
	}
	q.Set(key, id)
	return nil
}
