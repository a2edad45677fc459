package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/core"
)

// Instance user administration (instance administrators only, decided in auth).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/admin/users", a.adminListUsers)
		a.handle("POST /api/admin/users", a.adminCreateUser)
		a.handle("PATCH /api/admin/users/{id}", a.adminUpdateUser)
	})
}

func (a *API) adminListUsers(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	us, err := a.deps.Service.ListUsers(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, len(us))
	for i, u := range us {
		out[i] = userView(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (a *API) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Email         string `json:"email"`
		Name          string `json:"name"`
		Password      string `json:"password"`
		InstanceAdmin bool   `json:"instanceAdmin"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Email == "" {
		writeError(w, r, badRequest("email", "email is required"))
		return
	}
	u, err := a.deps.Service.CreateUser(r.Context(), p, core.NewUser{Email: body.Email, Name: body.Name, Password: body.Password, InstanceAdmin: body.InstanceAdmin})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": userView(u)})
}

func (a *API) adminUpdateUser(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name          *string `json:"name"`
		Email         *string `json:"email"`
		Password      *string `json:"password"`
		InstanceAdmin *bool   `json:"instanceAdmin"`
		Disabled      *bool   `json:"disabled"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	u, err := a.deps.Service.UpdateUser(r.Context(), p, r.PathValue("id"), core.UserPatch{
		Name: body.Name, Email: body.Email, Password: body.Password, InstanceAdmin: body.InstanceAdmin, Disabled: body.Disabled,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u)})
}
