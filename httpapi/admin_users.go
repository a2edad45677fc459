package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
)

// Instance user administration (instance administrators only, decided in auth).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/admin/users", a.adminListUsers())
		a.handle("POST /api/admin/users", a.adminCreateUser())
		a.handle("PATCH /api/admin/users/{id}", a.adminUpdateUser())
	})
}

func (a *API) adminListUsers() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		us, err := a.deps.Service.ListUsers(r.Context(), p)
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, len(us))
		for i, u := range us {
			out[i] = userView(u)
		}
		return reply{http.StatusOK, map[string]any{"users": out}}, nil
	})
}

type adminCreateUserBody struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Password      string `json:"password"`
	InstanceAdmin bool   `json:"instanceAdmin"`
}

func (a *API) adminCreateUser() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *adminCreateUserBody) (reply, error) {
		if b.Email == "" {
			return reply{}, badRequest("email", "email is required")
		}
		u, err := a.deps.Service.CreateUser(r.Context(), p, core.NewUser{Email: b.Email, Name: b.Name, Password: b.Password, InstanceAdmin: b.InstanceAdmin})
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusCreated, map[string]any{"user": userView(u)}}, nil
	})
}

type adminUpdateUserBody struct {
	Name          *string `json:"name"`
	Email         *string `json:"email"`
	Password      *string `json:"password"`
	InstanceAdmin *bool   `json:"instanceAdmin"`
	Disabled      *bool   `json:"disabled"`
}

func (a *API) adminUpdateUser() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *adminUpdateUserBody) (reply, error) {
		u, err := a.deps.Service.UpdateUser(r.Context(), p, r.PathValue("id"), core.UserPatch{
			Name: b.Name, Email: b.Email, Password: b.Password, InstanceAdmin: b.InstanceAdmin, Disabled: b.Disabled,
		})
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"user": userView(u)}}, nil
	})
}
